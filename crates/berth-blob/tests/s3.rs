//! The S3 backend against a local S3-compatible server (`moto_server` from PyPI, on loopback).
//! Skips when moto is not installed, unless `BERTH_REQUIRE_S3=1` (set by `.ci/run`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_blob::{BlobError, BlobStore, S3Options};
use bytes::Bytes;
use futures::TryStreamExt;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_moto() -> Option<(Moto, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        assert!(
            std::env::var("BERTH_REQUIRE_S3").as_deref() != Ok("1"),
            "BERTH_REQUIRE_S3=1 but moto_server is not installed (pip install 'moto[server]')"
        );
        eprintln!("skipped: pip install 'moto[server]' to test the S3 backend");
        return None;
    };
    let moto = Moto(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .put(format!("{endpoint}/berth-test"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Some((moto, endpoint));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    berth_no_s3_server,
    ignore = "needs a local S3 server: pip install 'moto[server]'"
)]
async fn the_s3_backend_streams_lists_and_deletes() {
    let Some((_moto, endpoint)) = start_moto().await else {
        return;
    };
    let store = BlobStore::s3_with(
        "berth-test",
        "deploy-a",
        S3Options {
            endpoint: Some(endpoint),
            credentials: Some(("test".into(), "test".into())),
            region: Some("us-east-1".into()),
        },
    )
    .unwrap();
    // 12 MiB: three multipart parts.
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..12)
        .map(|i| Ok(Bytes::from(vec![i as u8; 1 << 20])))
        .collect();
    let size = store
        .put_stream("t/x/files/big", futures::stream::iter(chunks), 64 << 20)
        .await
        .unwrap();
    assert_eq!(size, 12 << 20);
    let blob = store.get("t/x/files/big").await.unwrap();
    assert_eq!(blob.size, 12 << 20);
    let back: Vec<u8> = blob
        .stream
        .try_collect::<Vec<Bytes>>()
        .await
        .unwrap()
        .concat();
    assert_eq!(back.len(), 12 << 20);
    assert_eq!(back[(11 << 20) + 5], 11);
    store
        .put_bytes(
            "t/x/skills/s/1/SKILL.md",
            Bytes::from_static(b"---\nname: s\n---"),
        )
        .await
        .unwrap();
    assert_eq!(store.list("t/x").await.unwrap().len(), 2);
    let too_big: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from(vec![0; 4096]))];
    assert!(matches!(
        store
            .put_stream("t/x/files/no", futures::stream::iter(too_big), 100)
            .await,
        Err(BlobError::TooLarge(100))
    ));
    store.delete_prefix("t/x").await.unwrap();
    assert!(store.list("t/x").await.unwrap().is_empty());
    assert!(matches!(
        store.get("t/x/files/big").await,
        Err(BlobError::NotFound)
    ));
}
