//! `/v1/model_cards`: create, read, rotate, list, delete; the capability probe's verdicts; the
//! egress rule for tenant-chosen URLs; and that no response ever carries a key.

use berth_test_support::{Api, FakeModel, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends_with_model!(
    cards_are_stored_sealed_and_shown_only_as_previews,
    rotation_probes_the_new_settings,
    probe_failures_say_what_is_wrong_and_store_nothing,
    a_default_card_serves_agents_whose_model_names_no_card,
);

const KEY: &str = "sk-proj-cardtest-0123456789abcdef-WXYZ";
const HEADER_SECRET: &str = "team-token-abcdef-7777";

fn card_body(fake: &FakeModel, model_id: &str, provider: &str) -> Value {
    let base = if provider.starts_with("oai") {
        format!("{}/v1", fake.base_url)
    } else {
        fake.base_url.clone()
    };
    json!({
        "model_id": model_id,
        "provider": provider,
        "model": format!("wire-{model_id}"),
        "base_url": base,
        "api_key": KEY,
        "custom_headers": {"x-team-token": HEADER_SECRET},
    })
}

fn assert_no_secret(text: &str) {
    for secret in [
        KEY,
        HEADER_SECRET,
        "cardtest-0123456789",
        "team-token-abcdef",
    ] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
}

async fn cards(api: &Api, query: &str) -> Vec<Value> {
    api.get(&format!("/v1/model_cards{query}"))
        .await
        .expect(200)["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn cards_are_stored_sealed_and_shown_only_as_previews(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    let created = api
        .post(
            "/v1/model_cards",
            card_body(fake, "gateway", "oai-compatible"),
        )
        .await;
    assert_no_secret(&created.text);
    let card = created.expect(200);
    assert!(card["id"].as_str().unwrap().starts_with("mdl_"));
    assert_eq!(card["type"], "model_card");
    assert_eq!(card["model_id"], "gateway");
    assert_eq!(card["model"], "wire-gateway");
    assert_eq!(card["provider"], "oai-compatible");
    assert_eq!(card["api_key_preview"], "WXYZ");
    assert_eq!(card["custom_headers"]["x-team-token"], "…7777");
    assert_eq!(card["probe"], json!({"ok": true}));
    let id = card["id"].as_str().unwrap();

    // The probe reached the provider with the real key and headers.
    let probe = fake.requests().pop().unwrap();
    assert!(!probe.is_streaming());
    assert_eq!(probe.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(probe.headers["x-team-token"], HEADER_SECRET);
    assert_eq!(probe.body["model"], "wire-gateway");

    let got = api.get(&format!("/v1/model_cards/{id}")).await;
    assert_no_secret(&got.text);
    assert_eq!(got.expect(200)["api_key_preview"], "WXYZ");
    let listed = api.get("/v1/model_cards").await;
    assert_no_secret(&listed.text);
    // The OMA prefix serves the same cards; the plaintext key route does not exist.
    assert_eq!(cards(&api, "").await.len(), 1);
    assert_eq!(
        api.get("/v1/oma/model_cards").await.expect(200)["data"][0]["id"],
        card["id"]
    );
    assert_eq!(
        api.get(&format!("/v1/model_cards/{id}/key")).await.status,
        404
    );

    // A second card of another provider; filters by provider.
    api.post("/v1/model_cards", card_body(fake, "direct", "ant"))
        .await
        .expect(200);
    assert_eq!(cards(&api, "").await.len(), 2);
    let ant = cards(&api, "?provider=ant").await;
    assert_eq!(ant.len(), 1);
    assert_eq!(ant[0]["model_id"], "direct");
    let bad = api.get("/v1/model_cards?provider=azure").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["error"]["details"]["error_code"],
        "invalid_provider"
    );

    // Handles are unique per tenant, on create and on rename.
    let dup = api
        .post("/v1/model_cards", card_body(fake, "gateway", "oai"))
        .await;
    assert_eq!(dup.status, 409);
    assert!(dup.error_message().contains("\"gateway\" is already used"));
    let rename = api
        .post(
            &format!("/v1/model_cards/{id}"),
            json!({"model_id": "direct"}),
        )
        .await;
    assert_eq!(rename.status, 409);

    // Another tenant sees nothing.
    let other = server
        .api()
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200);
    let other = server.api_with_key(other["api_key"].as_str().unwrap());
    assert_eq!(
        other.get(&format!("/v1/model_cards/{id}")).await.status,
        404
    );
    assert_eq!(
        other.delete(&format!("/v1/model_cards/{id}")).await.status,
        404
    );
    assert!(cards(&other, "").await.is_empty());

    // Bad input is refused with the field named.
    let missing_url = api
        .post(
            "/v1/model_cards",
            json!({"model_id": "x", "provider": "oai-compatible", "api_key": "k"}),
        )
        .await;
    assert_eq!(missing_url.status, 400);
    assert!(missing_url.error_message().contains("base_url"));
    let bad_header = api
        .post(
            "/v1/model_cards",
            json!({"model_id": "x", "provider": "ant", "api_key": "k", "base_url": fake.base_url,
                   "custom_headers": {"content-type": "text/plain"}}),
        )
        .await;
    assert_eq!(bad_header.status, 400);

    let deleted = api
        .delete(&format!("/v1/model_cards/{id}"))
        .await
        .expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "model_card_deleted"}));
    assert_eq!(api.get(&format!("/v1/model_cards/{id}")).await.status, 404);
    assert_eq!(cards(&api, "").await.len(), 1);
}

