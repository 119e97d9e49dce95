//! Shortcuts for tests that need a session to talk to.

use serde_json::{Value, json};

use crate::Api;

/// Creates an agent (with `agent` merged into a default body), an environment and a session.
/// Returns the session object.
pub async fn new_session(api: &Api, agent: Value) -> Value {
    let mut body = json!({"name": "test agent", "model": "claude-sonnet-4-6"});
    if let (Some(base), Some(extra)) = (body.as_object_mut(), agent.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    let agent = api.post("/v1/agents", body).await.expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "test env"}))
        .await
        .expect(200);
    api.post(
        "/v1/sessions",
        json!({"agent": agent["id"], "environment_id": env["id"]}),
    )
    .await
    .expect(200)
}

/// Posts a text `user.message` and returns the stored event.
pub async fn say(api: &Api, session_id: &str, text: &str) -> Value {
    let reply = api
        .post(
            &format!("/v1/sessions/{session_id}/events"),
            json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": text}]}]}),
        )
        .await
        .expect(202);
    reply["data"][0].clone()
}

/// Polls the session until its status is `status` (or panics after `secs` seconds).
pub async fn wait_for_status(api: &Api, session_id: &str, status: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let session = api.get(&format!("/v1/sessions/{session_id}")).await.body;
        if session["status"] == status {
            return session;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "session never became {status}: {session}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every event of the session (JSON list, all pages), Berth's extension events included.
pub async fn all_events(api: &Api, session_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let base = format!("/v1/sessions/{session_id}/events?limit=1000&include=chunks");
    let mut path = base.clone();
    loop {
        let page = api.get(&path).await.expect(200);
        out.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["next_page"].as_str() {
            Some(next) => path = format!("{base}&page={next}"),
            None => return out,
        }
    }
}

/// Polls the log until an event of `kind` appears after `after_seq`; returns it.
pub async fn wait_for_event(api: &Api, session_id: &str, kind: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(e) = all_events(api, session_id)
            .await
            .into_iter()
            .find(|e| e["type"] == kind)
        {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {kind} event appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The types of events, in order.
pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Waits until the session has gone idle `turns` times in all, then returns the session.
pub async fn wait_for_turns(api: &Api, session_id: &str, turns: usize, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let idles = all_events(api, session_id)
            .await
            .iter()
            .filter(|e| e["type"] == "session.status_idle")
            .count();
        if idles >= turns {
            return api.get(&format!("/v1/sessions/{session_id}")).await.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session went idle {idles} times, not {turns}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
