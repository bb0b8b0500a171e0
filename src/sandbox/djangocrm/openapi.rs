//! The OpenAPI 3 document of the Django-CRM emulator: the contact list and
//! detail, comments and attachments, per the Django-CRM contact management
//! API documentation.

use serde_json::{json, Value};

use crate::sandbox::openapi::{
    empty_operation, frame, header, object, operation, path, query, schema_ref, write_operation,
};

/// The document served at `/djangocrm/openapi.json`.
pub fn document() -> Value {
    let uuid = || path("id", json!({ "type": "string", "format": "uuid" }));
    let organization = || header("organization-id");
    let text = || json!({ "type": "string" });
    let list = vec![
        organization(),
        query(
            "name",
            text(),
            "Case-insensitive partial match on the first or last name.",
        ),
        query("city", text(), "Case-insensitive partial match."),
        query(
            "phone",
            text(),
            "Case-insensitive partial match on `mobile_number`.",
        ),
        query(
            "email",
            text(),
            "Case-insensitive partial match on `primary_email`.",
        ),
        query(
            "assigned_to",
            text(),
            "User UUIDs, comma-separated; any of them matches.",
        ),
        query(
            "limit",
            json!({ "type": "integer", "minimum": 1, "default": 10 }),
            "Page size.",
        ),
        query(
            "offset",
            json!({ "type": "integer", "minimum": 0, "default": 0 }),
            "Records to skip.",
        ),
    ];
    let paths = json!({
        "/api/contacts/": {
            "get": operation("listContacts", "Contacts, newest first.", list, "200", schema_ref("ContactPage")),
            "post": write_operation("createContact", "Creates a contact.", vec![organization()], "200", schema_ref("Contact")),
        },
        "/api/contacts/{id}/": {
            "get": operation("getContact", "One contact with its comments, attachments and tasks.", vec![uuid(), organization()], "200", schema_ref("ContactDetail")),
            "put": write_operation("updateContact", "Updates a contact.", vec![uuid(), organization()], "200", schema_ref("Contact")),
            "post": write_operation("addComment", "Adds a comment and/or an attachment.", vec![uuid(), organization()], "200", object(json!({}))),
            "delete": empty_operation("deleteContact", "Deletes a contact.", vec![uuid(), organization()], "204"),
        },
        "/api/contacts/comment/{id}/": {
            "put": write_operation("editComment", "Edits a comment (its author only).", vec![uuid()], "200", object(json!({}))),
            "delete": empty_operation("deleteComment", "Deletes a comment (its author only).", vec![uuid()], "204"),
        },
        "/api/contacts/attachment/{id}/": {
            "delete": empty_operation("deleteAttachment", "Deletes an attachment (its creator only).", vec![uuid()], "204"),
        },
    });
    let schemas = json!({
        "Contact": object(json!({
            "id": text(), "first_name": text(), "last_name": text(),
            "primary_email": text(), "secondary_email": text(), "mobile_number": text(),
            "organization": text(), "department": text(), "designation": text(),
            "address_line": text(), "street": text(), "city": text(), "state": text(),
            "postcode": text(), "country": text(), "org": text(),
            "created_on": text(), "created_by": text(),
            "assigned_to": { "type": "array", "items": text() },
            "teams": { "type": "array", "items": text() },
        })),
        "ContactPage": object(json!({
            "count": { "type": "integer" },
            "next": { "type": "string", "nullable": true },
            "previous": { "type": "string", "nullable": true },
            "results": { "type": "array", "items": schema_ref("Contact") },
        })),
        "ContactDetail": object(json!({
            "contact_obj": schema_ref("Contact"),
        })),
    });
    frame(
        "Django-CRM (sandbox)",
        "The sandbox's emulator of the Django-CRM contacts API. Every request needs `Authorization: Bearer TOKEN`; the contact routes also need `organization-id`.",
        "/djangocrm",
        json!({ "type": "http", "scheme": "bearer" }),
        paths,
        schemas,
    )
}
