//! The HTTP surface: one module per resource, assembled into one router here. Each documented
//! route is declared once, with `routes!`, which registers its handler with the router and its
//! annotation with the OpenAPI document ([`crate::openapi`]); aliases the document does not list
//! (`PATCH` for updates, the second model-card prefix, the short stream path) are plain routes.

pub mod agents;
pub mod api_keys;
pub mod credentials;
pub mod document_resource;
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

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::listing::json_response;
use crate::state::AppState;
use crate::{openapi, request_id};

type Routes = OpenApiRouter<Arc<AppState>>;

/// Request body limits of the routes that take uploads.
pub struct BodyLimits {
    /// A file upload (multipart): the largest file plus room for the form around it.
    pub upload: usize,
    /// A skill upload (multipart): all of a skill's files plus room for the form.
    pub skill: usize,
}

impl BodyLimits {
    pub fn new(max_upload_bytes: u64) -> Self {
        Self {
            upload: usize::try_from(max_upload_bytes)
                .unwrap_or(usize::MAX)
                .saturating_add(1 << 20),
            skill: usize::try_from(berth_protocol::skill::MAX_SKILL_TOTAL_BYTES)
                .unwrap_or(usize::MAX)
                .saturating_add(1 << 20),
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let limits = BodyLimits::new(state.config.max_upload_bytes);
    let throttle =
        axum::middleware::from_fn_with_state(Arc::clone(&state), crate::throttle::middleware);
    let (routes, _) = api(&limits, |v1| v1.layer(throttle)).split_for_parts();
    routes
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn(crate::nul::middleware))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.runtime.metrics),
            request_id::middleware,
        ))
        .with_state(state)
}

/// The OpenAPI document of every route, from the same declarations the router is built from.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = api(&BodyLimits::new(0), |v1| v1).into_openapi();
    openapi::finish(&mut document);
    document
}

/// The document as pretty JSON, made once (the snapshot test reads it too).
pub fn document_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        document().to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot encode the OpenAPI document");
            "{}".to_owned()
        })
    })
}

async fn serve_document() -> axum::response::Response {
    json_response(axum::http::StatusCode::OK, document_json().to_owned())
}

/// Every route: `/healthz`, `/readyz`, and the API under `/v1`, which `wrap_v1` may layer.
fn api(limits: &BodyLimits, wrap_v1: impl FnOnce(Routes) -> Routes) -> Routes {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .nest("/v1", wrap_v1(v1(limits)))
}

/// A route whose path ends in a wildcard (`{*path}`): the document names the parameter
/// (`{path}`), the router needs the wildcard, so the two are registered apart.
fn wildcard(
    routes: Routes,
    axum_path: &str,
    (schemas, paths, method_router): UtoipaMethodRouter<Arc<AppState>>,
) -> Routes {
    let mut routes = routes.route(axum_path, method_router);
    let doc = routes.get_openapi_mut();
    doc.paths.paths.extend(paths.paths);
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
    routes
}

fn v1(limits: &BodyLimits) -> Routes {
    let upload_limit = DefaultBodyLimit::max(limits.upload);
    let skill_limit = DefaultBodyLimit::max(limits.skill);
    let routes = OpenApiRouter::new()
        .routes(routes!(files::upload).layer(upload_limit))
        .routes(routes!(files::list))
        .routes(routes!(files::retrieve, files::remove))
        .routes(routes!(files::content))
        .routes(routes!(skills::create).layer(skill_limit))
        .routes(routes!(skills::list))
        .routes(routes!(skills::retrieve, skills::remove))
        .routes(routes!(skills::create_version).layer(skill_limit))
        .routes(routes!(skills::list_versions))
        .routes(routes!(skills::retrieve_version, skills::remove_version))
        .routes(routes!(skills::version_content))
        .routes(routes!(files::outputs))
        .routes(routes!(resources::list, resources::add))
        .routes(routes!(
            resources::retrieve,
            resources::update,
            resources::remove
        ))
        .routes(routes!(agents::create, agents::list))
        .routes(routes!(agents::retrieve, agents::update, agents::delete))
        .route("/agents/{agent_id}", patch(agents::update))
        .routes(routes!(agents::archive))
        .routes(routes!(agents::list_versions))
        .routes(routes!(agents::retrieve_version))
        .routes(routes!(environments::create, environments::list))
        .routes(routes!(
            environments::retrieve,
            environments::update,
            environments::delete
        ))
        .route(
            "/environments/{environment_id}",
            patch(environments::update),
        )
        .routes(routes!(environments::archive))
        .routes(routes!(vaults::create, vaults::list))
        .routes(routes!(vaults::retrieve, vaults::update, vaults::delete))
        .route("/vaults/{vault_id}", patch(vaults::update))
        .routes(routes!(vaults::archive))
        .routes(routes!(credentials::create, credentials::list))
        .routes(routes!(
            credentials::retrieve,
            credentials::update,
            credentials::delete
        ))
        .route(
            "/vaults/{vault_id}/credentials/{credential_id}",
            patch(credentials::update),
        )
        .routes(routes!(credentials::archive))
        .routes(routes!(credentials::mcp_oauth_validate))
        .routes(routes!(memory::create_store, memory::list_stores))
        .routes(routes!(
            memory::retrieve_store,
            memory::update_store,
            memory::delete_store
        ))
        .route(
            "/memory_stores/{memory_store_id}",
            patch(memory::update_store),
        )
        .routes(routes!(memory::archive_store))
        .routes(routes!(memory::entries))
        .routes(routes!(memory::search))
        .routes(routes!(memory::create_memory, memory::list_memories))
        .routes(routes!(
            memory::retrieve_memory,
            memory::update_memory,
            memory::delete_memory
        ))
        .route(
            "/memory_stores/{memory_store_id}/memories/{memory_id}",
            patch(memory::update_memory),
        )
        .routes(routes!(memory::list_versions))
        .routes(routes!(memory::retrieve_version))
        .routes(routes!(memory::redact_version))
        .routes(routes!(sessions::create, sessions::list))
        .routes(routes!(
            sessions::retrieve,
            sessions::update,
            sessions::delete
        ))
        .route("/sessions/{session_id}", patch(sessions::update))
        .routes(routes!(sessions::archive))
        .routes(routes!(sessions::cancel))
        .routes(routes!(events::list, events::send))
        .routes(routes!(events::stream))
        .route("/sessions/{session_id}/stream", get(events::stream))
        .routes(routes!(events::full_log))
        .routes(routes!(events::message))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(api_keys::list_tenants, api_keys::create_tenant))
        .routes(routes!(model_cards::list, model_cards::create))
        .routes(routes!(
            model_cards::retrieve,
            model_cards::update,
            model_cards::delete
        ))
        // Model cards are an Open Managed Agents extension, served under both of its prefixes.
        .route(
            "/oma/model_cards",
            get(model_cards::list).post(model_cards::create),
        )
        .route(
            "/oma/model_cards/{model_card_id}",
            get(model_cards::retrieve)
                .post(model_cards::update)
                .delete(model_cards::delete),
        )
        .route("/openapi.json", get(serve_document));
    let routes = wildcard(
        routes,
        "/skills/{skill_id}/files/{*path}",
        routes!(skills::file),
    );
    let routes = wildcard(
        routes,
        "/skills/{skill_id}/versions/{version}/files/{*path}",
        routes!(skills::version_file),
    );
    wildcard(
        routes,
        "/sessions/{session_id}/outputs/{*filename}",
        routes!(files::output),
    )
}

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        berth_protocol::ErrorType::NotFoundError,
        format!("no route matches {method} {}", uri.path()),
    )
}
