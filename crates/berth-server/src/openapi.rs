//! The OpenAPI document, generated from the protocol types and the route annotations, served at
//! `GET /v1/openapi.json`. A snapshot test fails when it drifts.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::listing::json_response;
use crate::routes::{
    agents, api_keys, credentials, environments, events, files, health, memory, model_cards,
    resources, sessions, skills, vaults,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth",
        description = "A self-hosted managed-agents server speaking the Claude Managed Agents API \
                       and the Open Managed Agents extensions."
    ),
    paths(
        health::healthz,
        health::readyz,
        agents::create,
        agents::retrieve,
        agents::update,
        agents::list,
        agents::list_versions,
        agents::retrieve_version,
        agents::archive,
        agents::delete,
        environments::create,
        environments::retrieve,
        environments::update,
        environments::list,
        environments::archive,
        environments::delete,
        vaults::create,
        vaults::retrieve,
        vaults::update,
        vaults::list,
        vaults::archive,
        vaults::delete,
        credentials::create,
        credentials::retrieve,
        credentials::update,
        credentials::list,
        credentials::archive,
        credentials::delete,
        credentials::mcp_oauth_validate,
        sessions::create,
        sessions::retrieve,
        sessions::update,
        sessions::list,
        sessions::archive,
        sessions::delete,
        sessions::cancel,
        events::send,
        events::list,
        events::stream,
        events::full_log,
        events::message,
        api_keys::create,
        api_keys::list,
        api_keys::revoke,
        api_keys::create_tenant,
        api_keys::list_tenants,
        resources::add,
        resources::list,
        resources::retrieve,
        resources::update,
        resources::remove,
        skills::create,
        skills::list,
        skills::retrieve,
        skills::remove,
        skills::create_version,
        skills::list_versions,
        skills::retrieve_version,
        skills::remove_version,
        skills::version_content,
        skills::file,
        files::upload,
        files::list,
        files::retrieve,
        files::content,
        files::remove,
        files::outputs,
        files::output,
        model_cards::create,
        model_cards::retrieve,
        model_cards::update,
        model_cards::list,
        model_cards::delete,
        memory::create_store,
        memory::retrieve_store,
        memory::update_store,
        memory::list_stores,
        memory::archive_store,
        memory::delete_store,
        memory::entries,
        memory::search,
        memory::create_memory,
        memory::retrieve_memory,
        memory::update_memory,
        memory::list_memories,
        memory::delete_memory,
        memory::list_versions,
        memory::retrieve_version,
        memory::redact_version,
    ),
    modifiers(&Security),
    security(("api_key" = []), ("bearer" = []))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as pretty JSON (stable across runs; used by the snapshot test too).
pub fn document_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}

pub async fn document() -> Response {
    json_response(StatusCode::OK, document_json().to_owned())
}
