//! The OpenAPI document is generated from the protocol types; this snapshot fails when it
//! drifts, so API changes are always reviewed as a diff of the document.

#[test]
fn openapi_document_matches_snapshot() {
    let document: serde_json::Value =
        serde_json::from_str(berth_server::openapi::document_json()).unwrap();
    assert_eq!(document["info"]["title"], "Berth");
    insta::assert_json_snapshot!("openapi", document);
}

#[tokio::test]
async fn openapi_is_served() {
    let server = berth_test_support::spawn_server().await;
    let doc = server.api().get("/v1/openapi.json").await.expect(200);
    assert!(doc["paths"]["/v1/agents"].is_object());
    assert!(doc["components"]["schemas"]["Agent"].is_object());
    server.stop().await;
}
