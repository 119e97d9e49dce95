//! `files`: upload and download throughput of a 100 MB file on the local blob backend, and how
//! much the server's memory grows while it moves the bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use crate::server::{BENCH_KEY, BerthProcess};

const SIZE: usize = 100 << 20;
const ROUNDS: usize = 5;

fn body() -> reqwest::Body {
    let chunk = Bytes::from(vec![0x42u8; 1 << 20]);
    reqwest::Body::wrap_stream(futures::stream::iter(
        (0..SIZE / (1 << 20)).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    ))
}

pub async fn files(server: &BerthProcess) -> anyhow::Result<()> {
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let rss_before = server.rss_mib();
    let peak = Arc::new(AtomicU64::new(0));
    let watcher = {
        let peak = Arc::clone(&peak);
        let pid = server.pid();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(
                    (crate::server::rss_of(pid) * 1024.0) as u64,
                    Ordering::Relaxed,
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let part = reqwest::multipart::Part::stream_with_length(body(), SIZE as u64)
            .file_name("bench.bin");
        let started = Instant::now();
        let reply: serde_json::Value = client
            .post(format!("{base}/v1/files"))
            .header("x-api-key", BENCH_KEY)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await?
            .json()
            .await?;
        up.push(SIZE as f64 / 1e6 / started.elapsed().as_secs_f64());
        let id = reply["id"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(reply["size_bytes"] == SIZE as u64, "upload failed: {reply}");
        let started = Instant::now();
        let mut stream = client
            .get(format!("{base}/v1/files/{id}/content"))
            .header("x-api-key", BENCH_KEY)
            .send()
            .await?
            .bytes_stream();
        let mut received = 0usize;
        while let Some(chunk) = stream.next().await {
            received += chunk?.len();
        }
        anyhow::ensure!(received == SIZE, "short download: {received}");
        down.push(SIZE as f64 / 1e6 / started.elapsed().as_secs_f64());
        client
            .delete(format!("{base}/v1/files/{id}"))
            .header("x-api-key", BENCH_KEY)
            .send()
            .await?;
    }
    watcher.abort();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "100 MB file, {ROUNDS} rounds: upload median {:.0} MB/s (min {:.0}), download median {:.0} MB/s (min {:.0}); server RSS {:.1} MiB before, peak growth {:.1} MiB",
        median(&mut up),
        up[0],
        median(&mut down),
        down[0],
        rss_before,
        peak.load(Ordering::Relaxed) as f64 / 1024.0 - rss_before
    );
    Ok(())
}
