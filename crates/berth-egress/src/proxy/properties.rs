//! Property tests of the proxy's request handling, end to end: whatever bytes a sandboxed
//! program sends, the proxy answers or closes without panicking, and what reaches the
//! destination is exactly one clean HTTP/1.1 request — CRLF line ends only, no control
//! characters, token header names, and a body that ends where its framing says — so no second
//! request can be smuggled past the proxy's checks. `PROPTEST_CASES` raises the number of
//! cases (CI runs the default 256).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use berth_net::EgressPolicy;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{EgressRules, ProxyState, serve_connection};
use crate::hosts::HostRules;
use crate::secrets::SharedSecrets;

/// Request bytes that look like HTTP often enough to reach every branch: a request line to the
/// destination, then pieces of heads and bodies with stray line ends and control characters.
fn request_bytes() -> impl Strategy<Value = (String, Vec<u8>)> {
    let method = prop_oneof![
        3 => Just("GET"),
        3 => Just("POST"),
        1 => Just("HEAD"),
        2 => Just("CONNECT"),
        1 => Just("G\rET"),
    ];
    let target = prop_oneof![
        4 => Just("http://127.0.0.1:{port}/a"),
        2 => Just("http://127.0.0.1:{port}"),
        1 => Just("/relative"),
        2 => Just("127.0.0.1:{port}"),
        1 => Just("http://127.0.0.1:{port}/a\r\nX: y"),
    ];
    let piece = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(vec![0]),
        Just(b"Content-Length: 5".to_vec()),
        Just(b"Content-Length: 2".to_vec()),
        Just(b"Transfer-Encoding: chunked".to_vec()),
        Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
        Just(b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Just(b"Host: 127.0.0.1".to_vec()),
        "[A-Za-z0-9-]{1,10}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    let field = prop_oneof![
        Just(b"Host: 127.0.0.1\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        "[A-Za-z-]{1,8}: [ -~]{0,12}\r\n".prop_map(String::into_bytes),
    ];
    let fields = proptest::collection::vec(prop_oneof![3 => field, 1 => piece.clone()], 0..12);
    let body = proptest::collection::vec(piece, 0..12);
    (method, target, fields, any::<bool>(), body).prop_map(
        |(method, target, fields, end_head, body)| {
            let head = format!("{method} {target} HTTP/1.1\r\n");
            let mut rest = fields.concat();
            if end_head {
                rest.extend_from_slice(b"\r\n");
            }
            rest.extend(body.concat());
            (head, rest)
        },
    )
}

/// What one destination received, read until the request it framed is complete (or the
/// connection closes, or nothing more comes).
async fn received(listener: &TcpListener) -> Option<Vec<u8>> {
    let accepted = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
    let (mut stream, _) = accepted.ok()?.ok()?;
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    while !complete(&bytes) {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => bytes.extend_from_slice(&buffer[..n]),
            _ => break,
        }
    }
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        .await;
    Some(bytes)
}

/// The head's fields, if it has ended.
fn head_of(bytes: &[u8]) -> Option<(usize, Vec<(String, String)>)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&bytes[..end]);
    let fields = text
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((end, fields))
}

fn complete(bytes: &[u8]) -> bool {
    let Some((end, fields)) = head_of(bytes) else {
        return false;
    };
    let body = &bytes[end..];
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    if field("transfer-encoding").is_some() {
        return body.ends_with(b"0\r\n\r\n");
    }
    match field("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(length) => body.len() >= length,
        None => true,
    }
}

