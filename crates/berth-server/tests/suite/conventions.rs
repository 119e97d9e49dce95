//! The contract's cross-cutting conventions: auth, error envelope, body limits, query parsing.

use berth_test_support::TestServer;
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    health_needs_no_key,
    errors_use_the_envelope_with_the_request_id,
    keys_are_accepted_in_both_headers,
    bad_keys_are_refused,
    malformed_json_is_a_400,
    wrong_types_name_the_field,
    unknown_fields_are_ignored,
    conflicts_tell_the_sdk_not_to_retry,
    bad_query_parameters_are_400,
);

async fn health_needs_no_key(server: &TestServer) {
    let anon = server.api_with_key("");
    let reply = anon.raw(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.json::<serde_json::Value>().await.unwrap(),
        json!({"ok": true})
    );
    let ready = server.api().get("/readyz").await.expect(200);
    assert_eq!(ready["ok"], true);
}

async fn errors_use_the_envelope_with_the_request_id(server: &TestServer) {
    let api = server.api();
    let reply = api.get("/v1/no_such_thing").await;
    assert_eq!(reply.status, 404);
    let header = reply.headers["request-id"].to_str().unwrap().to_owned();
    assert!(header.starts_with("req_"));
    assert_eq!(reply.body["type"], "error");
    assert_eq!(reply.body["error"]["type"], "not_found_error");
    assert_eq!(reply.body["request_id"], header.as_str());
    assert!(reply.error_message().contains("/v1/no_such_thing"));

    let wrong_method = api.send(Method::PUT, "/v1/agents", None).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.body["type"], "error");

    // Successful responses carry a request id too.
    let ok = api.get("/v1/agents").await;
    assert!(ok.headers.contains_key("request-id"));
}

async fn keys_are_accepted_in_both_headers(server: &TestServer) {
    let api = server.api();
    let bearer = api
        .raw(Method::GET, "/v1/agents")
        .header("authorization", format!("Bearer {}", server.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let header = api
        .raw(Method::GET, "/v1/agents")
        .header("x-api-key", &server.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(header.status(), 200);
}

async fn bad_keys_are_refused(server: &TestServer) {
    let none = server
        .api()
        .raw(Method::GET, "/v1/agents")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let wrong = server
        .api_with_key("berth_sk_wrong")
        .get("/v1/agents")
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.error_type(), "authentication_error");
    let basic = server
        .api()
        .raw(Method::GET, "/v1/agents")
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
}

async fn malformed_json_is_a_400(server: &TestServer) {
    let api = server.api();
    let reply = api.post_raw("/v1/agents", "{\"name\": \"a\",").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_type(), "invalid_request_error");
    assert!(
        reply.error_message().contains("malformed JSON"),
        "{}",
        reply.text
    );
    let not_object = api.post_raw("/v1/agents", "[1,2]").await;
    assert_eq!(not_object.status, 400);
    let list = api.get("/v1/agents").await.expect(200);
    assert_eq!(list["data"], json!([]), "nothing was stored");
}

async fn wrong_types_name_the_field(server: &TestServer) {
    let api = server.api();
    let reply = api
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "m", "metadata": {"k": 5}}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.error_message().starts_with("metadata.k:"),
        "{}",
        reply.text
    );
    let missing = api.post("/v1/agents", json!({"model": "m"})).await;
    assert_eq!(missing.status, 400);
    assert!(missing.error_message().contains("name"), "{}", missing.text);
    let bad_tool = api
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "m", "tools": [{"type": "agent_toolset_20260401", "configs": [{"name": "teleport"}]}]}),
        )
        .await;
    assert_eq!(bad_tool.status, 400);
    assert!(
        bad_tool.error_message().contains("tools[0]"),
        "{}",
        bad_tool.text
    );
}

async fn unknown_fields_are_ignored(server: &TestServer) {
    let agent = server
        .api()
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "m", "totally_new_field": {"x": 1}}),
        )
        .await
        .expect(200);
    assert!(agent.get("totally_new_field").is_none());
}

#[tokio::test]
async fn oversized_bodies_are_a_413_and_store_nothing() {
    let server = berth_test_support::spawn_server_with(|c| c.max_body_bytes = 64 * 1024).await;
    let api = server.api();
    let huge = format!(
        "{{\"name\":\"a\",\"model\":\"m\",\"system\":\"{}\"}}",
        "x".repeat(100 * 1024)
    );
    let reply = api.post_raw("/v1/agents", huge).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.error_type(), "request_too_large");
    // Without a Content-Length the limit still holds while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b' '; 4096])).collect();
    let streamed = api
        .raw(reqwest::Method::POST, "/v1/agents")
        .header("x-api-key", api.key())
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
    assert_eq!(api.get("/v1/agents").await.expect(200)["data"], json!([]));
    server.stop().await;
}

async fn conflicts_tell_the_sdk_not_to_retry(server: &TestServer) {
    let api = server.api();
    let agent = api
        .post("/v1/agents", json!({"name": "a", "model": "m"}))
        .await
        .expect(200);
    let id = agent["id"].as_str().unwrap();
    let stale = api
        .post(
            &format!("/v1/agents/{id}"),
            json!({"version": 7, "name": "b"}),
        )
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.headers["x-should-retry"], "false");
    assert_eq!(stale.error_type(), "conflict_error");
}

async fn bad_query_parameters_are_400(server: &TestServer) {
    let api = server.api();
    for path in [
        "/v1/agents?limit=0",
        "/v1/agents?limit=101",
        "/v1/agents?limit=ten",
        "/v1/agents?page=garbage",
        "/v1/agents?include_archived=maybe",
        "/v1/agents?created_at%5Bgte%5D=yesterday",
        "/v1/agents?order=sideways",
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
        assert_eq!(reply.error_type(), "invalid_request_error");
    }
}
