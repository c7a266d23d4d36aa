//! The OpenAPI 3.1 description of the HTTP API, generated at compile time
//! from the `#[utoipa::path]` attributes on the handlers in [`crate::api`]
//! and served at `GET /v1/openapi.json`.
//!
//! What the router adds to many routes at once is added here rather than on
//! each handler: the `408` of the request time limit and the `500` of an
//! internal failure (every route), and the `429` of the per-client write
//! limit (every `POST` and `PUT`).

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::api;
use crate::error::AppError;

/// The API description: every route of [`crate::api::app`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "sealwax-log",
        description = "The sealwax transparency log: submit key registrations, key revocations and \
                       release signatures; read signed checkpoints, C2SP tiles, proofs, key \
                       histories and artifacts. Every error is a JSON `{\"error\": \"...\"}`."
    ),
    paths(
        api::entries::submit,
        api::tiles::checkpoint,
        api::tiles::tile,
        api::entries::get_entry,
        api::proofs::inclusion_proof,
        api::proofs::consistency_proof,
        api::keys::publisher_keys,
        api::releases::release,
        api::signatures::signatures,
        api::artifacts::put_artifact,
        api::artifacts::get_artifact,
        api::limits::limits,
        api::ops::log_key,
        api::ops::healthz,
        api::ops::metrics,
        openapi_json,
    ),
    modifiers(&RouterWide),
    tags(
        (name = "submit", description = "Adding entries to the log"),
        (name = "tiles", description = "The C2SP tlog-tiles read API"),
        (name = "read", description = "Entries, proofs, key histories and signature lookups"),
        (name = "artifacts", description = "The optional artifact store and its limits"),
        (name = "operations", description = "Verifier key, liveness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The name of the admin-token security scheme in the document.
pub const ADMIN_TOKEN: &str = "admin_token";

/// Adds what the router adds to every route, and the admin-token scheme.
struct RouterWide;

impl Modify for RouterWide {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                ADMIN_TOKEN,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "The contents of the log's --admin-token-file; needed only for \
                             operator registrations and revocations",
                        ))
                        .build(),
                ),
            );
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.put, &mut item.post].into_iter().flatten() {
                let mut r = error_response(
                    "This client sent more writes than the log's per-client limit; retry after \
                     `Retry-After` seconds",
                );
                r.headers
                    .insert("Retry-After".to_string(), Header::new(String::schema()));
                op.responses
                    .responses
                    .entry("429".to_string())
                    .or_insert_with(|| r.into());
            }
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, description) in [
                    (
                        "408",
                        "The request took longer than the server's time limit; retry it",
                    ),
                    (
                        "500",
                        "An internal failure; the details are in the server's log, not here",
                    ),
                ] {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description).into());
                }
            }
        }
    }
}

/// A JSON error answer with `description`.
fn error_response(description: &str) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(error_body_name())))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
}

fn error_body_name() -> Cow<'static, str> {
    <sealwax_proto::wire::ErrorBody as ToSchema>::name()
}

/// Schema only: raw bytes (`application/octet-stream`).
pub(crate) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .content_media_type("application/octet-stream")
            .into()
    }
}

impl ToSchema for Binary {}

/// The document as JSON, built once.
pub fn document() -> Result<&'static str, AppError> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .map_err(|e| e.to_string())
    })
    .as_deref()
    .map_err(|e| AppError::internal("cannot serialise the OpenAPI document", e))
}

/// `GET /v1/openapi.json`: this API's OpenAPI 3.1 description.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "This document (OpenAPI 3.1, JSON)",
         content_type = "application/json", body = Object),
    )
)]
pub async fn openapi_json() -> Result<axum::response::Response, AppError> {
    let mut r = document()?.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}
