//! Sending and listing events, without a model in the loop.

use berth_test_support::TestServer;
use berth_test_support::sessions::{new_session, types, wait_for_event};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends!(
    sent_events_are_stored_and_echoed,
    bad_events_are_refused_and_nothing_is_stored,
    listing_pages_filters_and_orders,
    no_model_configured_is_a_clear_session_error,
);

fn system(text: &str) -> Value {
    json!({"type": "system.message", "content": [{"type": "text", "text": text}]})
}

async fn sent_events_are_stored_and_echoed(server: &TestServer) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    let reply = api
        .post(
            &format!("/v1/sessions/{id}/events"),
            json!({"events": [system("note"), {"type": "user.interrupt"}]}),
        )
        .await;
    assert_eq!(reply.status, 202);
    let data = reply.body["data"].as_array().unwrap().clone();
    assert_eq!(types(&data), vec!["system.message", "user.interrupt"]);
    assert!(
        data.iter()
            .all(|e| e["id"].as_str().unwrap().starts_with("sevt_"))
    );
    assert!(
        data.iter().all(|e| e["processed_at"].is_string()),
        "neither is queued"
    );
    assert_eq!(data[0]["seq"], 1);
    assert_eq!(data[1]["seq"], 2);
    assert_eq!(
        data[0]["content"],
        json!([{"type": "text", "text": "note"}])
    );
    let listed = api
        .get(&format!("/v1/sessions/{id}/events"))
        .await
        .expect(200);
    assert_eq!(listed["data"], json!(data));
    let log = api.get(&format!("/v1/sessions/{id}/log")).await.expect(200);
    assert_eq!(log, json!(data));
}

async fn bad_events_are_refused_and_nothing_is_stored(server: &TestServer) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    let path = format!("/v1/sessions/{id}/events");
    let cases = [
        (json!({"events": []}), "events"),
        (json!({"events": [{"type": "user.dance"}]}), "events[0]"),
        (
            json!({"events": [system("ok"), {"type": "user.message", "content": []}]}),
            "events[1].content",
        ),
        (
            json!({"events": [{"type": "user.message", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AA"}}]}]}),
            "events[0].content[0].source.media_type",
        ),
        (
            json!({"events": [{"type": "user.custom_tool_result", "custom_tool_use_id": "sevt_nope"}]}),
            "events[0]",
        ),
        (
            json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": "sevt_nope", "result": "allow"}]}),
            "events[0]",
        ),
        (
            json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": "x", "result": "maybe"}]}),
            "events[0]",
        ),
        (
            json!({"events": [{"type": "user.define_outcome", "description": "d", "rubric": {"type": "text", "content": "r"}}]}),
            "events[0].type",
        ),
        (
            json!({"events": (0..51).map(|_| system("x")).collect::<Vec<_>>()}),
            "events",
        ),
        (json!({"nothing": true}), "events: is required"),
    ];
    for (body, field) in cases {
        let reply = api.post(&path, body).await;
        assert_eq!(reply.status, 400, "{field}: {}", reply.text);
        assert!(
            reply.error_message().starts_with(field),
            "{field}: {}",
            reply.error_message()
        );
    }
    assert_eq!(api.get(&path).await.expect(200)["data"], json!([]));
    assert_eq!(
        api.post(
            "/v1/sessions/sesn_missing/events",
            json!({"events": [system("x")]})
        )
        .await
        .status,
        404
    );
}

async fn listing_pages_filters_and_orders(server: &TestServer) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    let path = format!("/v1/sessions/{id}/events");
    for i in 0..5 {
        api.post(
            &path,
            json!({"events": [system(&format!("m{i}")), {"type": "user.interrupt"}]}),
        )
        .await
        .expect(202);
    }
    let page = api.get(&format!("{path}?limit=3")).await.expect(200);
    assert_eq!(
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].clone())
            .collect::<Vec<_>>(),
        vec![json!(1), json!(2), json!(3)]
    );
    assert_eq!(page["has_more"], true);
    let next = api
        .get(&format!(
            "{path}?limit=3&page={}",
            page["next_page"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(next["data"][0]["seq"], 4);
    let after = api.get(&format!("{path}?after_seq=8")).await.expect(200);
    assert_eq!(after["data"].as_array().unwrap().len(), 2);
    assert_eq!(after["has_more"], false);
    assert_eq!(after["next_page"], Value::Null);
    let desc = api
        .get(&format!("{path}?order=desc&limit=2"))
        .await
        .expect(200);
    assert_eq!(desc["data"][0]["seq"], 10);
    let typed = api
        .get(&format!("{path}?types%5B%5D=user.interrupt"))
        .await
        .expect(200);
    assert_eq!(typed["data"].as_array().unwrap().len(), 5);
    assert!(
        typed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "user.interrupt")
    );
    let future = api
        .get(&format!("{path}?created_at%5Bgt%5D=2999-01-01T00:00:00Z"))
        .await
        .expect(200);
    assert_eq!(future["data"], json!([]));
    assert_eq!(api.get(&format!("{path}?limit=1001")).await.status, 400);
    assert_eq!(api.get(&format!("{path}?limit=1000")).await.status, 200);
}

async fn no_model_configured_is_a_clear_session_error(server: &TestServer) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    berth_test_support::sessions::say(&api, id, "hello").await;
    let error = wait_for_event(&api, id, "session.error", 10).await;
    assert_eq!(error["error"]["type"], "model_request_failed_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ANTHROPIC_API_KEY")
    );
    assert_eq!(error["error"]["retry_status"], json!({"type": "terminal"}));
    let idle = wait_for_event(&api, id, "session.status_idle", 10).await;
    assert_eq!(idle["stop_reason"], json!({"type": "end_turn"}));
}
