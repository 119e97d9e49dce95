//! Property tests of the head parser: whatever bytes a sandboxed program sends, a head that
//! parses holds only clean fields (so what the proxy forwards reads the same to every HTTP
//! implementation), and a head it writes parses back to itself. `PROPTEST_CASES` raises the
//! number of cases (CI runs the default 256).

use proptest::prelude::*;

use super::{Framing, Head};

/// Bytes that look like an HTTP head often enough to reach every branch.
fn head_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"GET / HTTP/1.1".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(vec![0]),
        Just(b"Content-Length".to_vec()),
        Just(b"Transfer-Encoding: chunked".to_vec()),
        Just(b"Host: example.com".to_vec()),
        "[A-Za-z0-9-]{1,10}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}"
}

/// A field value as a sender may write it: visible characters with inner spaces and tabs.
fn value() -> impl Strategy<Value = String> {
    "([!-~]([ \t!-~]{0,20}[!-~])?)?"
}

proptest! {
    #[test]
    fn parsed_heads_hold_only_clean_fields(bytes in head_bytes()) {
        let Ok(head) = Head::parse(&bytes) else {
            return Ok(());
        };
        let clean = |text: &str| !text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
        prop_assert!(clean(&head.start_line), "start line {:?}", head.start_line);
        for (name, value) in &head.headers {
            prop_assert!(is_token(name), "header name {:?}", name);
            prop_assert!(clean(value), "header value {:?}", value);
        }
        // Framing is decided without panicking, whatever the fields say.
        let _ = head.request_framing();
        let _ = head.response_framing(false);
        // What the proxy writes reads back the same.
        prop_assert_eq!(Head::parse(&head.to_bytes()).unwrap(), head);
    }

    #[test]
    fn written_heads_parse_back(
        method in "[A-Z]{1,8}",
        target in "/[!-~]{0,30}",
        headers in proptest::collection::vec((token(), value()), 0..8),
    ) {
        let head = Head {
            start_line: format!("{method} {target} HTTP/1.1"),
            headers,
        };
        let parsed = Head::parse(&head.to_bytes()).unwrap();
        prop_assert_eq!(parsed.request_line(), (method.as_str(), target.as_str(), "HTTP/1.1"));
        prop_assert_eq!(parsed, head);
    }

    #[test]
    fn chunked_wins_over_any_length(length in "[0-9]{1,5}", first in any::<bool>()) {
        let (a, b) = (("Content-Length".to_owned(), length), ("Transfer-Encoding".to_owned(), "chunked".to_owned()));
        let headers = if first { vec![a, b] } else { vec![b, a] };
        let head = Head { start_line: "POST / HTTP/1.1".into(), headers };
        prop_assert_eq!(head.request_framing().unwrap(), Framing::Chunked);
    }
}
