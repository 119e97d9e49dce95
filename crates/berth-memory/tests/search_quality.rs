//! Search quality and index upkeep on a real SQLite store: every query of the fixed corpus
//! (keyword and paraphrased) finds its memory first; vectors missing or from another embedder
//! are filled in; an OpenAI-compatible endpoint (a real HTTP server on loopback) is asked in
//! its wire format and its vectors rank results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use berth_memory::{Embedder, HashingEmbedder, MemoryIndex, OpenAiEmbedder};
use berth_store::{
    Collection, Document, MemoryVersionStamp, MemoryWrite, NewApiKey, NewMemory, Store, TenantRow,
};
use berth_store_sqlite::SqliteStore;
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    memories: Vec<CorpusMemory>,
    queries: Vec<CorpusQuery>,
}

#[derive(Deserialize)]
struct CorpusMemory {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct CorpusQuery {
    kind: String,
    query: String,
    expected: String,
}

fn corpus() -> Corpus {
    serde_json::from_str(include_str!("corpus.json")).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    tenant: String,
    memory_store: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("berth.db"))
            .await
            .unwrap(),
    );
    let tenant = TenantRow {
        id: "tn_quality".into(),
        name: "quality".into(),
        created_at: 1,
    };
    let key = NewApiKey {
        id: "apikey_quality".into(),
        tenant_id: tenant.id.clone(),
        name: "k".into(),
        prefix: "k".into(),
        hash: b"k".to_vec(),
        is_admin: false,
        source: "api".into(),
        created_at: 1,
    };
    store.create_tenant(&tenant, &key).await.unwrap();
    let doc = Document {
        id: "memstore_quality".into(),
        tenant_id: tenant.id.clone(),
        version: 1,
        created_at: 1,
        updated_at: 1,
        archived_at: None,
        body: r#"{"id":"memstore_quality","type":"memory_store"}"#.into(),
    };
    store
        .insert_document(Collection::MemoryStores, &doc)
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        tenant: tenant.id,
        memory_store: doc.id,
    }
}

async fn write(f: &Fixture, index: &MemoryIndex, n: usize, path: &str, text: &str) {
    let content = index.content(text.to_owned()).await;
    let new = NewMemory {
        id: format!("mem_{n:04}"),
        tenant_id: f.tenant.clone(),
        store_id: f.memory_store.clone(),
        path: path.to_owned(),
        content,
    };
    let stamp = MemoryVersionStamp {
        id: format!("memver_{n:04}"),
        actor: r#"{"type":"api_actor","api_key_id":"apikey_quality"}"#.into(),
        created_at: 10,
    };
    let written = f.store.create_memory(&new, &stamp, 2_000).await.unwrap();
    assert!(matches!(written, MemoryWrite::Written(_)), "{written:?}");
}

async fn load_corpus(f: &Fixture, index: &MemoryIndex) -> Corpus {
    let corpus = corpus();
    for (n, m) in corpus.memories.iter().enumerate() {
        write(f, index, n, &m.path, &m.content).await;
    }
    corpus
}

async fn top_paths(f: &Fixture, index: &MemoryIndex, query: &str, limit: u32) -> Vec<String> {
    index
        .search(f.store.as_ref(), &f.tenant, &f.memory_store, query, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.memory.path)
        .collect()
}

