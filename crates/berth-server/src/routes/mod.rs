//! The HTTP surface: one module per resource, assembled into one router here. Each documented
//! route is declared once, in [`V1`] (or [`ROOT`]): the router registers its handler at the path
//! and methods of its `#[utoipa::path]` annotation, and the OpenAPI document ([`document`]) is
//! built from the same entries when it is first asked for, so a running server never holds the
//! document's schemas unless a client reads them. Aliases the document does not list (`PATCH`
//! for updates, the second model-card prefix, the short stream path) are plain routes.

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
use axum::routing::{MethodRouter, get, patch};
use utoipa_axum::PathItemExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::listing::json_response;
use crate::state::AppState;
use crate::{openapi, request_id};

type Routes = OpenApiRouter<Arc<AppState>>;
type Plain = Router<Arc<AppState>>;

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

/// One documented handler: how to register it with the router, and with the document.
struct Entry {
    register: fn(Plain, &BodyLimits) -> Plain,
    document: fn(Routes) -> Routes,
}

/// The [`Entry`] of a handler annotated with `#[utoipa::path]`. The router takes its path and
/// methods from the annotation (no schema is built); `limit = field` puts the body limit
/// `BodyLimits::field` on it; `wildcard` serves its last path parameter as a `{*rest}` wildcard,
/// which the document names as a plain parameter.
macro_rules! entry {
    ($module:ident :: $handler:ident) => {
        entry!(@make $module $handler, [], [])
    };
    ($module:ident :: $handler:ident; limit = $limit:ident) => {
        entry!(@make $module $handler, [$limit], [])
    };
    ($module:ident :: $handler:ident; wildcard) => {
        entry!(@make $module $handler, [], [wildcard])
    };
    (@make $module:ident $handler:ident, [$($limit:ident)?], [$($wrap:ident)?]) => {
        Entry {
            register: |router, _limits| {
                paste::paste! {
                    let path = <$module::[<__path_ $handler>] as utoipa::Path>::path();
                    let methods = <$module::[<__path_ $handler>] as utoipa::Path>::methods();
                }
                let handler = methods.iter().fold(MethodRouter::new(), |routes, method| {
                    routes.on(method.to_method_filter(), $module::$handler)
                });
                $( let handler = handler.layer(DefaultBodyLimit::max(_limits.$limit)); )?
                $( let path = $wrap(&path); )?
                router.route(&path, handler)
            },
            document: |routes| routes.routes(routes!($module::$handler)),
        }
    };
}

/// `/a/{b}/{c}` as `/a/{b}/{*c}`.
fn wildcard(path: &str) -> String {
    match path.rsplit_once("/{") {
        Some((head, last)) => format!("{head}/{{*{last}"),
        None => path.to_owned(),
    }
}

/// The routes outside `/v1`.
const ROOT: &[Entry] = &[entry!(health::healthz), entry!(health::readyz)];

