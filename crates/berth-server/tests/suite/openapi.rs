//! The OpenAPI document is generated from the protocol types; this snapshot fails when it
//! drifts, so API changes are always reviewed as a diff of the document.

#[test]
fn openapi_document_matches_snapshot() {
    let document: serde_json::Value =
        serde_json::from_str(berth_server::routes::document_json()).unwrap();
    assert_eq!(document["info"]["title"], "Berth");
    let mut ids = std::collections::BTreeSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} is not unique");
        }
    }
    insta::assert_json_snapshot!("openapi", document);
}

#[tokio::test]
async fn openapi_is_served() {
    let server = berth_test_support::spawn_server().await;
    let doc = server.api().get("/v1/openapi.json").await.expect(200);
    assert!(doc["paths"]["/v1/agents"].is_object());
    assert!(doc["components"]["schemas"]["Agent"].is_object());
    // The event union is in the document, each type with its fields.
    let union = doc["components"]["schemas"]["EventBody"]["oneOf"]
        .as_array()
        .unwrap();
    let types: Vec<&str> = union
        .iter()
        .filter_map(|variant| variant["properties"]["type"]["enum"][0].as_str())
        .collect();
    for kind in [
        "user.message",
        "agent.tool_use",
        "session.status_idle",
        "span.model_request_end",
    ] {
        assert!(types.contains(&kind), "{kind} is missing from {types:?}");
    }
    server.stop().await;
}
