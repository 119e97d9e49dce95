//! The web tools, against loopback HTTP servers: fetch and search.

use berth_net::EgressPolicy;
use berth_sandbox::HostRules;
use serde_json::{Value, json};

use crate::{call, fixture, fixture_with, toolset};

/// A tiny HTTP server answering one request per connection (and saying so, so clients do not
/// reuse a connection it is about to drop) with `body`, or redirects for `/redirect`.
async fn http_server(body: &'static str, content_type: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let response = if request.starts_with("GET /redirect") {
                    "HTTP/1.1 302 Found\r\nLocation: /page\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                } else if request.starts_with("GET /elsewhere") {
                    "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_fetch_converts_pages_and_obeys_every_rule() {
    let site = http_server(
        "<html><body><h1>Docs</h1><p>Use <code>berth serve</code>.</p></body></html>",
        "text/html",
    )
    .await;
    let allow_loopback = EgressPolicy::parse("127.0.0.1").unwrap();
    let f = fixture_with(
        toolset(json!({})),
        HostRules::Any,
        allow_loopback.clone(),
        None,
    );
    let (text, err) = call(&f, "web_fetch", json!({"url": format!("{site}/redirect")})).await;
    assert!(
        !err && text.contains("# Docs") && text.contains("`berth serve`"),
        "{text}"
    );
    let (text, _) = call(
        &f,
        "web_fetch",
        json!({"url": format!("{site}/page"), "max_length": 5}),
    )
    .await;
    assert!(text.ends_with("…[truncated to 5 chars]"), "{text}");
    let (text, err) = call(&f, "web_fetch", json!({"url": format!("{site}/elsewhere")})).await;
    assert!(
        err && text.contains("169.254.169.254"),
        "each redirect hop is checked: {text}"
    );
    let (text, err) = call(&f, "web_fetch", json!({"url": "file:///etc/passwd"})).await;
    assert!(err && text.contains("only http and https"), "{text}");

    // The operator's egress policy: loopback is refused unless allowed.
    let closed = fixture_with(
        toolset(json!({})),
        HostRules::Any,
        EgressPolicy::default(),
        None,
    );
    let (text, err) = call(&closed, "web_fetch", json!({"url": format!("{site}/page")})).await;
    assert!(err && text.contains("BERTH_ALLOW_PRIVATE_EGRESS"), "{text}");
    // The environment's limited networking.
    let limited = fixture_with(
        toolset(json!({})),
        HostRules::Only(vec!["docs.example.com".into()]),
        allow_loopback.clone(),
        None,
    );
    let (text, err) = call(
        &limited,
        "web_fetch",
        json!({"url": format!("{site}/page")}),
    )
    .await;
    assert!(
        err && text.contains("is not allowed by this environment's networking")
            && text.contains("docs.example.com"),
        "{text}"
    );
    // The tool's own domain lists.
    let blocked = fixture_with(
        toolset(json!({"configs": [{"name": "web_fetch", "blocked_domains": ["127.0.0.1"]}]})),
        HostRules::Any,
        allow_loopback,
        None,
    );
    let (text, err) = call(
        &blocked,
        "web_fetch",
        json!({"url": format!("{site}/page")}),
    )
    .await;
    assert!(err && text.contains("web_fetch domain settings"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_search_uses_the_configured_backend_or_says_it_has_none() {
    let searxng = http_server(r#"{"results": [{"title": "Berth", "url": "https://berth.example/docs", "content": "Managed agents"}, {"title": "Other", "url": "https://other.example/", "content": "x"}]}"#, "application/json").await;
    let f = fixture_with(
        toolset(json!({})),
        HostRules::Any,
        EgressPolicy::default(),
        Some(&searxng),
    );
    let (text, err) = call(
        &f,
        "web_search",
        json!({"query": "berth", "max_results": 1}),
    )
    .await;
    assert!(!err, "{text}");
    let hits: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        hits,
        json!([{"title": "Berth", "url": "https://berth.example/docs", "description": "Managed agents"}])
    );
    let none = fixture();
    let (text, err) = call(&none, "web_search", json!({"query": "berth"})).await;
    assert!(err && text.contains("BERTH_SEARXNG_URL"), "{text}");
}