#[tokio::test]
async fn every_corpus_query_finds_its_memory_first() {
    let f = fixture().await;
    let index = MemoryIndex::default();
    let corpus = load_corpus(&f, &index).await;
    let mut misses = Vec::new();
    for q in &corpus.queries {
        let top = top_paths(&f, &index, &q.query, 5).await;
        if top.first() != Some(&q.expected) {
            misses.push(format!(
                "{} {:?}: got {top:?}, want {}",
                q.kind, q.query, q.expected
            ));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    assert!(
        corpus.queries.iter().any(|q| q.kind == "paraphrase")
            && corpus.queries.iter().any(|q| q.kind == "keyword")
    );
}

#[tokio::test]
async fn results_carry_snippets_scores_and_nothing_unrelated() {
    let f = fixture().await;
    let index = MemoryIndex::default();
    load_corpus(&f, &index).await;
    let hits = index
        .search(
            f.store.as_ref(),
            &f.tenant,
            &f.memory_store,
            "vegetarian lunch",
            3,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].memory.path, "/recipes/team-lunch.md");
    assert!(
        hits[0].snippet.contains("vegetarian"),
        "{}",
        hits[0].snippet
    );
    assert!(
        hits[0].score > 0.9 && hits[0].score <= 1.0,
        "{}",
        hits[0].score
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(hits.len() <= 3);
    let none = index
        .search(
            f.store.as_ref(),
            &f.tenant,
            &f.memory_store,
            "zyxwvut qqqq",
            5,
        )
        .await
        .unwrap();
    assert!(
        none.is_empty(),
        "{:?}",
        none.iter().map(|h| &h.memory.path).collect::<Vec<_>>()
    );
}

/// Vectors of another embedder are never compared, and catching up replaces them.
#[tokio::test]
async fn catching_up_embeds_memories_of_another_model() {
    let f = fixture().await;
    let other = MemoryIndex::new(Arc::new(Renamed("hashing-old")));
    load_corpus(&f, &other).await;
    let index = MemoryIndex::default();
    let model = index.embedder().model_id().to_owned();
    assert!(
        f.store
            .memory_vectors(&f.tenant, &f.memory_store, &model)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store.memories_to_embed(&model, 100).await.unwrap().len(),
        20
    );
    assert_eq!(index.catch_up(f.store.as_ref()).await.unwrap(), 20);
    assert_eq!(index.catch_up(f.store.as_ref()).await.unwrap(), 0);
    assert_eq!(
        f.store
            .memory_vectors(&f.tenant, &f.memory_store, &model)
            .await
            .unwrap()
            .len(),
        20
    );
    // A paraphrase the full text alone misses, found by vector now.
    let top = top_paths(&f, &index, "formatter", 1).await;
    assert_eq!(top, vec!["/style/python.md".to_owned()]);
}

/// The hashing embedder under another model id.
struct Renamed(&'static str);

#[async_trait::async_trait]
impl Embedder for Renamed {
    fn model_id(&self) -> &str {
        self.0
    }
    fn min_similarity(&self) -> f32 {
        0.1
    }
    async fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, berth_memory::EmbedError> {
        HashingEmbedder.embed(texts).await
    }
}

/// An OpenAI-compatible embeddings server: vectors are one-hot on the first letter of the
/// text's first word that is in its vocabulary, so the test knows what must rank first.
async fn embeddings_server(seen: Arc<Mutex<Vec<serde_json::Value>>>) -> String {
    use axum::routing::post;
    async fn embeddings(
        axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<serde_json::Value>>>>,
        headers: axum::http::HeaderMap,
        axum::Json(body): axum::Json<serde_json::Value>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer emb-key") {
            return (axum::http::StatusCode::UNAUTHORIZED, "bad key").into_response();
        }
        seen.lock().unwrap().push(body.clone());
        // Like real endpoints, some inputs are refused outright.
        let refused = body["input"].as_array().unwrap().iter().any(|t| {
            let t = t.as_str().unwrap();
            t.is_empty() || t.contains("poison")
        });
        if refused {
            return (axum::http::StatusCode::BAD_REQUEST, "input refused").into_response();
        }
        let vocabulary = ["cats", "ships", "bread"];
        let data: Vec<serde_json::Value> = body["input"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let text = text.as_str().unwrap().to_lowercase();
                let mut v = vec![0.0f32; 3];
                if let Some(k) = vocabulary.iter().position(|w| text.contains(w)) {
                    v[k] = 2.0;
                }
                // Answered out of order, as the API allows.
                serde_json::json!({"object": "embedding", "index": i, "embedding": v})
            })
            .rev()
            .collect();
        axum::Json(serde_json::json!({"object": "list", "data": data, "model": body["model"]}))
            .into_response()
    }
    let app = axum::Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn an_embeddings_endpoint_is_asked_in_its_format_and_ranks_by_meaning() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = embeddings_server(Arc::clone(&seen)).await;
    let embedder = OpenAiEmbedder::new(&url, "test-embed-1", Some("emb-key".into())).unwrap();
    assert_eq!(embedder.model_id(), "openai:test-embed-1");
    let index = MemoryIndex::new(Arc::new(embedder));
    let f = fixture().await;
    write(&f, &index, 1, "/a.md", "Our cats sleep all day").await;
    write(&f, &index, 2, "/b.md", "Ships leave the harbour at dawn").await;
    write(&f, &index, 3, "/c.md", "Sourdough bread needs a starter").await;
    // No shared word with /b.md: only the vector can find it.
    let top = top_paths(&f, &index, "vessels? no: ships", 1).await;
    assert_eq!(top, vec!["/b.md".to_owned()]);
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests[0]["model"], "test-embed-1");
    assert_eq!(
        requests[0]["input"],
        serde_json::json!(["Our cats sleep all day"])
    );
    assert_eq!(requests.len(), 4, "three writes and one query");

    // A refusing endpoint: writes still land (found by full text) and search still answers.
    let broken = MemoryIndex::new(Arc::new(
        OpenAiEmbedder::new(&url, "test-embed-1", Some("wrong".into())).unwrap(),
    ));
    write(&f, &broken, 4, "/d.md", "Bread crumbs for the ducks").await;
    let top = top_paths(&f, &broken, "ducks", 5).await;
    assert_eq!(top, vec!["/d.md".to_owned()]);
    assert_eq!(
        f.store
            .memories_to_embed("openai:test-embed-1", 10)
            .await
            .unwrap()[0]
            .id,
        "mem_0004"
    );
}

/// Content the endpoint refuses never blocks catching up on the rest.
#[tokio::test]
async fn refused_content_does_not_stall_catching_up() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let url = embeddings_server(Arc::clone(&seen)).await;
    let f = fixture().await;
    let old = MemoryIndex::new(Arc::new(Renamed("hashing-old")));
    write(&f, &old, 1, "/a.md", "Cats again").await;
    write(
        &f,
        &old,
        2,
        "/poison.md",
        "a poison pill the endpoint refuses",
    )
    .await;
    write(&f, &old, 3, "/empty.md", "").await;
    write(&f, &old, 4, "/b.md", "Ships again").await;
    let index = MemoryIndex::new(Arc::new(
        OpenAiEmbedder::new(&url, "test-embed-1", Some("emb-key".into())).unwrap(),
    ));
    assert_eq!(index.catch_up(f.store.as_ref()).await.unwrap(), 4);
    assert!(
        f.store
            .memories_to_embed("openai:test-embed-1", 10)
            .await
            .unwrap()
            .is_empty(),
        "refused and empty content are marked, not retried forever"
    );
    assert_eq!(
        top_paths(&f, &index, "ships", 1).await,
        vec!["/b.md".to_owned()]
    );
    // A write of blank content never asks the endpoint.
    let asked = seen.lock().unwrap().len();
    write(&f, &index, 5, "/blank.md", "   ").await;
    assert_eq!(seen.lock().unwrap().len(), asked);
}
