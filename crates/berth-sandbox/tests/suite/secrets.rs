//! Secrets injected by the egress proxy: commands see placeholders only; the destinations a
//! secret allows receive the real value (plain HTTP and intercepted HTTPS), every other
//! destination receives the placeholder.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use berth_sandbox::{
    HostRules, InjectedSecret, Isolation, NetworkAccess, SANDBOX_CA_BUNDLE, SANDBOX_CA_CERT,
    Sandbox, SandboxSettings, Sandboxes, find_bubblewrap,
};
use pretty_assertions::assert_eq;

use super::upstream::{self, Upstream};
use crate::run;

const VALUE: &str = "s3cr3t-VALUE-9f8e7d";
const OTHER_VALUE: &str = "second-VALUE-1a2b3c";

struct Fixture {
    sandboxes: Sandboxes,
    root: tempfile::TempDir,
}

fn fixture(loopback_ports: &[u16], upstream_roots_pem: Vec<String>) -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let bwrap = find_bubblewrap().expect("bubblewrap is installed (apt-get install bubblewrap)");
    let mut settings =
        SandboxSettings::new(root.path().join("sandboxes"), Isolation::Bubblewrap(bwrap));
    settings.hidden = vec![root.path().to_owned()];
    settings.ca_dir = Some(root.path().join("sandbox-ca"));
    settings.loopback_ports = loopback_ports.to_vec();
    settings.upstream_roots_pem = upstream_roots_pem;
    Fixture {
        sandboxes: Sandboxes::new(settings),
        root,
    }
}

/// A sandbox whose environment allows both names of the loopback, or `None` where the
/// machine gives sandboxes no network (not root).
fn open(f: &Fixture, session: &str) -> Option<Arc<Sandbox>> {
    let hosts = HostRules::Only(vec!["localhost".into(), "127.0.0.1".into()]);
    let sandbox = f
        .sandboxes
        .open(session, crate::fresh_uid(), NetworkAccess::Proxied(hosts))
        .unwrap();
    if !sandbox.has_network() {
        eprintln!("skipped: sandboxes have no network here (not root)");
        return None;
    }
    Some(sandbox)
}

/// `API_TOKEN` for `localhost` only, in headers and bodies; `PLAIN_TOKEN` for `localhost`,
/// headers only.
fn secrets() -> (InjectedSecret, InjectedSecret) {
    let mut api = InjectedSecret::new("API_TOKEN", VALUE);
    api.hosts = Some(vec!["LocalHost".into()]);
    api.in_body = true;
    let mut plain = InjectedSecret::new("PLAIN_TOKEN", OTHER_VALUE);
    plain.hosts = Some(vec!["localhost".into()]);
    plain.in_body = false;
    (api, plain)
}

