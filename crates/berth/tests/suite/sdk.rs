//! The official SDKs are the compatibility judges: their own test files run against a real
//! server. Without the SDK installed (`pip install anthropic==2.17.0 pytest`,
//! `npm ci --prefix sdk-tests/typescript`) they are built as ignored, so a local run counts them
//! as skipped; CI sets `BERTH_REQUIRE_SDK=1`, which makes them run and fail if it is missing.

use std::path::PathBuf;
use std::process::Command;

fn sdk_tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sdk-tests")
}

fn python_sdk_available() -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import anthropic, pytest; assert anthropic.__version__ == '2.17.0'",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("BERTH_REQUIRE_SDK").as_deref() != Ok("1"),
            "BERTH_REQUIRE_SDK=1 but python3 cannot import anthropic==2.17.0 and pytest"
        );
        eprintln!("skipped: pip install anthropic==2.17.0 pytest to run the Python SDK tests");
    }
    ok
}

fn typescript_sdk_available() -> bool {
    let manifest = sdk_tests_dir().join("typescript/node_modules/@anthropic-ai/sdk/package.json");
    let version = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned));
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ok = node && version.as_deref() == Some("1.17.0");
    if !ok {
        assert!(
            std::env::var("BERTH_REQUIRE_SDK").as_deref() != Ok("1"),
            "BERTH_REQUIRE_SDK=1 but node or @anthropic-ai/sdk@1.17.0 in sdk-tests/typescript is missing"
        );
        eprintln!("skipped: npm ci --prefix sdk-tests/typescript to run the TypeScript SDK tests");
    }
    ok
}

/// Runs one `node --test` file of the TypeScript SDK tests against a fresh server.
async fn run_typescript(file: &str) {
    if !typescript_sdk_available() {
        return;
    }
    let server = berth_test_support::spawn_server().await;
    let dir = sdk_tests_dir().join("typescript");
    let (url, key) = (server.base_url.clone(), server.admin_key.clone());
    let file = file.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", &file])
            .current_dir(dir)
            .env("BERTH_URL", url)
            .env("BERTH_API_KEY", key)
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.stop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("# fail 0") && !stdout.contains("# pass 0"),
        "node --test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs one pytest file against a fresh server and fails with pytest's output if it fails.
async fn run_python(file: &str) {
    run_python_with(file, Vec::new()).await;
}

/// Like [`run_python`], with extra environment variables for the test.
async fn run_python_with(file: &str, extra_env: Vec<(&'static str, String)>) {
    if !python_sdk_available() {
        return;
    }
    let model = berth_test_support::FakeModel::start().await;
    let model_url = model.base_url.clone();
    let server =
        berth_test_support::spawn_server_with(|c| berth_test_support::with_model(c, &model_url))
            .await;
    let dir = sdk_tests_dir().join("python");
    let (url, key) = (server.base_url.clone(), server.admin_key.clone());
    let file = file.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", &file])
            .current_dir(dir)
            .env("BERTH_URL", url)
            .env("BERTH_API_KEY", key)
            .env("FAKE_MODEL_URL", model_url)
            .envs(extra_env)
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.stop().await;
    assert!(
        output.status.success(),
        "pytest {} failed:\n{}\n{}",
        "",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_agents() {
    run_python("test_agents.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_environments() {
    run_python("test_environments.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_sessions() {
    run_python("test_sessions.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_events_and_streams() {
    run_python("test_events.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_tools() {
    run_python("test_tools.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_files_and_skills() {
    run_python("test_files_skills.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_vaults_and_mcp() {
    let token = "mcp_sdk_token_7e6d5c4b";
    let fixture = berth_test_support::mcp_fixture::McpFixture::start_with(
        berth_test_support::mcp_fixture::McpFixtureOptions {
            token: Some(token.to_owned()),
            ..Default::default()
        },
    )
    .await;
    run_python_with(
        "test_vaults_mcp.py",
        vec![
            ("MCP_URL", fixture.url.clone()),
            ("MCP_TOKEN", token.to_owned()),
        ],
    )
    .await;
    if !python_sdk_available() {
        return;
    }
    assert!(
        fixture
            .authorizations()
            .iter()
            .any(|a| a.as_deref() == Some("Bearer mcp_sdk_token_7e6d5c4b")),
        "the MCP server saw the vault's token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_python_sdk,
    ignore = "needs the Python SDK: pip install anthropic==2.17.0 pytest"
)]
async fn python_sdk_memory() {
    run_python("test_memory.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_typescript_sdk,
    ignore = "needs the TypeScript SDK: npm ci --prefix sdk-tests/typescript"
)]
async fn typescript_sdk_memory() {
    run_typescript("memory.test.mjs").await;
}
