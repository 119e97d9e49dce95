//! File bytes through the real binary: a 200 MB upload and download stream with flat server
//! memory, and the S3 backend (a local moto server) serving uploads, outputs and downloads.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_test_support::{Api, Part};
use bytes::Bytes;
use futures::StreamExt;

const KEY: &str = "berth_sk_blob_test_admin_key_0123456789abcdefghij";

struct Berth {
    child: Child,
    api: Api,
    base: String,
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Berth {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("BERTH_API_KEY", KEY)
        .env("BERTH_LOG", "info")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("berth exits before listening").unwrap();
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let base = format!("http://{addr}");
    Berth {
        child,
        api: Api::new(&base, KEY),
        base,
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// A body of `total` bytes sent in 1 MiB chunks, never held whole.
fn streamed_body(total: usize) -> reqwest::Body {
    let chunk = Bytes::from(vec![0x5au8; 1 << 20]);
    let stream = futures::stream::iter(
        (0..total / (1 << 20)).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_upload_and_download_stream_with_flat_memory() {
    let dir = tempfile::tempdir().unwrap();
    let berth = start(dir.path(), &[]);
    berth.api.get("/v1/files").await.expect(200);
    let pid = berth.child.id();
    let before = rss_mib(pid);
    const TOTAL: usize = 200 << 20;
    let part = reqwest::multipart::Part::stream_with_length(streamed_body(TOTAL), TOTAL as u64)
        .file_name("big.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let client = reqwest::Client::new();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watcher = {
        let peak = std::sync::Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                let now = (rss_mib(pid) * 1024.0) as u64;
                peak.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let uploaded: serde_json::Value = client
        .post(format!("{}/v1/files", berth.base))
        .header("x-api-key", KEY)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(uploaded["size_bytes"], TOTAL as u64, "{uploaded}");
    let id = uploaded["id"].as_str().unwrap();
    let response = client
        .get(format!("{}/v1/files/{id}/content", berth.base))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut received = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.iter().all(|b| *b == 0x5a));
        received += chunk.len();
    }
    watcher.abort();
    assert_eq!(received, TOTAL);
    let growth = peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0 - before;
    assert!(
        growth < 48.0,
        "server memory grew by {growth:.1} MiB while moving 200 MB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_s3_server,
    ignore = "needs a local S3 server: pip install 'moto[server]'"
)]
async fn the_s3_backend_serves_files_end_to_end() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Ok(mut moto) = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        assert!(
            std::env::var("BERTH_REQUIRE_S3").as_deref() != Ok("1"),
            "BERTH_REQUIRE_S3=1 but moto_server is not installed"
        );
        eprintln!("skipped: pip install 'moto[server]' to test the S3 backend");
        return;
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if client
            .put(format!("{endpoint}/berth-files"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "moto_server did not start");
    let dir = tempfile::tempdir().unwrap();
    let berth = start(
        dir.path(),
        &[
            ("BERTH_BLOB_URL", "s3://berth-files/prod"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    let payload: Vec<u8> = (0..7_000_000u32).map(|i| (i % 251) as u8).collect();
    let file = berth
        .api
        .multipart(
            "/v1/files",
            vec![Part::file("file", "s3.bin", payload.clone())],
        )
        .await
        .expect(200);
    let id = file["id"].as_str().unwrap();
    let (status, _, bytes) = berth
        .api
        .get_bytes(&format!("/v1/files/{id}/content"), "*/*")
        .await;
    assert_eq!(status, 200);
    assert_eq!(bytes, payload);
    // The bytes are in the bucket, under the configured prefix, not on local disk.
    let listing = client
        .get(format!("{endpoint}/berth-files?list-type=2&prefix=prod/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains(&format!("files/{id}")), "{listing}");
    assert!(!dir.path().join("blobs").exists());
    berth
        .api
        .delete(&format!("/v1/files/{id}"))
        .await
        .expect(200);
    let listing = client
        .get(format!("{endpoint}/berth-files?list-type=2&prefix=prod/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listing.contains(&format!("files/{id}")), "{listing}");
    let _ = moto.kill();
    let _ = moto.wait();
}