/// Runs a command in the sandbox and returns its output, checking it succeeded.
async fn ok(sandbox: &Sandbox, command: &str) -> String {
    let (code, out, _) = run(sandbox, command, 30).await;
    assert_eq!(code, 0, "{command}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_gets_the_value_only_where_the_secret_allows() {
    let mut server = upstream::http().await;
    let port = server.port;
    let f = fixture(&[port], Vec::new());
    let Some(sandbox) = open(&f, "sesn_plain") else {
        return;
    };
    let (api, plain) = secrets();
    let (api_placeholder, plain_placeholder) = (api.placeholder.clone(), plain.placeholder.clone());
    sandbox.set_secrets(vec![api, plain]).unwrap();

    // (a) Commands see the placeholder, never the value.
    let out = ok(&sandbox, "echo $API_TOKEN; echo $PLAIN_TOKEN; env").await;
    assert!(
        out.starts_with(&format!("{api_placeholder}\n{plain_placeholder}\n")),
        "{out}"
    );
    assert!(!out.contains(VALUE) && !out.contains(OTHER_VALUE), "{out}");

    // (b) A header to the allowed host arrives with the value.
    let curl = format!("curl -sS -m 10 --noproxy '' http://localhost:{port}");
    let out = ok(
        &sandbox,
        &format!("{curl}/h -H \"Authorization: Bearer $API_TOKEN\""),
    )
    .await;
    assert_eq!(out, "ok");
    let got = server.next().await;
    assert_eq!(got.request_line, "GET /h HTTP/1.1");
    assert_eq!(
        got.header("authorization"),
        Some(&*format!("Bearer {VALUE}"))
    );
    assert_eq!(got.header("connection"), Some("close"));
    assert!(got.header("proxy-connection").is_none());

    // (c) A body carries the value only for a secret with `in_body`, with its length right.
    let out = ok(
        &sandbox,
        &format!("{curl}/b -X POST --data \"a=$API_TOKEN&b=$PLAIN_TOKEN&c=$API_TOKEN\""),
    )
    .await;
    assert_eq!(out, "ok");
    let got = server.next().await;
    let expected = format!("a={VALUE}&b={plain_placeholder}&c={VALUE}");
    assert_eq!(String::from_utf8_lossy(&got.body), expected);
    assert_eq!(
        got.header("content-length"),
        Some(&*expected.len().to_string())
    );

    // Chunked bodies (here larger than curl's `Expect: 100-continue` threshold) arrive
    // de-chunked, substituted, with a Content-Length.
    let padding = "x".repeat(3000);
    ok(
        &sandbox,
        &format!(
            "printf '%s' \"{padding}${{API_TOKEN}}{padding}\" > body.txt && \
             {curl}/c -X POST -H 'Transfer-Encoding: chunked' --data-binary @body.txt"
        ),
    )
    .await;
    let got = server.next().await;
    let expected = format!("{padding}{VALUE}{padding}");
    assert_eq!(String::from_utf8_lossy(&got.body), expected);
    assert_eq!(
        got.header("content-length"),
        Some(&*expected.len().to_string())
    );
    assert!(got.header("transfer-encoding").is_none());
    assert!(got.header("expect").is_none());

    // A secret without `in_body` goes into headers only; its placeholder in a body stays.
    let out = ok(
        &sandbox,
        &format!("{curl}/p -H \"X-Plain: $PLAIN_TOKEN\" --data \"$PLAIN_TOKEN\""),
    )
    .await;
    assert_eq!(out, "ok");
    let got = server.next().await;
    assert_eq!(got.header("x-plain"), Some(OTHER_VALUE));
    assert_eq!(got.body, plain_placeholder.as_bytes());

    // (d) The same server under a name the secret does not allow gets the placeholder.
    let out = ok(
        &sandbox,
        &format!(
            "curl -sS -m 10 --noproxy '' http://127.0.0.1:{port}/d \
             -H \"Authorization: Bearer $API_TOKEN\" --data \"$API_TOKEN\""
        ),
    )
    .await;
    assert_eq!(out, "ok");
    let got = server.next().await;
    assert_eq!(
        got.header("authorization"),
        Some(&*format!("Bearer {api_placeholder}"))
    );
    assert_eq!(got.body, api_placeholder.as_bytes());
    assert!(!got.text().contains(VALUE), "{}", got.text());

    // A Host header naming another server than the one connected to gets no secret.
    ok(
        &sandbox,
        &format!("{curl}/f -H 'Host: elsewhere.test' -H \"Authorization: Bearer $API_TOKEN\""),
    )
    .await;
    let got = server.next().await;
    assert_eq!(got.header("host"), Some("elsewhere.test"));
    assert_eq!(
        got.header("authorization"),
        Some(&*format!("Bearer {api_placeholder}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_an_allowed_host_is_intercepted_with_a_ca_only_sandboxes_trust() {
    let (mut server, test_ca) = upstream::https().await;
    let port = server.port;
    let f = fixture(&[port], vec![test_ca]);
    let Some(sandbox) = open(&f, "sesn_tls") else {
        return;
    };
    assert!(sandbox.intercepts_tls());
    let (api, _) = secrets();
    let placeholder = api.placeholder.clone();
    sandbox.set_secrets(vec![api]).unwrap();

    // (e) curl verifies the proxy's certificate with the bundle the sandbox was given.
    let out = ok(
        &sandbox,
        &format!(
            "curl -sS -m 10 --noproxy '' https://localhost:{port}/tls \
             -H \"Authorization: Bearer $API_TOKEN\" --data \"k=$API_TOKEN\""
        ),
    )
    .await;
    assert_eq!(out, "ok");
    let got = server.next().await;
    assert_eq!(got.request_line, "POST /tls HTTP/1.1");
    assert_eq!(
        got.header("authorization"),
        Some(&*format!("Bearer {VALUE}"))
    );
    assert_eq!(String::from_utf8_lossy(&got.body), format!("k={VALUE}"));

    // Python's urllib, through HTTPS_PROXY and SSL_CERT_FILE alone.
    let script = format!(
        "import os, urllib.request\n\
         r = urllib.request.Request('https://localhost:{port}/py', \
         headers={{'X-Key': os.environ['API_TOKEN']}})\n\
         print(urllib.request.urlopen(r, timeout=10).read().decode())"
    );
    let out = ok(
        &sandbox,
        &format!("NO_PROXY= no_proxy= python3 -c \"{script}\""),
    )
    .await;
    assert_eq!(out, "ok\n");
    assert_eq!(server.next().await.header("x-key"), Some(VALUE));

    // A host the secret does not allow is tunnelled blind: the sandbox talks to the server
    // itself (whose CA it does not trust), and the placeholder is what arrives.
    let blind = format!("curl -sS -m 10 --noproxy '' https://127.0.0.1:{port}/blind");
    let (code, out, _) = run(&sandbox, &format!("{blind} -H \"X-Key: $API_TOKEN\""), 30).await;
    assert_ne!(code, 0, "the test CA is not trusted in the sandbox: {out}");
    let out = ok(&sandbox, &format!("{blind} -k -H \"X-Key: $API_TOKEN\"")).await;
    assert_eq!(out, "ok");
    let got = server.next().await;
    assert_eq!(got.request_line, "GET /blind HTTP/1.1");
    assert_eq!(got.header("x-key"), Some(placeholder.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_secrets_apply_from_the_next_request() {
    let mut server = upstream::http().await;
    let port = server.port;
    let f = fixture(&[port], Vec::new());
    let Some(sandbox) = open(&f, "sesn_replace") else {
        return;
    };
    let (api, _) = secrets();
    let old_placeholder = api.placeholder.clone();
    sandbox.set_secrets(vec![api]).unwrap();
    // Any host now (`hosts: None`).
    let rotated = InjectedSecret::new("API_TOKEN", "rotated-VALUE-000");
    let new_placeholder = rotated.placeholder.clone();
    sandbox.set_secrets(vec![rotated]).unwrap();

    let out = ok(
        &sandbox,
        &format!(
            "echo $API_TOKEN; curl -sS -m 10 --noproxy '' http://localhost:{port}/ \
             -H \"X-New: $API_TOKEN\" -H 'X-Old: {old_placeholder}'"
        ),
    )
    .await;
    assert_eq!(out, format!("{new_placeholder}\nok"));
    let got = server.next().await;
    assert_eq!(got.header("x-new"), Some("rotated-VALUE-000"));
    assert_eq!(got.header("x-old"), Some(old_placeholder.as_str()));
    assert!(!got.text().contains(VALUE));

    sandbox.set_secrets(Vec::new()).unwrap();
    let out = ok(&sandbox, "echo ${API_TOKEN:-unset}").await;
    assert_eq!(out, "unset\n");

    let bad = InjectedSecret::new("NOT A NAME", "v");
    assert!(sandbox.set_secrets(vec![bad]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_is_made_once_per_installation_and_shown_to_sandboxes_only() {
    let f = fixture(&[], Vec::new());
    let Some(sandbox) = open(&f, "sesn_ca") else {
        return;
    };
    let pem = f.sandboxes.ca_certificate_pem().unwrap().to_owned();
    let ca_dir = f.root.path().join("sandbox-ca");
    let key_mode = std::fs::metadata(ca_dir.join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);

    // A restart loads the same CA.
    let again = Sandboxes::new(f.sandboxes.settings().clone());
    assert_eq!(again.ca_certificate_pem(), Some(pem.as_str()));

    let out = ok(&sandbox, &format!("cat {SANDBOX_CA_CERT}")).await;
    assert_eq!(out, pem);
    let out = ok(
        &sandbox,
        &format!(
            "tail -c {} {SANDBOX_CA_BUNDLE} && echo \"$SSL_CERT_FILE $CURL_CA_BUNDLE \
             $REQUESTS_CA_BUNDLE $NODE_EXTRA_CA_CERTS\"",
            pem.len()
        ),
    )
    .await;
    assert_eq!(
        out,
        format!(
            "{pem}{SANDBOX_CA_BUNDLE} {SANDBOX_CA_BUNDLE} {SANDBOX_CA_BUNDLE} {SANDBOX_CA_CERT}\n"
        )
    );
    // The system bundle is kept in the sandbox's bundle, and the host's stays untouched.
    let system = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    assert!(
        !system.contains(&pem),
        "the host's trust store never changes"
    );
    if !system.is_empty() {
        let bundle = std::fs::read_to_string(ca_dir.join("ca-bundle.crt")).unwrap();
        assert!(bundle.starts_with(&system));
        let out = ok(
            &sandbox,
            &format!("grep -c 'BEGIN CERTIFICATE' {SANDBOX_CA_BUNDLE}"),
        )
        .await;
        assert_eq!(
            out.trim(),
            (system.matches("BEGIN CERTIFICATE").count() + 1).to_string()
        );
        // Tools that read the system bundle directly see the same bundle.
        let out = ok(
            &sandbox,
            &format!("cmp /etc/ssl/certs/ca-certificates.crt {SANDBOX_CA_BUNDLE} && echo same"),
        )
        .await;
        assert_eq!(out, "same\n");
    }
    let (code, _, _) = run(&sandbox, &format!("echo x > {SANDBOX_CA_CERT}"), 10).await;
    assert_ne!(code, 0, "the CA files are read-only");
    let key = ca_dir.join("ca.key");
    let (_, out, _) = run(&sandbox, &format!("cat {}", key.display()), 10).await;
    assert!(
        !out.contains("PRIVATE KEY"),
        "the key stays out of sandboxes: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_opened_loopback_ports_are_reachable() {
    let mut opened = upstream::http().await;
    let mut closed: Upstream = upstream::http().await;
    let f = fixture(&[opened.port], Vec::new());
    let Some(sandbox) = open(&f, "sesn_ports") else {
        return;
    };
    let out = ok(
        &sandbox,
        &format!(
            "curl -sS -m 10 --noproxy '' http://localhost:{}/",
            opened.port
        ),
    )
    .await;
    assert_eq!(out, "ok");
    opened.next().await;
    for host in ["localhost", "127.0.0.1"] {
        let (_, out, _) = run(
            &sandbox,
            &format!("curl -sS -m 10 --noproxy '' http://{host}:{}/", closed.port),
            30,
        )
        .await;
        assert!(
            out.contains(&format!(
                "{host} resolves to 127.0.0.1, the host's own loopback"
            )),
            "{out}"
        );
        let (_, out, _) = run(
            &sandbox,
            &format!(
                "curl -sS -m 10 --noproxy '' -o /dev/null -w '%{{http_connect}}' https://{host}:{}/",
                closed.port
            ),
            30,
        )
        .await;
        assert!(out.contains("403"), "{out}");
    }
    assert!(closed.nothing_received());
}

/// Finding 6 of the security review: a destination that echoes what it received handed the
/// real value back to the sandbox (and `| base64` carried it into stored tool results).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_values_come_back_as_placeholders() {
    let server = upstream::http().await;
    let (tls_server, test_ca) = upstream::https().await;
    let f = fixture(&[server.port, tls_server.port], vec![test_ca]);
    let Some(sandbox) = open(&f, "sesn_echo") else {
        return;
    };
    let (api, _) = secrets();
    let placeholder = api.placeholder.clone();
    sandbox.set_secrets(vec![api]).unwrap();
    let encodings =
        "; printf '%s' \"$out\" | base64 -w0; echo; printf '%s' \"$out\" | xxd -p | tr -d '\\n'";
    for url in [
        format!("http://localhost:{}/echo", server.port),
        format!("https://localhost:{}/echo", tls_server.port),
    ] {
        let out = ok(
            &sandbox,
            &format!(
                "out=$(curl -sS -i -m 10 --noproxy '' {url} -H \"Authorization: Bearer $API_TOKEN\" \
                 --data \"k=$API_TOKEN\"); printf '%s\\n' \"$out\"{encodings}"
            ),
        )
        .await;
        assert!(!out.contains(VALUE), "{url}: {out}");
        assert!(
            out.contains(&format!("X-Echo-Authorization: Bearer {placeholder}")),
            "{url}: {out}"
        );
        assert!(out.contains(&format!("k={placeholder}")), "{url}: {out}");
    }
    // A compressed answer cannot be searched, so it never reaches the sandbox.
    let out = ok(
        &sandbox,
        &format!(
            "curl -sS -m 10 --noproxy '' http://localhost:{}/gzip -H \"Authorization: Bearer $API_TOKEN\"",
            server.port
        ),
    )
    .await;
    assert!(out.contains("compressed body"), "{out}");
}
