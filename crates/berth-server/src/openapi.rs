//! The OpenAPI document, generated from the protocol types and the route annotations (collected
//! where the routes are declared, in [`crate::routes`]), served at `GET /v1/openapi.json`. A
//! snapshot test fails when it drifts.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::listing::json_response;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth",
        description = "A self-hosted managed-agents server speaking the Claude Managed Agents API \
                       and the Open Managed Agents extensions."
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

/// The document's title, description and security schemes; the paths come from the routes.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The event union's last variant keeps events of any other type verbatim (`#[serde(untagged)]`),
/// which the schema derive cannot express: it would document a variant whose `type` is the
/// literal `"Other"`. This puts the truth in its place: an object with some other `type` and any
/// fields.
pub fn open_event_union(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
    let Some(RefOr::T(Schema::OneOf(union))) = document
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut("EventBody"))
    else {
        return;
    };
    for variant in &mut union.items {
        let RefOr::T(Schema::Object(object)) = variant else {
            continue;
        };
        let is_other = object.properties.get("type").is_some_and(|kind| {
            matches!(kind, RefOr::T(Schema::Object(kind))
                if kind.enum_values.as_deref() == Some(&[serde_json::json!("Other")][..]))
        });
        if is_other {
            *variant = ObjectBuilder::new()
                .description(Some(
                    "An event of a type this server does not model (a future or foreign event), \
                     kept verbatim.",
                ))
                .property("type", ObjectBuilder::new().schema_type(Type::String))
                .required("type")
                .additional_properties(Some(AdditionalProperties::FreeForm(true)))
                .into();
        }
    }
}

/// The document as pretty JSON (stable across runs; used by the snapshot test too).
pub fn document_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        crate::routes::document()
            .to_pretty_json()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot encode the OpenAPI document");
                "{}".to_owned()
            })
    })
}

pub async fn document() -> Response {
    json_response(StatusCode::OK, document_json().to_owned())
}