async fn rotation_probes_the_new_settings(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    let card = api
        .post(
            "/v1/model_cards",
            card_body(fake, "rotating", "ant-compatible"),
        )
        .await
        .expect(200);
    let id = card["id"].as_str().unwrap();
    let probes_before = fake.requests().len();

    // A change that does not touch the connection is not probed.
    let widened = api
        .post(
            &format!("/v1/model_cards/{id}"),
            json!({"context_window": 50000}),
        )
        .await
        .expect(200);
    assert_eq!(widened["context_window"], 50000);
    assert!(widened.get("probe").is_none());
    assert_eq!(fake.requests().len(), probes_before);

    // A new key is probed before it is kept; a refused one leaves the card as it was.
    fake.accept_keys(&["sk-ant-new-key-0000"]);
    let refused = api
        .post(
            &format!("/v1/model_cards/{id}"),
            json!({"api_key": "sk-ant-bad-key-1111"}),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body["error"]["details"]["error_code"],
        "invalid_api_key"
    );
    assert!(!refused.text.contains("sk-ant-bad-key-1111"));
    let unchanged = api.get(&format!("/v1/model_cards/{id}")).await.expect(200);
    assert_eq!(unchanged["api_key_preview"], "WXYZ");

    let rotated = api
        .post(
            &format!("/v1/model_cards/{id}"),
            json!({"api_key": "sk-ant-new-key-0000", "custom_headers": null}),
        )
        .await
        .expect(200);
    assert_eq!(rotated["api_key_preview"], "0000");
    assert_eq!(rotated["custom_headers"], json!({}));
    assert_eq!(rotated["probe"], json!({"ok": true}));
    let probe = fake.requests().pop().unwrap();
    assert_eq!(probe.headers["x-api-key"], "sk-ant-new-key-0000");
    assert!(probe.headers.get("x-team-token").is_none());
    assert!(rotated["updated_at"].as_str() >= card["updated_at"].as_str());

    assert_eq!(
        api.post("/v1/model_cards/mdl_missing", json!({"model": "m"}))
            .await
            .status,
        404
    );
}

async fn probe_failures_say_what_is_wrong_and_store_nothing(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    let attempt = |body: Value| {
        let api = api.clone();
        async move {
            let reply = api.post("/v1/model_cards", body).await;
            assert_eq!(reply.status, 400, "{}", reply.text);
            assert_no_secret(&reply.text);
            (
                reply.body["error"]["details"]["error_code"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                reply.error_message().to_owned(),
            )
        }
    };

    fake.accept_keys(&["the-only-good-key-1234"]);
    for provider in ["ant", "oai"] {
        let (code, message) = attempt(card_body(fake, "k", provider)).await;
        assert_eq!(code, "invalid_api_key", "{message}");
        assert!(message.contains("rejected the API key"), "{message}");
    }
    fake.accept_keys(&[KEY]);

    fake.know_models(&["wire-known"]);
    for provider in ["ant-compatible", "oai-compatible"] {
        let (code, message) = attempt(card_body(fake, "unknown", provider)).await;
        assert_eq!(code, "unknown_model", "{message}");
        assert!(message.contains("wire-unknown"), "{message}");
    }
    let mut known = card_body(fake, "known", "oai");
    known["model"] = json!("wire-known");
    api.post("/v1/model_cards", known).await.expect(200);
    fake.know_any_model();

    let mut elsewhere = card_body(fake, "elsewhere", "ant");
    elsewhere["base_url"] = json!(format!("{}/not-an-api", fake.base_url));
    let (code, message) = attempt(elsewhere).await;
    assert_eq!(code, "wrong_protocol", "{message}");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut unreachable = card_body(fake, "nowhere", "oai-compatible");
    unreachable["base_url"] = json!(format!("http://{closed}/v1"));
    let (code, message) = attempt(unreachable).await;
    assert_eq!(code, "provider_unreachable", "{message}");
    assert!(message.contains(&closed.to_string()), "{message}");

    fake.push_probe(ModelReply::error(
        400,
        "invalid_request_error",
        "your organization is suspended",
    ));
    let (code, message) = attempt(card_body(fake, "suspended", "ant")).await;
    assert_eq!(code, "probe_refused", "{message}");
    assert!(message.contains("suspended"), "{message}");

    let listed = cards(&api, "").await;
    assert_eq!(listed.len(), 1, "only the card that passed was stored");
    assert_eq!(listed[0]["model_id"], "known");
}

/// A server without `BERTH_ALLOW_PRIVATE_EGRESS` refuses cards that point at loopback, private
/// or link-local addresses, by literal address or by a name that resolves to one, while the
/// operator's own base URL keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_unless_the_operator_allows_them() {
    let fake = FakeModel::start().await;
    let base = fake.base_url.clone();
    let server = berth_test_support::spawn_server_with(|c| {
        c.anthropic_api_key = Some("sk-ant-operator".to_owned());
        c.anthropic_base_url = Some(base.clone());
    })
    .await;
    let api = server.api();
    let port = fake.base_url.rsplit(':').next().unwrap();
    for url in [
        fake.base_url.clone(),
        format!("http://localhost:{port}"),
        "http://169.254.169.254".to_owned(),
        "http://10.1.2.3:8080".to_owned(),
        "http://[::1]:9".to_owned(),
    ] {
        let mut body = card_body(&fake, "private", "ant-compatible");
        body["base_url"] = json!(url);
        let reply = api.post("/v1/model_cards", body).await;
        assert_eq!(reply.status, 400, "{url}: {}", reply.text);
        assert_eq!(
            reply.body["error"]["details"]["error_code"], "egress_refused",
            "{url}"
        );
        assert!(reply.error_message().contains("BERTH_ALLOW_PRIVATE_EGRESS"));
    }
    let mut ftp = card_body(&fake, "ftp", "ant-compatible");
    ftp["base_url"] = json!("ftp://example.com");
    assert_eq!(api.post("/v1/model_cards", ftp).await.status, 400);
    assert!(
        fake.requests().is_empty(),
        "nothing was sent to a refused address"
    );
    assert!(cards(&api, "").await.is_empty());

    // The operator's ANTHROPIC_BASE_URL is on loopback too, and serves turns.
    let session = berth_test_support::sessions::new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    berth_test_support::sessions::say(&api, id, "hello").await;
    berth_test_support::sessions::wait_for_turns(&api, id, 1, 15).await;
    let events = berth_test_support::sessions::all_events(&api, id).await;
    assert!(events.iter().any(|e| e["type"] == "agent.message"));
    server.stop().await;
}

