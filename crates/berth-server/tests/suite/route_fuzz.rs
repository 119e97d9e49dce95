//! The fuzzed front door: generated requests to every route of the OpenAPI document — path
//! segments, query strings and JSON bodies, some built from the document's own parameter and
//! field names, some real ids, most of them wrong — on both backends. Every answer must be a
//! 2xx, 3xx or 4xx (a 4xx with the error envelope), within a few seconds: never a 5xx, a hang or
//! a dropped connection.
//!
//! `BERTH_FUZZ_REQUESTS` sets how many requests each backend gets (CI runs the default 400) and
//! `BERTH_FUZZ_SEED` the seed (printed at the start, so a failure can be replayed):
//! `BERTH_FUZZ_REQUESTS=20000 cargo nextest run -p berth-server -E 'test(route_fuzz)'`.

use std::time::Duration;

use berth_test_support::TestServer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Map, Value, json};

on_both_backends!(no_route_answers_5xx);

/// One operation of the document.
struct Operation {
    method: Method,
    /// The path under the server, with `{name}` parameters.
    path: String,
    query: Vec<String>,
    /// Field names of the JSON body's schema (empty when it takes none or not JSON).
    fields: Vec<String>,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            let fields = body_fields(document, schema);
            operations.push(Operation {
                method,
                path: path.clone(),
                query,
                fields,
            });
        }
    }
    operations
}

/// The property names of a schema, following one `$ref`.
fn body_fields(document: &Value, schema: &Value) -> Vec<String> {
    let schema = match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or("");
            &document["components"]["schemas"][name]
        }
        None => schema,
    };
    let mut fields: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for variant in schema["oneOf"].as_array().into_iter().flatten() {
        fields.extend(
            variant["properties"]
                .as_object()
                .into_iter()
                .flat_map(|p| p.keys().cloned()),
        );
    }
    fields.sort();
    fields.dedup();
    fields
}

/// Text that is wrong in as many ways as a client can be wrong.
fn junk_text(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "",
        "x",
        "agent_01",
        "sesn_0",
        "..",
        "%2F",
        "%25",
        "%C3%A9",
        "%FF",
        "%0A",
        "é",
        "🚀",
        "\u{202e}",
        "-1",
        "0",
        "99999999999999999999",
        "1.5",
        "true",
        "null",
        "[]",
        "{}",
        "'",
        "\"",
        "<script>",
        "page_AAAA",
        "page_bjox",
        "2026-13-45T99:99:99Z",
        "1970-01-01T00:00:00Z",
        "latest",
        "*",
    ];
    let count = rng.gen_range(1..4);
    let mut text = String::new();
    for _ in 0..count {
        text.push_str(PIECES[rng.gen_range(0..PIECES.len())]);
    }
    if rng.gen_bool(0.05) {
        text.push_str(&"a".repeat(rng.gen_range(100..5000)));
    }
    text
}

/// Text for a path segment or query value, percent-encoded where it must be.
fn encoded(rng: &mut StdRng, real_ids: &[String]) -> String {
    if !real_ids.is_empty() && rng.gen_bool(0.4) {
        return real_ids[rng.gen_range(0..real_ids.len())].clone();
    }
    let text = junk_text(rng);
    // `%..` pieces stay as they are (raw escapes are part of the test); the rest is encoded.
    text.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | '~' | '%' => c.to_string(),
            other => {
                let mut buffer = [0u8; 4];
                other
                    .encode_utf8(&mut buffer)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

fn junk_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..10) {
        0 => Value::Null,
        1 => json!(rng.gen_bool(0.5)),
        2 => json!(rng.gen_range(-5i64..5)),
        3 => json!(i64::MAX),
        4 => json!(1e300),
        5 | 6 => json!(junk_text(rng)),
        7 if depth < 3 => {
            let len = rng.gen_range(0..4);
            Value::Array((0..len).map(|_| junk_value(rng, depth + 1)).collect())
        }
        8 if depth < 3 => {
            let mut object = Map::new();
            for _ in 0..rng.gen_range(0..4) {
                object.insert(junk_text(rng), junk_value(rng, depth + 1));
            }
            object.insert("type".into(), json!(junk_text(rng)));
            Value::Object(object)
        }
        _ => json!("x"),
    }
}

