//! The file tools: read, write and edit on disk.

use berth_agent::tools::{ToolCall, ToolOutcome, ToolRouter};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{call, fixture};

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
