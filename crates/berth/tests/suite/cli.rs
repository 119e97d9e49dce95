//! `berth serve` as an operator runs it: flags, the printed bootstrap key, the data-dir lock,
//! and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn berth() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.env_remove("BERTH_API_KEY")
        .env_remove("BERTH_ROOT_SECRET")
        .env_remove("DATABASE_URL")
        .env("BERTH_LOG", "info");
    cmd
}

/// Starts `berth serve` on a free port and returns the child, its address and, when
/// `expect_key`, the lines it printed up to the end of the bootstrap-key banner.
fn serve(data_dir: &std::path::Path, expect_key: bool) -> (Child, String, Vec<String>) {
    let mut child = berth()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("addr=").nth(1) {
            addr = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let addr = addr.expect("server logs its address");
    if !expect_key {
        return (child, addr, Vec::new());
    }
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let lines: Vec<String> = stdout
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("Authorization: Bearer"))
        .collect();
    (child, addr, lines)
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < within, "server did not exit in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn serve_prints_a_key_once_refuses_a_second_process_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, stdout) = serve(dir.path(), true);
    let key = stdout
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("berth_sk_")
                .map(|k| format!("berth_sk_{k}"))
        })
        .expect("the bootstrap key is printed");

    let api = berth_test_support::Api::new(&format!("http://{addr}"), &key);
    api.get("/v1/agents").await.expect(200);

    let second = berth()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("already using the data directory"),
        "{message}"
    );

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    // A restart keeps the data and prints no new key.
    let (mut again, addr, _) = serve(dir.path(), false);
    let api = berth_test_support::Api::new(&format!("http://{addr}"), &key);
    api.get("/v1/agents").await.expect(200);
    again.kill().unwrap();
    let _ = again.wait();
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut again.stdout.take().unwrap(), &mut printed).unwrap();
    assert!(
        !printed.contains("berth_sk_"),
        "no new key on restart: {printed}"
    );
}

#[test]
fn migrate_runs_and_bad_settings_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = berth()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("berth.db").exists());

    let out = berth()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("BERTH_ROOT_SECRET", "hunter2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("BERTH_ROOT_SECRET must be 32 random bytes")
    );
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = "berth_sk_metrics_test_admin_key_0123456789abcdef";
    let mut child = berth()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .env("BERTH_API_KEY", key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("berth is listening")
            && let Some(rest) = line.split(" addr=").nth(1)
        {
            addr = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let api = berth_test_support::Api::new(&format!("http://{}", addr.unwrap()), key);
    api.get("/v1/agents").await.expect(200);
    api.get("/v1/agents").await.expect(200);
    assert_eq!(api.get("/v1/agents/agent_missing").await.status, 404);
    assert_eq!(
        api.get("/metrics").await.status,
        404,
        "metrics are not on the API port"
    );
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "berth_http_requests_total{route=\"/v1/agents\",method=\"GET\",status=\"200\"} 2",
        "berth_http_requests_total{route=\"/v1/agents/{agent_id}\",method=\"GET\",status=\"404\"} 1",
        "# TYPE berth_http_request_duration_seconds histogram",
        "berth_turn_duration_seconds_count 0",
        "berth_model_tokens_total{kind=\"input\"} 0",
        "berth_queue_depth 0",
        "berth_active_leases 0",
        "berth_sse_subscribers 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
