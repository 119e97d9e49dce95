//! `memory`: memory stores at their size limit. Write throughput (creating 2,000 memories,
//! then updating them), search latency on the full 2,000-memory store at concurrency 1 and at
//! `--concurrency` (before and after the updates), and recall@5 of the fixed search corpus,
//! alone and mixed into 1,980 generated memories.
//!
//! Generated memories mix made-up words with 36 everyday ones, so each everyday word is in about
//! two thirds of the store and a one-word query matches most memories: the full-text ranking's
//! worst case.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use hyper::Method;

use super::{Options, id_of, post_json, run_phase};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const MEMORIES: u64 = 2_000;
const CORPUS: &str = include_str!("../../../crates/berth-memory/tests/corpus.json");

/// Everyday words, so generated memories share vocabulary with the corpus and its queries.
const COMMON: &[&str] = &[
    "team",
    "release",
    "database",
    "notes",
    "customer",
    "deploy",
    "service",
    "review",
    "test",
    "meeting",
    "project",
    "plan",
    "user",
    "data",
    "report",
    "weekly",
    "server",
    "build",
    "queue",
    "password",
    "backup",
    "lunch",
    "design",
    "budget",
    "support",
    "ticket",
    "invoice",
    "mobile",
    "search",
    "latency",
    "dashboard",
    "runbook",
    "incident",
    "owner",
    "decision",
    "config",
];

/// A deterministic stream of numbers (64-bit LCG), so every run writes the same memories.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A made-up word of two to four syllables.
fn invented(rng: &mut Lcg) -> String {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "qua", "del", "fin", "gor",
        "ish", "mon", "tar", "ul", "wen", "yo",
    ];
    (0..2 + rng.below(3))
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
        .collect()
}

/// A memory of 40 to 250 words, one in five of them everyday words.
fn generated(rng: &mut Lcg) -> String {
    let words = 40 + rng.below(210);
    let mut text = String::new();
    for i in 0..words {
        if i > 0 {
            text.push(if i % 12 == 0 { '\n' } else { ' ' });
        }
        if rng.below(5) == 0 {
            text.push_str(COMMON[rng.below(COMMON.len())]);
        } else {
            text.push_str(&invented(rng));
        }
    }
    text
}

async fn new_store(conn: &mut Connection, name: &str) -> anyhow::Result<String> {
    Ok(id_of(
        &post_json(conn, "/v1/memory_stores", serde_json::json!({"name": name})).await?,
    ))
}

/// Creates the memories from `concurrency` connections; returns their ids and creates/s.
async fn create_all(
    server: &BerthProcess,
    concurrency: usize,
    store_id: &str,
    memories: Vec<(String, String)>,
) -> anyhow::Result<(Vec<String>, f64)> {
    let memories = Arc::new(memories);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (memories, next) = (Arc::clone(&memories), Arc::clone(&next));
        let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
        let path = format!("/v1/memory_stores/{store_id}/memories");
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((memory_path, content)) = memories.get(i) else {
                    break;
                };
                let body = serde_json::json!({"path": memory_path, "content": content});
                ids.push(id_of(&post_json(&mut conn, &path, body).await?));
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::new();
    for w in workers {
        ids.extend(w.await??);
    }
    Ok((ids, memories.len() as f64 / started.elapsed().as_secs_f64()))
}

/// The share of corpus queries whose memory is among the first five results.
async fn recall_at_5(server: &BerthProcess, store_id: &str) -> anyhow::Result<(usize, usize)> {
    let corpus: serde_json::Value = serde_json::from_str(CORPUS)?;
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let queries = corpus["queries"].as_array().cloned().unwrap_or_default();
    let mut found = 0;
    for q in &queries {
        let answer = post_json(
            &mut conn,
            &format!("/v1/memory_stores/{store_id}/search"),
            serde_json::json!({"query": q["query"], "limit": 5}),
        )
        .await?;
        let hit = answer["data"]
            .as_array()
            .is_some_and(|hits| hits.iter().any(|h| h["path"] == q["expected"]));
        found += usize::from(hit);
    }
    Ok((found, queries.len()))
}