/// A body: mostly the operation's own fields with wrong values, sometimes not JSON at all.
fn body(rng: &mut StdRng, fields: &[String], real_ids: &[String]) -> Option<String> {
    match rng.gen_range(0..10) {
        0 => return None,
        1 => return Some(junk_text(rng)),
        2 => return Some("[]".into()),
        _ => {}
    }
    let mut object = Map::new();
    for field in fields {
        if rng.gen_bool(0.6) {
            let value = if rng.gen_bool(0.2) && !real_ids.is_empty() {
                json!(real_ids[rng.gen_range(0..real_ids.len())])
            } else {
                junk_value(rng, 0)
            };
            object.insert(field.clone(), value);
        }
    }
    if rng.gen_bool(0.2) {
        object.insert(junk_text(rng), junk_value(rng, 0));
    }
    Some(Value::Object(object).to_string())
}

/// Ids of real resources, so that some requests get past the lookups.
async fn real_ids(server: &TestServer) -> Vec<String> {
    let api = server.api();
    let session = berth_test_support::sessions::new_session(&api, json!({})).await;
    let vault = api
        .post("/v1/vaults", json!({"display_name": "v"}))
        .await
        .expect(200);
    let store = api
        .post("/v1/memory_stores", json!({"name": "m"}))
        .await
        .expect(200);
    [
        &session["id"],
        &session["agent"]["id"],
        &session["environment_id"],
        &vault["id"],
        &store["id"],
    ]
    .iter()
    .filter_map(|id| id.as_str().map(str::to_owned))
    .chain(["1".to_owned()])
    .collect()
}

async fn no_route_answers_5xx(server: &TestServer) {
    let requests: usize = std::env::var("BERTH_FUZZ_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let seed: u64 = std::env::var("BERTH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("route fuzz: {requests} requests, BERTH_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let api = server.api();
    let document = api.get("/v1/openapi.json").await.expect(200);
    let operations = operations(&document);
    assert!(operations.len() > 50, "{} operations", operations.len());
    let real_ids = real_ids(server).await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..requests {
        let operation = &operations[rng.gen_range(0..operations.len())];
        let mut path = String::new();
        for segment in operation.path.split('/').skip(1) {
            path.push('/');
            if segment.starts_with('{') {
                path.push_str(&encoded(&mut rng, &real_ids));
            } else {
                path.push_str(segment);
            }
        }
        let mut query = Vec::new();
        for name in &operation.query {
            if rng.gen_bool(0.5) {
                let name = name.replace('[', "%5B").replace(']', "%5D");
                query.push(format!("{name}={}", encoded(&mut rng, &real_ids)));
            }
        }
        if rng.gen_bool(0.1) {
            query.push(format!(
                "{}={}",
                encoded(&mut rng, &[]),
                encoded(&mut rng, &[])
            ));
        }
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        let mut request = api
            .raw(operation.method.clone(), &path)
            .header("x-api-key", api.key())
            .timeout(Duration::from_secs(10));
        if let Some(body) = body(&mut rng, &operation.fields, &real_ids) {
            request = request
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let what = format!("request {i}: {} {path}", operation.method);
        // Streams answer with their head and then stay open: the head is the answer.
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e} (BERTH_FUZZ_SEED={seed})"));
        let status = response.status();
        *statuses.entry(status.as_u16()).or_default() += 1;
        assert!(
            !status.is_server_error(),
            "{what}: {status} {} (BERTH_FUZZ_SEED={seed})",
            response.text().await.unwrap_or_default()
        );
        let streaming = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if status.is_client_error() {
            let text = tokio::time::timeout(Duration::from_secs(10), response.text())
                .await
                .unwrap_or_else(|_| panic!("{what}: the error body never ended"))
                .unwrap_or_default();
            let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            assert!(
                envelope["type"] == "error"
                    && envelope["error"]["type"].is_string()
                    && envelope["error"]["message"].is_string(),
                "{what}: {status} without the error envelope: {text} (BERTH_FUZZ_SEED={seed})"
            );
        } else if !streaming {
            tokio::time::timeout(Duration::from_secs(10), response.bytes())
                .await
                .unwrap_or_else(|_| panic!("{what}: the body never ended (BERTH_FUZZ_SEED={seed})"))
                .unwrap_or_else(|e| {
                    panic!("{what}: the body broke off: {e} (BERTH_FUZZ_SEED={seed})")
                });
        }
    }
    eprintln!("route fuzz: answers by status {statuses:?}");
    // The server is still whole: a plain request answers as it should.
    api.get("/v1/agents").await.expect(200);
}
