//! Every built-in tool's success and error paths, run for real: a bubblewrap sandbox, files on
//! disk, and loopback HTTP servers for the web tools.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use berth_agent::tools::{ToolCall, ToolKind, ToolOutcome, ToolRouter};
use berth_net::EgressPolicy;
use berth_protocol::agent_tools::{PermissionPolicy, Tool};
use berth_sandbox::{HostRules, Isolation, SandboxSettings, Sandboxes, find_bubblewrap};
use berth_tools::{AgentTools, Searxng, ToolContext, WebTools};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Fixture {
    tools: AgentTools,
    sandboxes: Arc<Sandboxes>,
    _root: tempfile::TempDir,
}

fn toolset(extra: Value) -> Vec<Tool> {
    let mut set = json!({"type": "agent_toolset_20260401", "default_config": {"enabled": true, "permission_policy": {"type": "always_allow"}}, "configs": []});
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj {
            set[k] = v.clone();
        }
    }
    let params: Vec<berth_protocol::agent_tools::ToolParam> =
        serde_json::from_value(json!([set])).unwrap();
    berth_protocol::agent_tools::resolve_tools(params, &[]).unwrap()
}

fn fixture_with(
    tools: Vec<Tool>,
    network: HostRules,
    egress: EgressPolicy,
    search: Option<&str>,
) -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let mut settings = SandboxSettings::new(
        root.path().join("sandboxes"),
        Isolation::Bubblewrap(find_bubblewrap().expect("bubblewrap")),
    );
    settings.egress = egress.clone();
    let sandboxes = Arc::new(Sandboxes::new(settings));
    let search = search
        .map(|url| Arc::new(Searxng::new(url).unwrap()) as Arc<dyn berth_tools::SearchBackend>);
    let context = ToolContext {
        sandboxes: Arc::clone(&sandboxes),
        session_id: "sesn_tools".into(),
        network,
        web: Arc::new(WebTools::new(egress, search).unwrap()),
        client_executes: false,
        read_only: Vec::new(),
        secrets: Vec::new(),
    };
    Fixture {
        tools: AgentTools::new(&tools, Arc::new(context)),
        sandboxes,
        _root: root,
    }
}

fn fixture() -> Fixture {
    fixture_with(
        toolset(json!({})),
        HostRules::Any,
        EgressPolicy::default(),
        None,
    )
}