fn corpus_memories() -> anyhow::Result<Vec<(String, String)>> {
    let corpus: serde_json::Value = serde_json::from_str(CORPUS)?;
    Ok(corpus["memories"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap_or_default().to_owned(),
                m["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// Search latency at concurrency 1 and at `--concurrency`.
async fn search_phases(
    server: &BerthProcess,
    options: &Options,
    store_id: &str,
    queries: &Arc<Vec<String>>,
    label: &str,
) -> anyhow::Result<()> {
    for concurrency in [1, options.concurrency] {
        let (queries, store_id) = (Arc::clone(queries), store_id.to_owned());
        let phase = Options {
            concurrency,
            seconds: options.seconds,
        };
        let mut search = run_phase(server, &phase, move |worker, n| {
            let q = &queries[(worker * 13 + n as usize) % queries.len()];
            let body = serde_json::json!({"query": q, "limit": 10});
            (
                Method::POST,
                format!("/v1/memory_stores/{store_id}/search"),
                Some(Bytes::from(body.to_string())),
            )
        })
        .await?;
        println!(
            "{}",
            search.report(&format!("search 2,000{label} (c={concurrency})"))
        );
    }

    Ok(())
}

pub async fn memory(server: &BerthProcess, options: &Options) -> anyhow::Result<()> {
    println!(
        "concurrency {} · {} s per phase · server at {}",
        options.concurrency, options.seconds, server.addr
    );
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let mut rng = Lcg(7);

    // A full store, written from `concurrency` connections.
    let store_id = new_store(&mut conn, "bench").await?;
    let memories: Vec<(String, String)> = (0..MEMORIES)
        .map(|i| {
            (
                format!("/notes/{:02}/m{i:04}.md", i % 40),
                generated(&mut rng),
            )
        })
        .collect();
    let average = memories.iter().map(|(_, c)| c.len()).sum::<usize>() / memories.len();
    let (ids, rate) = create_all(server, options.concurrency, &store_id, memories).await?;
    println!(
        "created {} memories (average {average} bytes): {rate:.0} creates/s",
        ids.len()
    );
    // Search latency on the 2,000-memory store.
    let queries: Arc<Vec<String>> = Arc::new(
        (0..200)
            .map(|i| match i % 3 {
                0 => COMMON[rng.below(COMMON.len())].to_owned(),
                1 => format!("{} {}", invented(&mut rng), COMMON[rng.below(COMMON.len())]),
                _ => format!(
                    "how do we {} the {}",
                    COMMON[rng.below(COMMON.len())],
                    invented(&mut rng)
                ),
            })
            .collect(),
    );
    search_phases(server, options, &store_id, &queries, "").await?;

    // Then writes to a full store.
    // New contents like the old ones, so the store searched afterwards is as realistic.
    let ids = Arc::new(ids);
    let contents: Arc<Vec<String>> = Arc::new((0..500).map(|_| generated(&mut rng)).collect());
    let update_store = store_id.clone();
    let mut updates = run_phase(server, options, move |worker, n| {
        let i = worker * 7919 + n as usize * 31;
        let id = &ids[i % ids.len()];
        let body = serde_json::json!({"content": contents[i % contents.len()]});
        (
            Method::POST,
            format!("/v1/memory_stores/{update_store}/memories/{id}"),
            Some(Bytes::from(body.to_string())),
        )
    })
    .await?;
    println!("{}", updates.report("update memory"));

    search_phases(server, options, &store_id, &queries, " after the updates").await?;

    // Recall on the fixed corpus, alone and among generated memories.
    let alone = new_store(&mut conn, "corpus").await?;
    create_all(server, options.concurrency, &alone, corpus_memories()?).await?;
    let (found, total) = recall_at_5(server, &alone).await?;
    println!("recall@5, corpus alone: {found}/{total}");
    let mixed = new_store(&mut conn, "corpus among 2,000").await?;
    let mut all = corpus_memories()?;
    let extra = MEMORIES as usize - all.len();
    all.extend((0..extra).map(|i| (format!("/generated/g{i:04}.md"), generated(&mut rng))));
    create_all(server, options.concurrency, &mixed, all).await?;
    let (found, total) = recall_at_5(server, &mixed).await?;
    println!("recall@5, corpus among {extra} generated memories: {found}/{total}");
    println!("RSS at end: {:.1} MiB", server.rss_mib());
    Ok(())
}
