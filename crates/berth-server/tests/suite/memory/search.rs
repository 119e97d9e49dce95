//! `POST /v1/memory_stores/{id}/search` on both backends: the fixed corpus's keyword and
//! paraphrased queries find their memory first through the API, the index follows writes at
//! once, and bad requests are refused.

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{memory, store};

on_both_backends!(
    the_corpus_queries_find_their_memory_first,
    search_follows_writes_and_refuses_bad_requests,
);

fn corpus() -> Value {
    serde_json::from_str(include_str!("../../../../berth-memory/tests/corpus.json")).unwrap()
}

async fn search(server: &TestServer, store_id: &str, query: &str, limit: u32) -> Vec<Value> {
    server
        .api()
        .post(
            &format!("/v1/memory_stores/{store_id}/search"),
            json!({"query": query, "limit": limit}),
        )
        .await
        .expect(200)["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn the_corpus_queries_find_their_memory_first(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "corpus").await;
    let corpus = corpus();
    for m in corpus["memories"].as_array().unwrap() {
        memory(
            &api,
            &store_id,
            m["path"].as_str().unwrap(),
            m["content"].as_str().unwrap(),
        )
        .await;
    }
    let mut misses = Vec::new();
    for q in corpus["queries"].as_array().unwrap() {
        let hits = search(server, &store_id, q["query"].as_str().unwrap(), 5).await;
        let top: Vec<&str> = hits.iter().map(|h| h["path"].as_str().unwrap()).collect();
        if top.first() != Some(&q["expected"].as_str().unwrap()) {
            misses.push(format!("{} {}: got {top:?}", q["kind"], q["query"]));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

async fn search_follows_writes_and_refuses_bad_requests(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "live").await;
    let other = store(&api, "other").await;
    let written = memory(
        &api,
        &store_id,
        "/notes/kiln.md",
        "Fire the kiln to cone six on Sundays",
    )
    .await;
    memory(&api, &other, "/kiln.md", "Kiln notes in another store").await;

    let hits = search(server, &store_id, "kiln", 10).await;
    assert_eq!(hits.len(), 1, "only this store: {hits:?}");
    let hit = &hits[0];
    assert_eq!(hit["type"], "memory_search_result");
    assert_eq!(hit["memory_id"], written["id"]);
    assert_eq!(hit["memory_store_id"], store_id.as_str());
    assert_eq!(hit["memory_version_id"], written["memory_version_id"]);
    assert_eq!(hit["content_sha256"], written["content_sha256"]);
    assert!(hit["snippet"].as_str().unwrap().contains("kiln"));
    assert!(hit["score"].as_f64().unwrap() > 0.0);

    let id = written["id"].as_str().unwrap();
    let base = format!("/v1/memory_stores/{store_id}/memories/{id}");
    api.post(&base, json!({"content": "Glaze tests on Mondays"}))
        .await
        .expect(200);
    assert!(
        search(server, &store_id, "cone six", 10).await.is_empty(),
        "the old words are gone from the index"
    );
    assert_eq!(search(server, &store_id, "glaze", 10).await.len(), 1);
    api.delete(&base).await.expect(200);
    assert!(search(server, &store_id, "glaze", 10).await.is_empty());

    let url = format!("/v1/memory_stores/{store_id}/search");
    for body in [
        json!({"query": ""}),
        json!({"query": "  "}),
        json!({"query": "x", "limit": 0}),
        json!({"query": "x", "limit": 51}),
        json!({"query": "x".repeat(1_001)}),
        json!({"limit": 3}),
        json!({"query": "x", "extra": true}),
    ] {
        assert_eq!(api.post(&url, body.clone()).await.status, 400, "{body}");
    }
    assert_eq!(
        api.post(
            "/v1/memory_stores/memstore_missing/search",
            json!({"query": "x"})
        )
        .await
        .status,
        404
    );
}
