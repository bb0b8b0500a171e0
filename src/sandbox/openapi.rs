//! OpenAPI 3 documents of the emulated APIs, served at `<prefix>/openapi.json`
//! (`/opentoclose/openapi.json`, `/djangocrm/openapi.json`, ...).
//!
//! Each document names every path its emulator serves, with the methods it
//! answers, the query parameters it reads and the shape of what its reads
//! return, so that tools which build a client or a GraphQL schema from
//! OpenAPI (the side-by-side benchmark composes one for Hive Gateway) can be
//! pointed at the sandbox. The documents are served outside the emulators'
//! request counters and without credentials: they describe the API and hold
//! no data. Paths are relative to the prefix, which the document's one
//! `servers` entry names.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::people::SourceName;

/// The router serving the four documents; merged into the sandbox's router.
pub fn router() -> Router {
    let mut router = Router::new();
    for source in SourceName::ALL {
        let document = document(source);
        router = router.route(
            &format!("/{}/openapi.json", source.as_str()),
            get(move || async move { Json(document) }),
        );
    }
    router
}

/// The document of one emulated API.
pub fn document(source: SourceName) -> Value {
    match source {
        SourceName::OpenToClose => super::opentoclose::openapi::document(),
        SourceName::DjangoCrm => super::djangocrm::openapi::document(),
        SourceName::Winnerr => super::winnerr::openapi::document(),
        SourceName::Spark => super::spark::openapi::document(),
    }
}

/// The frame of a document: version, title, server prefix, security scheme,
/// paths and component schemas.
pub(crate) fn frame(
    title: &str,
    description: &str,
    prefix: &str,
    security_scheme: Value,
    paths: Value,
    schemas: Value,
) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": { "title": title, "version": "1.0.0", "description": description },
        "servers": [{ "url": prefix }],
        "security": [{ "credentials": [] }],
        "components": {
            "securitySchemes": { "credentials": security_scheme },
            "schemas": schemas,
        },
        "paths": paths,
    })
}

/// A query parameter.
pub(crate) fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

/// A required path parameter.
pub(crate) fn path(name: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": schema })
}

/// A required header parameter.
pub(crate) fn header(name: &str) -> Value {
    json!({ "name": name, "in": "header", "required": true, "schema": { "type": "string" } })
}

/// A reference to a component schema.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A nullable text.
pub(crate) fn text() -> Value {
    json!({ "type": "string", "nullable": true })
}

/// An object schema whose properties are all optional, open to further keys.
pub(crate) fn object(properties: Value) -> Value {
    json!({ "type": "object", "properties": properties, "additionalProperties": true })
}

/// One operation answering JSON with `status`.
pub(crate) fn operation(
    operation_id: &str,
    summary: &str,
    parameters: Vec<Value>,
    status: &str,
    response: Value,
) -> Value {
    let mut answer = Map::new();
    answer.insert(
        status.to_string(),
        json!({ "description": summary, "content": { "application/json": { "schema": response } } }),
    );
    json!({
        "operationId": operation_id,
        "summary": summary,
        "parameters": parameters,
        "responses": answer,
    })
}

/// One operation with a JSON request body.
pub(crate) fn write_operation(
    operation_id: &str,
    summary: &str,
    parameters: Vec<Value>,
    status: &str,
    response: Value,
) -> Value {
    let mut operation = operation(operation_id, summary, parameters, status, response);
    operation["requestBody"] = json!({
        "required": true,
        "content": { "application/json": { "schema": { "type": "object", "additionalProperties": true } } }
    });
    operation
}

/// One operation answering with no body.
pub(crate) fn empty_operation(
    operation_id: &str,
    summary: &str,
    parameters: Vec<Value>,
    status: &str,
) -> Value {
    let mut answer = Map::new();
    answer.insert(status.to_string(), json!({ "description": summary }));
    json!({
        "operationId": operation_id,
        "summary": summary,
        "parameters": parameters,
        "responses": answer,
    })
}