async fn call(f: &Fixture, name: &str, input: Value) -> (String, bool) {
    let call = ToolCall {
        event_id: "sevt_1".into(),
        name: name.into(),
        input,
    };
    match f.tools.execute(&call, &CancellationToken::new()).await {
        ToolOutcome::Done { content, is_error } => {
            let text = content
                .iter()
                .filter_map(|b| b.as_text())
                .collect::<Vec<_>>()
                .join("");
            (text, is_error)
        }
        ToolOutcome::Pending => panic!("{name} did not run"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_offers_enabled_tools_with_their_policies() {
    let tools = toolset(json!({"configs": [
        {"name": "web_search", "enabled": false},
        {"name": "bash", "permission_policy": {"type": "always_ask"}}
    ]}));
    let mut all = tools;
    all.push(Tool::Custom(
        serde_json::from_value(
            json!({"name": "lookup", "description": "d", "input_schema": {"type": "object"}}),
        )
        .unwrap(),
    ));
    let f = fixture_with(all, HostRules::Any, EgressPolicy::default(), None);
    let names: Vec<String> = f.tools.specs().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "bash",
            "edit",
            "read",
            "write",
            "glob",
            "grep",
            "web_fetch",
            "lookup"
        ]
    );
    assert_eq!(f.tools.kind("bash"), ToolKind::Server);
    assert_eq!(f.tools.kind("lookup"), ToolKind::Custom);
    assert_eq!(f.tools.kind("web_search"), ToolKind::Unknown);
    assert_eq!(f.tools.permission("bash"), PermissionPolicy::AlwaysAsk);
    assert_eq!(f.tools.permission("read"), PermissionPolicy::AlwaysAllow);
    let none = fixture_with(Vec::new(), HostRules::Any, EgressPolicy::default(), None);
    assert!(
        none.tools.specs().is_empty(),
        "built-ins need the toolset entry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_reports_exit_codes_output_and_timeouts() {
    let f = fixture();
    assert_eq!(
        call(
            &f,
            "bash",
            json!({"command": "echo hi; echo oops >&2; exit 4"})
        )
        .await,
        ("exit=4\nhi\noops\n".into(), false)
    );
    assert_eq!(
        call(&f, "bash", json!({"command": "true"})).await,
        ("exit=0\n".into(), false)
    );
    let (text, is_error) = call(
        &f,
        "bash",
        json!({"command": "echo start; sleep 5", "timeout_ms": 300}),
    )
    .await;
    assert!(
        is_error && text.contains("timed out after 0.3s") && text.contains("start"),
        "{text}"
    );
    let (text, is_error) = call(&f, "bash", json!({"command": ""})).await;
    assert!(is_error && text.starts_with("Error: "), "{text}");
    let (text, is_error) = call(&f, "bash", json!({"cmd": "ls"})).await;
    assert_eq!(
        (text.as_str(), is_error),
        ("Error: command is required", true)
    );
    let (text, is_error) = call(&f, "bash", json!({"command": 5})).await;
    assert!(is_error && text.contains("invalid input"), "{text}");
    assert_eq!(
        call(&f, "bash", json!({"restart": true})).await,
        ("bash session restarted".into(), false)
    );
    let (text, _) = call(
        &f,
        "bash",
        json!({"command": "head -c 200000 /dev/zero | tr '\\0' 'x'"}),
    )
    .await;
    assert!(
        text.contains("(truncated, total") || text.contains("omitted"),
        "long output is cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_and_edit_files() {
    let f = fixture();
    let (text, err) = call(&f, "write", json!({"file_path": "/workspace/src/lib.rs", "content": "fn a() {}\nfn b() {}\nfn a2() {}\n"})).await;
    assert_eq!(
        (text.as_str(), err),
        ("Wrote 31 bytes to /workspace/src/lib.rs", false)
    );
    assert_eq!(
        call(&f, "read", json!({"file_path": "/workspace/src/lib.rs"}))
            .await
            .0,
        "1\tfn a() {}\n2\tfn b() {}\n3\tfn a2() {}\n"
    );
    assert_eq!(
        call(
            &f,
            "read",
            json!({"file_path": "src/lib.rs", "offset": 2, "limit": 1})
        )
        .await
        .0,
        "2\tfn b() {}\n\n...(file has 3 total lines)"
    );
    let window = |range: Value| {
        call(
            &f,
            "read",
            json!({"file_path": "src/lib.rs", "view_range": range}),
        )
    };
    assert_eq!(
        window(json!([2, 2])).await.0,
        "2\tfn b() {}\n\n...(file has 3 total lines)"
    );
    assert_eq!(window(json!([3, 0])).await.0, "3\tfn a2() {}\n");
    assert!(window(json!([3])).await.1, "view_range needs two numbers");
    // The sandbox can change what the server wrote.
    assert_eq!(
        call(
            &f,
            "bash",
            json!({"command": "echo '// x' >> src/lib.rs && wc -l < src/lib.rs"})
        )
        .await
        .0,
        "exit=0\n4\n"
    );

    let (text, err) = call(
        &f,
        "edit",
        json!({"file_path": "/workspace/src/lib.rs", "old_string": "fn a", "new_string": "fn z"}),
    )
    .await;
    assert!(err && text.contains("appears 2 times"), "{text}");
    let (text, err) = call(&f, "edit", json!({"file_path": "/workspace/src/lib.rs", "old_string": "fn b()", "new_string": "fn bee()"})).await;
    assert_eq!(
        (text.as_str(), err),
        ("Edited /workspace/src/lib.rs: replaced 1 occurrence", false)
    );
    let (text, _) = call(&f, "edit", json!({"file_path": "/workspace/src/lib.rs", "old_string": "fn a", "new_string": "fn z", "replace_all": true})).await;
    assert!(text.contains("replaced 2 occurrences"));
    let (text, err) = call(
        &f,
        "edit",
        json!({"file_path": "/workspace/src/lib.rs", "old_string": "nope", "new_string": "x"}),
    )
    .await;
    assert_eq!(
        (text.as_str(), err),
        ("Error: old_string not found in file", true)
    );
    assert!(
        call(&f, "read", json!({"file_path": "/workspace/src/lib.rs"}))
            .await
            .0
            .contains("fn bee()")
    );

    for (input, expected) in [
        (
            json!({"file_path": "/workspace/missing.txt"}),
            "does not exist",
        ),
        (json!({"file_path": "/workspace/src"}), "is a directory"),
        (json!({"file_path": "/root/.bashrc"}), "outside the sandbox"),
        (
            json!({"file_path": "/workspace/../../etc/../root/x"}),
            "outside the sandbox",
        ),
    ] {
        let (text, err) = call(&f, "read", input.clone()).await;
        assert!(err && text.contains(expected), "{input}: {text}");
    }
    let (text, err) = call(
        &f,
        "write",
        json!({"file_path": "/etc/passwd", "content": "x"}),
    )
    .await;
    assert!(err && text.contains("read-only"), "{text}");
    // A link the sandbox made cannot lead the server outside.
    call(&f, "bash", json!({"command": "ln -s /root/.ssh/id_rsa key; ln -s /etc/hostname host; printf 'a\\0b' > bin.dat"})).await;
    let (text, err) = call(&f, "read", json!({"file_path": "/workspace/key"})).await;
    assert!(err && text.contains("outside the sandbox"), "{text}");
    let (text, err) = call(&f, "read", json!({"file_path": "/workspace/host"})).await;
    assert!(
        !err && text.starts_with("1\t"),
        "a link to a system file reads the sandbox's copy: {text}"
    );
    let (text, err) = call(&f, "read", json!({"file_path": "/workspace/bin.dat"})).await;
    assert!(err && text.contains("binary file"), "{text}");
    std::fs::write(
        f.sandboxes.dirs("sesn_tools").workspace.join("dot.png"),
        [0x89, b'P', b'N', b'G'],
    )
    .unwrap();
    let call_png = ToolCall {
        event_id: "e".into(),
        name: "read".into(),
        input: json!({"file_path": "/workspace/dot.png"}),
    };
    let ToolOutcome::Done { content, is_error } =
        f.tools.execute(&call_png, &CancellationToken::new()).await
    else {
        panic!()
    };
    assert!(!is_error);
    assert_eq!(
        serde_json::to_value(&content[0]).unwrap()["source"]["media_type"],
        "image/png"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glob_and_grep_search_the_workspace() {
    let f = fixture();
    call(&f, "bash", json!({"command": "mkdir -p src/deep node_modules && echo 'fn main() { println!(\"hi\"); }' > src/main.rs && echo 'TODO: one\\nfine\\nTODO: two' > src/deep/notes.txt && echo 'x' > README.md && printf 'TODO\\0' > blob.bin && git init -q . 2>/dev/null; echo 'node_modules' > .gitignore && echo 'TODO hidden' > node_modules/dep.js"})).await;
    let (text, _) = call(&f, "glob", json!({"pattern": "**/*.rs"})).await;
    assert_eq!(text, "Found 1 file(s)\n/workspace/src/main.rs");
    let (text, _) = call(&f, "glob", json!({"pattern": "*.md"})).await;
    assert_eq!(text, "Found 1 file(s)\n/workspace/README.md");
    let (text, _) = call(&f, "glob", json!({"pattern": "/workspace/src/**/*.txt"})).await;
    assert_eq!(text, "Found 1 file(s)\n/workspace/src/deep/notes.txt");
    assert_eq!(
        call(&f, "glob", json!({"pattern": "*.zig"})).await.0,
        "No files matched the pattern"
    );
    let (text, err) = call(&f, "glob", json!({"pattern": "a[", "path": "/workspace"})).await;
    assert!(err && text.contains("invalid pattern"), "{text}");

    let (text, _) = call(&f, "grep", json!({"pattern": "TODO"})).await;
    assert_eq!(
        text, "Found 1 file(s)\n/workspace/src/deep/notes.txt",
        "gitignored and binary files are skipped"
    );
    let (text, _) = call(
        &f,
        "grep",
        json!({"pattern": "todo", "-i": true, "output_mode": "content"}),
    )
    .await;
    assert_eq!(
        text,
        "/workspace/src/deep/notes.txt:1:TODO: one\n/workspace/src/deep/notes.txt:3:TODO: two"
    );
    let (text, _) = call(
        &f,
        "grep",
        json!({"pattern": "two", "output_mode": "content", "-B": 1}),
    )
    .await;
    assert_eq!(
        text,
        "/workspace/src/deep/notes.txt-2-fine\n/workspace/src/deep/notes.txt:3:TODO: two"
    );
    let (text, _) = call(
        &f,
        "grep",
        json!({"pattern": "TODO", "output_mode": "count"}),
    )
    .await;
    assert_eq!(
        text,
        "/workspace/src/deep/notes.txt:2\n\nFound 2 total occurrences across 1 file(s)."
    );
    let (text, _) = call(
        &f,
        "grep",
        json!({"pattern": "fn", "type": "rust", "output_mode": "content", "-n": false}),
    )
    .await;
    assert_eq!(
        text,
        "/workspace/src/main.rs:fn main() { println!(\"hi\"); }"
    );
    let (text, _) = call(
        &f,
        "grep",
        json!({"pattern": "one.fine", "multiline": true}),
    )
    .await;
    assert!(text.contains("notes.txt"), "{text}");
    let (text, _) = call(&f, "grep", json!({"pattern": "TODO", "glob": "*.rs"})).await;
    assert_eq!(text, "No matches found");
    let (text, _) = call(
        &f,
        "grep",
        json!({"pattern": "TODO", "output_mode": "content", "head_limit": 1}),
    )
    .await;
    assert!(
        text.starts_with("/workspace/src/deep/notes.txt:1:TODO: one\n...(showing the first 1 of 2"),
        "{text}"
    );
    let (text, err) = call(&f, "grep", json!({"pattern": "(unclosed"})).await;
    assert!(err && text.contains("invalid regular expression"), "{text}");
}

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
