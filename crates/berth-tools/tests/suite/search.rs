//! The workspace search tools: glob and grep.

use serde_json::json;

use crate::{call, fixture};

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
