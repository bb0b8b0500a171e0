//! The OpenAPI 3 document of the Winnerr emulator, per the Winnerr Contacts
//! API documentation: contacts, activities, tags and bulk updates.

use serde_json::{json, Value};

use crate::sandbox::openapi::{
    empty_operation, frame, object, operation, path, query, schema_ref, write_operation,
};

/// The document served at `/winnerr/openapi.json`.
pub fn document() -> Value {
    let id = || path("id", json!({ "type": "string" }));
    let text = || json!({ "type": "string" });
    let list = vec![
        query(
            "limit",
            json!({ "type": "integer", "minimum": 1 }),
            "Page size.",
        ),
        query("cursor", text(), "The `nextCursor` of the previous page."),
        query(
            "sort",
            text(),
            "`field[:asc|desc]` keys separated by commas; default `createdAt:desc`.",
        ),
        query("type", text(), "One value or a comma-separated list."),
        query("status", text(), "One value or a comma-separated list."),
        query("source", text(), "One value or a comma-separated list."),
        query(
            "tags",
            text(),
            "Comma-separated; contacts having any of them.",
        ),
        query("assignedTo", text(), "An agent id."),
        query("fields", text(), "Top-level keys to keep (plus `id`)."),
        query(
            "include",
            text(),
            "`activities` embeds each contact's activities.",
        ),
    ];
    let data = |schema: Value| object(json!({ "success": { "type": "boolean" }, "data": schema }));
    let paths = json!({
        "/v1/contacts": {
            "get": operation("listContacts", "Contacts, newest first unless `sort` says otherwise.", list, "200", schema_ref("ContactPage")),
            "post": write_operation("createContact", "Creates a contact.", vec![], "201", data(schema_ref("Contact"))),
        },
        "/v1/contacts/{id}": {
            "get": operation("getContact", "One contact.", vec![id(), query("fields", text(), "Top-level keys to keep (plus `id`).")], "200", data(schema_ref("Contact"))),
            "put": write_operation("updateContact", "Updates a contact.", vec![id()], "200", data(schema_ref("Contact"))),
            "delete": empty_operation("deleteContact", "Deletes a contact.", vec![id()], "200"),
        },
        "/v1/contacts/{id}/activities": {
            "get": operation("listActivities", "Every activity of the contact, newest first.", vec![id()], "200", data(json!({ "type": "array", "items": object(json!({})) }))),
            "post": write_operation("createActivity", "Records an activity.", vec![id()], "201", data(object(json!({})))),
        },
        "/v1/contacts/tags": {
            "get": operation("listTags", "The tag vocabulary with live counts.", vec![], "200", data(json!({ "type": "array", "items": object(json!({})) }))),
        },
        "/v1/contacts/{id}/tags": {
            "post": write_operation("addTags", "Adds tags to a contact.", vec![id()], "200", data(schema_ref("Contact"))),
        },
        "/v1/contacts/bulk": {
            "patch": write_operation("bulkUpdate", "Updates up to 100 contacts.", vec![], "200", object(json!({}))),
        },
    });
    let schemas = json!({
        "Contact": object(json!({
            "id": text(), "firstName": text(), "lastName": text(), "email": text(),
            "phone": { "type": "string", "nullable": true },
            "type": text(), "status": text(),
            "source": { "type": "string", "nullable": true },
            "tags": { "type": "array", "items": text() },
            "createdAt": text(), "updatedAt": text(),
        })),
        "ContactPage": object(json!({
            "success": { "type": "boolean" },
            "data": { "type": "array", "items": schema_ref("Contact") },
            "pagination": object(json!({
                "hasMore": { "type": "boolean" },
                "nextCursor": { "type": "string", "nullable": true },
                "total": { "type": "integer" },
                "limit": { "type": "integer" },
            })),
        })),
    });
    frame(
        "Winnerr (sandbox)",
        "The sandbox's emulator of the Winnerr contacts API. Every request needs `Authorization: Bearer TOKEN`.",
        "/winnerr",
        json!({ "type": "http", "scheme": "bearer" }),
        paths,
        schemas,
    )
}