/// Every documented route under `/v1`.
const V1: &[Entry] = &[
    entry!(files::upload; limit = upload),
    entry!(files::list),
    entry!(files::retrieve),
    entry!(files::remove),
    entry!(files::content),
    entry!(files::outputs),
    entry!(files::output; wildcard),
    entry!(skills::create; limit = skill),
    entry!(skills::list),
    entry!(skills::retrieve),
    entry!(skills::remove),
    entry!(skills::create_version; limit = skill),
    entry!(skills::list_versions),
    entry!(skills::retrieve_version),
    entry!(skills::remove_version),
    entry!(skills::version_content),
    entry!(skills::file; wildcard),
    entry!(skills::version_file; wildcard),
    entry!(resources::list),
    entry!(resources::add),
    entry!(resources::retrieve),
    entry!(resources::update),
    entry!(resources::remove),
    entry!(agents::create),
    entry!(agents::list),
    entry!(agents::retrieve),
    entry!(agents::update),
    entry!(agents::delete),
    entry!(agents::archive),
    entry!(agents::list_versions),
    entry!(agents::retrieve_version),
    entry!(environments::create),
    entry!(environments::list),
    entry!(environments::retrieve),
    entry!(environments::update),
    entry!(environments::delete),
    entry!(environments::archive),
    entry!(vaults::create),
    entry!(vaults::list),
    entry!(vaults::retrieve),
    entry!(vaults::update),
    entry!(vaults::delete),
    entry!(vaults::archive),
    entry!(credentials::create),
    entry!(credentials::list),
    entry!(credentials::retrieve),
    entry!(credentials::update),
    entry!(credentials::delete),
    entry!(credentials::archive),
    entry!(credentials::mcp_oauth_validate),
    entry!(memory::create_store),
    entry!(memory::list_stores),
    entry!(memory::retrieve_store),
    entry!(memory::update_store),
    entry!(memory::delete_store),
    entry!(memory::archive_store),
    entry!(memory::entries),
    entry!(memory::search),
    entry!(memory::create_memory),
    entry!(memory::list_memories),
    entry!(memory::retrieve_memory),
    entry!(memory::update_memory),
    entry!(memory::delete_memory),
    entry!(memory::list_versions),
    entry!(memory::retrieve_version),
    entry!(memory::redact_version),
    entry!(sessions::create),
    entry!(sessions::list),
    entry!(sessions::retrieve),
    entry!(sessions::update),
    entry!(sessions::delete),
    entry!(sessions::archive),
    entry!(sessions::cancel),
    entry!(events::list),
    entry!(events::send),
    entry!(events::stream),
    entry!(events::full_log),
    entry!(events::message),
    entry!(api_keys::list),
    entry!(api_keys::create),
    entry!(api_keys::revoke),
    entry!(api_keys::list_tenants),
    entry!(api_keys::create_tenant),
    entry!(model_cards::list),
    entry!(model_cards::create),
    entry!(model_cards::retrieve),
    entry!(model_cards::update),
    entry!(model_cards::delete),
    entry!(model_cards::archive),
];

pub fn router(state: Arc<AppState>) -> Router {
    let limits = BodyLimits::new(state.config.max_upload_bytes);
    let throttle =
        axum::middleware::from_fn_with_state(Arc::clone(&state), crate::throttle::middleware);
    let v1 = V1.iter().fold(Router::new(), |router, entry| {
        (entry.register)(router, &limits)
    });
    let root = ROOT.iter().fold(Router::new(), |router, entry| {
        (entry.register)(router, &limits)
    });
    root.nest("/v1", aliases(v1).layer(throttle))
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn(crate::nul::middleware))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.runtime.metrics),
            request_id::middleware,
        ))
        .with_state(state)
}

/// Paths the document does not list: `PATCH` for updates (the seed's form of the contract's
/// `POST`), the short stream path, model cards under OMA's prefix, and the document itself.
fn aliases(v1: Plain) -> Plain {
    v1.route("/agents/{agent_id}", patch(agents::update))
        .route(
            "/environments/{environment_id}",
            patch(environments::update),
        )
        .route("/vaults/{vault_id}", patch(vaults::update))
        .route(
            "/vaults/{vault_id}/credentials/{credential_id}",
            patch(credentials::update),
        )
        .route(
            "/memory_stores/{memory_store_id}",
            patch(memory::update_store),
        )
        .route(
            "/memory_stores/{memory_store_id}/memories/{memory_id}",
            patch(memory::update_memory),
        )
        .route("/sessions/{session_id}", patch(sessions::update))
        .route("/sessions/{session_id}/stream", get(events::stream))
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
        .route(
            "/oma/model_cards/{model_card_id}/archive",
            axum::routing::post(model_cards::archive),
        )
        .route("/openapi.json", get(serve_document))
}

/// The OpenAPI document of every route, from the same entries the router is built from.
pub fn document() -> utoipa::openapi::OpenApi {
    let v1 = V1.iter().fold(OpenApiRouter::new(), |routes, entry| {
        (entry.document)(routes)
    });
    let mut document = ROOT
        .iter()
        .fold(
            OpenApiRouter::with_openapi(openapi::base()),
            |routes, entry| (entry.document)(routes),
        )
        .nest("/v1", v1)
        .into_openapi();
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

async fn unknown_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        berth_protocol::ErrorType::NotFoundError,
        format!("no route matches {method} {}", uri.path()),
    )
}