/// At most one default card per tenant; it serves agents whose model names no card. Archived
/// cards are hidden from lists, serve no agent and cannot be changed.
async fn a_default_card_serves_agents_whose_model_names_no_card(
    server: &TestServer,
    fake: &FakeModel,
) {
    use berth_test_support::sessions::{new_session, say, wait_for_turns};
    let api = server.api();
    let mut first_body = card_body(fake, "first", "ant");
    first_body["is_default"] = json!(true);
    let first = api.post("/v1/model_cards", first_body).await.expect(200);
    assert_eq!(first["is_default"], true);
    let mut second_body = card_body(fake, "second", "ant");
    second_body["is_default"] = json!(true);
    let second = api.post("/v1/model_cards", second_body).await.expect(200);
    let (first_id, second_id) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let shown = |card: Value| (card["model_id"].clone(), card["is_default"].clone());
    assert_eq!(
        shown(
            api.get(&format!("/v1/model_cards/{first_id}"))
                .await
                .expect(200)
        ),
        (json!("first"), json!(false)),
        "the new default took over"
    );
    assert_eq!(
        shown(
            api.get(&format!("/v1/model_cards/{second_id}"))
                .await
                .expect(200)
        ),
        (json!("second"), json!(true))
    );

    // An agent whose model names no card runs on the default card.
    let session = new_session(&api, json!({"model": "no-such-card"})).await;
    let session_id = session["id"].as_str().unwrap();
    fake.clear_records();
    say(&api, session_id, "hello").await;
    wait_for_turns(&api, session_id, 1, 20).await;
    assert_eq!(fake.turn_requests()[0].body["model"], "wire-second");

    // Archived: hidden, not the default, unchangeable; the agent falls back to the server's
    // own provider, which gets the agent's model as it is.
    let archived = api
        .post(&format!("/v1/model_cards/{second_id}/archive"), json!({}))
        .await
        .expect(200);
    assert!(archived["archived_at"].is_string(), "{archived}");
    assert_eq!(archived["is_default"], false);
    let listed: Vec<Value> = cards(&api, "")
        .await
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(listed, vec![json!(first_id)]);
    let refused = api
        .post(
            &format!("/v1/model_cards/{second_id}"),
            json!({"is_default": true}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(
        refused.body["error"]["details"]["error_code"],
        "model_card_archived"
    );
    fake.clear_records();
    say(&api, session_id, "again").await;
    wait_for_turns(&api, session_id, 2, 20).await;
    assert_eq!(fake.turn_requests()[0].body["model"], "no-such-card");

    // Making a card the default by update works the same way.
    let updated = api
        .post(
            &format!("/v1/model_cards/{first_id}"),
            json!({"is_default": true}),
        )
        .await
        .expect(200);
    assert_eq!(updated["is_default"], true);
}
