//! The HTTP surface: one module per resource, assembled into one router here.

pub mod agents;
pub mod api_keys;
pub mod credentials;
pub mod environments;
pub mod events;
pub mod files;
pub mod health;
pub mod memory;
pub mod model_cards;
pub mod resources;
pub mod sessions;
pub mod skills;
pub mod vaults;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;
use crate::{openapi, request_id};

pub fn router(state: Arc<AppState>) -> Router {
    // Uploads stream to blob storage and check their own size; the body limit only bounds the
    // whole multipart request.
    let upload_limit = DefaultBodyLimit::max(
        usize::try_from(state.config.max_upload_bytes)
            .unwrap_or(usize::MAX)
            .saturating_add(1 << 20),
    );
    let skill_limit = DefaultBodyLimit::max(
        usize::try_from(berth_protocol::skill::MAX_SKILL_TOTAL_BYTES).unwrap_or(usize::MAX)
            + (1 << 20),
    );
    let v1 = Router::new()
        .route(
            "/files",
            post(files::upload).layer(upload_limit).get(files::list),
        )
        .route(
            "/files/{file_id}",
            get(files::retrieve).delete(files::remove),
        )
        .route("/files/{file_id}/content", get(files::content))
        .route(
            "/skills",
            post(skills::create).layer(skill_limit).get(skills::list),
        )
        .route(
            "/skills/{skill_id}",
            get(skills::retrieve).delete(skills::remove),
        )
        .route(
            "/skills/{skill_id}/versions",
            post(skills::create_version)
                .layer(skill_limit)
                .get(skills::list_versions),
        )
        .route(
            "/skills/{skill_id}/versions/{version}",
            get(skills::retrieve_version).delete(skills::remove_version),
        )
        .route(
            "/skills/{skill_id}/versions/{version}/content",
            get(skills::version_content),
        )
        .route("/skills/{skill_id}/files/{*path}", get(skills::file))
        .route("/sessions/{session_id}/outputs", get(files::outputs))
        .route(
            "/sessions/{session_id}/resources",
            get(resources::list).post(resources::add),
        )
        .route(
            "/sessions/{session_id}/resources/{resource_id}",
            get(resources::retrieve)
                .post(resources::update)
                .delete(resources::remove),
        )
        .route(
            "/sessions/{session_id}/outputs/{*filename}",
            get(files::output),
        )
        .route("/agents", post(agents::create).get(agents::list))
        .route(
            "/agents/{agent_id}",
            get(agents::retrieve)
                .post(agents::update)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route("/agents/{agent_id}/archive", post(agents::archive))
        .route("/agents/{agent_id}/versions", get(agents::list_versions))
        .route(
            "/agents/{agent_id}/versions/{version}",
            get(agents::retrieve_version),
        )
        .route(
            "/environments",
            post(environments::create).get(environments::list),
        )
        .route(
            "/environments/{environment_id}",
            get(environments::retrieve)
                .post(environments::update)
                .patch(environments::update)
                .delete(environments::delete),
        )
        .route(
            "/environments/{environment_id}/archive",
            post(environments::archive),
        )
        .route("/vaults", post(vaults::create).get(vaults::list))
        .route(
            "/vaults/{vault_id}",
            get(vaults::retrieve)
                .post(vaults::update)
                .patch(vaults::update)
                .delete(vaults::delete),
        )
        .route("/vaults/{vault_id}/archive", post(vaults::archive))
        .route(
            "/vaults/{vault_id}/credentials",
            post(credentials::create).get(credentials::list),
        )
        .route(
            "/vaults/{vault_id}/credentials/{credential_id}",
            get(credentials::retrieve)
                .post(credentials::update)
                .patch(credentials::update)
                .delete(credentials::delete),
        )
        .route(
            "/vaults/{vault_id}/credentials/{credential_id}/archive",
            post(credentials::archive),
        )
        .route(
            "/vaults/{vault_id}/credentials/{credential_id}/mcp_oauth_validate",
            post(credentials::mcp_oauth_validate),
        )
        .route(
            "/memory_stores",
            post(memory::create_store).get(memory::list_stores),
        )
        .route(
            "/memory_stores/{memory_store_id}",
            get(memory::retrieve_store)
                .post(memory::update_store)
                .patch(memory::update_store)
                .delete(memory::delete_store),
        )
        .route(
            "/memory_stores/{memory_store_id}/archive",
            post(memory::archive_store),
        )
        .route(
            "/memory_stores/{memory_store_id}/entries",
            get(memory::entries),
        )
        .route(
            "/memory_stores/{memory_store_id}/search",
            post(memory::search),
        )
        .route(
            "/memory_stores/{memory_store_id}/memories",
            post(memory::create_memory).get(memory::list_memories),
        )
        .route(
            "/memory_stores/{memory_store_id}/memories/{memory_id}",
            get(memory::retrieve_memory)
                .post(memory::update_memory)
                .patch(memory::update_memory)
                .delete(memory::delete_memory),
        )
        .route(
            "/memory_stores/{memory_store_id}/memory_versions",
            get(memory::list_versions),
        )
        .route(
            "/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}",
            get(memory::retrieve_version),
        )
        .route(
            "/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact",
            post(memory::redact_version),
        )
        .route("/sessions", post(sessions::create).get(sessions::list))
        .route(
            "/sessions/{session_id}",
            get(sessions::retrieve)
                .post(sessions::update)
                .patch(sessions::update)
                .delete(sessions::delete),
        )
        .route("/sessions/{session_id}/archive", post(sessions::archive))
        .route("/sessions/{session_id}/cancel", post(sessions::cancel))
        .route(
            "/sessions/{session_id}/events",
            get(events::list).post(events::send),
        )
        .route("/sessions/{session_id}/events/stream", get(events::stream))
        .route("/sessions/{session_id}/stream", get(events::stream))
        .route("/sessions/{session_id}/log", get(events::full_log))
        .route("/sessions/{session_id}/messages", post(events::message))
        .route("/api_keys", get(api_keys::list).post(api_keys::create))
        .route(
            "/api_keys/{api_key_id}",
            axum::routing::delete(api_keys::revoke),
        )
        .route(
            "/tenants",
            get(api_keys::list_tenants).post(api_keys::create_tenant),
        )
        .route("/openapi.json", get(openapi::document));
    // Model cards are an Open Managed Agents extension, served under both of its prefixes.
    let v1 = ["/model_cards", "/oma/model_cards"]
        .into_iter()
        .fold(v1, |v1, base| {
            v1.route(base, get(model_cards::list).post(model_cards::create))
                .route(
                    &format!("{base}/{{model_card_id}}"),
                    get(model_cards::retrieve)
                        .post(model_cards::update)
                        .delete(model_cards::delete),
                )
        });
    let v1 = v1.layer(axum::middleware::from_fn_with_state(
        Arc::clone(&state),
        crate::throttle::middleware,
    ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest("/v1", v1)
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.runtime.metrics),
            request_id::middleware,
        ))
        .with_state(state)
}

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        berth_protocol::ErrorType::NotFoundError,
        format!("no route matches {method} {}", uri.path()),
    )
}