/// Checks that `bytes` is one clean request; the reason when it is not.
fn one_clean_request(bytes: &[u8]) -> Result<(), String> {
    let (end, fields) = head_of(bytes).ok_or("the head never ended")?;
    let head = &bytes[..end];
    for (i, byte) in head.iter().enumerate() {
        let cr_ok = *byte != b'\r' || head.get(i + 1) == Some(&b'\n');
        let lf_ok = *byte != b'\n' || (i > 0 && head[i - 1] == b'\r');
        let control_ok = !byte.is_ascii_control() || matches!(byte, b'\r' | b'\n' | b'\t');
        if !(cr_ok && lf_ok && control_ok) {
            return Err(format!("byte {byte:#04x} at {i} of the head"));
        }
    }
    let text = String::from_utf8_lossy(head);
    for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let (name, _) = line.split_once(':').ok_or(format!("line {line:?}"))?;
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(format!("header name {name:?}"));
        }
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = &bytes[end..];
    if field("transfer-encoding").is_some() {
        if field("content-length").is_some() {
            return Err("both a length and chunks".into());
        }
        let last_chunk = body.windows(5).position(|w| w == b"0\r\n\r\n");
        if last_chunk.map(|at| at + 5) != Some(body.len()) {
            return Err("bytes after the last chunk".into());
        }
        return Ok(());
    }
    let length = field("content-length").map_or(Ok(0), |v| v.parse::<usize>());
    match length {
        Ok(length) if length == body.len() => Ok(()),
        _ => Err(format!(
            "a body of {} bytes for a length of {:?}",
            body.len(),
            field("content-length")
        )),
    }
}

/// Sends `head` (with `{port}` for the destination's) and `rest` through the proxy; returns
/// what reached the destination.
fn run(head: &str, rest: &[u8]) -> Result<Option<Vec<u8>>, TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    runtime.block_on(async {
        let destination = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = destination.local_addr().unwrap().port();
        let arrived = tokio::spawn(async move { received(&destination).await });
        let rules = EgressRules {
            hosts: HostRules::Only(vec!["127.0.0.1".into()]),
            policy: EgressPolicy::default(),
            loopback_ports: vec![port],
        };
        let state = ProxyState {
            rules: Arc::new(RwLock::new(rules.clone())),
            secrets: SharedSecrets::default(),
            interception: None,
        };
        let (mut sandbox, proxy_end) = tokio::io::duplex(64 * 1024);
        let proxy = tokio::spawn(serve_connection(proxy_end, rules, state));
        let mut request = head.replace("{port}", &port.to_string()).into_bytes();
        request.extend_from_slice(rest);
        let _ = sandbox.write_all(&request).await;
        let _ = sandbox.shutdown().await;
        // The proxy answers after the destination has (if it got that far), then closes.
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), sandbox.read_to_end(&mut answer)).await;
        let arrived = if arrived.is_finished() {
            arrived.await.ok().flatten()
        } else {
            arrived.abort();
            None
        };
        let finished = tokio::time::timeout(Duration::from_secs(10), proxy).await;
        prop_assert!(
            matches!(finished, Ok(Ok(()))),
            "the proxy did not finish cleanly: {finished:?}"
        );
        prop_assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
            "answer {:?}",
            String::from_utf8_lossy(&answer)
        );
        // What goes through a tunnel is the sandbox's own business (TLS, mostly); everything
        // else must reach the destination as one clean request.
        let tunnelled = head.starts_with("CONNECT ") && answer.starts_with(b"HTTP/1.1 200");
        if let Some(bytes) = arrived.filter(|b| !b.is_empty() && !tunnelled) {
            let verdict = one_clean_request(&bytes);
            prop_assert!(
                verdict.is_ok(),
                "{:?} reached the destination: {}",
                String::from_utf8_lossy(&bytes),
                verdict.unwrap_err()
            );
            return Ok(Some(bytes));
        }
        Ok(None)
    })
}

proptest! {
    #[test]
    fn only_clean_single_requests_reach_destinations((head, rest) in request_bytes()) {
        run(&head, &rest)?;
    }
}

#[test]
fn a_smuggling_attempt_is_forwarded_as_one_request() {
    // Both a length and chunks: the chunks frame the body and the length is dropped, so the
    // request after them is not sent on as a second one.
    let rest = b"Host: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
                 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let arrived = run("POST http://127.0.0.1:{port}/a HTTP/1.1\r\n", rest)
        .unwrap()
        .expect("the request reached the destination");
    let text = String::from_utf8_lossy(&arrived);
    assert!(text.starts_with("POST /a HTTP/1.1\r\n"), "{text}");
    assert!(!text.contains("/smuggled"), "{text}");
}
