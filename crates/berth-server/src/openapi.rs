//! The OpenAPI document's frame — title, description, security schemes — and the finishing
//! touches the derives cannot make. The paths come from the route declarations, which build the
//! document ([`crate::routes::document`]) served at `GET /v1/openapi.json`. A snapshot test fails
//! when it drifts.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

/// Completes a document built from the routes: unique operation ids and the open end of the
/// event union.
pub fn finish(document: &mut utoipa::openapi::OpenApi) {
    qualify_operation_ids(document);
    open_event_union(document);
}

/// Handlers are named after what they do within their module (`list`, `create`), so an
/// operation's id is its tag and its handler's name (`agents_list`), unique in the document.
fn qualify_operation_ids(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let tag = operation.tags.as_ref().and_then(|tags| tags.first());
            if let (Some(tag), Some(id)) = (tag, operation.operation_id.as_mut()) {
                *id = format!("{tag}_{id}");
            }
        }
    }
}

/// The event union's last variant keeps events of any other type verbatim (`#[serde(untagged)]`),
/// which the schema derive cannot express: it would document a variant whose `type` is the
/// literal `"Other"`. This puts the truth in its place: an object with some other `type` and any
/// fields.
fn open_event_union(document: &mut utoipa::openapi::OpenApi) {
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
