//! The OpenAPI 3 document of the Spark Platform emulator, per the Spark
//! Platform Contacts service documentation: records in the `D` envelope.

use serde_json::{json, Value};

use crate::sandbox::openapi::{
    frame, header, object, operation, path, query, schema_ref, write_operation,
};

/// The document served at `/spark/openapi.json`.
pub fn document() -> Value {
    let id = || {
        path(
            "id",
            json!({ "type": "string", "pattern": "^[0-9]{24}([0-9]{2})?$" }),
        )
    };
    let agent = || header("X-SparkApi-User-Agent");
    let text = || json!({ "type": "string" });
    let list = || {
        vec![
            agent(),
            query("_limit", json!({ "type": "integer", "minimum": 0, "maximum": 25 }), "Page size."),
            query("_page", json!({ "type": "integer", "minimum": 1 }), "Page number."),
            query("_pagination", text(), "`0`, `1` or `count`."),
            query("_filter", text(), "A SparkQL expression."),
            query("_orderby", text(), "`DisplayName`, `CreatedTimestamp` or `ModificationTimestamp`, optionally prefixed with `-`."),
            query("_select", text(), "Attributes to keep."),
            query("_expand", text(), "Expansions to add."),
        ]
    };
    let envelope = |results: Value| {
        object(json!({ "D": object(json!({
            "Success": { "type": "boolean" },
            "Results": results,
            "Pagination": object(json!({
                "TotalRows": { "type": "integer" },
                "PageSize": { "type": "integer" },
                "TotalPages": { "type": "integer" },
                "CurrentPage": { "type": "integer" },
            })),
        })) }))
    };
    let contacts = || envelope(json!({ "type": "array", "items": schema_ref("Contact") }));
    let written = || envelope(json!({ "type": "array", "items": object(json!({})) }));
    let paths = json!({
        "/v1/contacts": {
            "get": operation("listContacts", "Connected contacts.", list(), "200", contacts()),
            "post": write_operation("createContacts", "Creates contacts.", vec![agent()], "200", written()),
        },
        "/v1/contacts/unconnected": {
            "get": operation("listUnconnectedContacts", "Unconnected contacts.", list(), "200", contacts()),
        },
        "/v1/contacts/tags": {
            "get": operation("listTags", "Tags of the connected contacts.", vec![agent()], "200", envelope(json!({ "type": "array", "items": object(json!({})) }))),
        },
        "/v1/contacts/{id}": {
            "get": operation("getContact", "One contact, in a one-element `Results`.", vec![id(), agent(), query("_select", text(), "Attributes to keep."), query("_expand", text(), "Expansions to add.")], "200", contacts()),
            "put": write_operation("updateContact", "Updates or transfers a contact.", vec![id(), agent()], "200", written()),
            "delete": operation("deleteContact", "Deletes a contact.", vec![id(), agent()], "200", written()),
        },
        "/v1/my/contact": {
            "get": operation("getMyContact", "The contact of the key's user.", vec![agent()], "200", contacts()),
            "put": write_operation("updateMyContact", "Updates the contact of the key's user.", vec![agent()], "200", written()),
        },
    });
    let schemas = json!({
        "Contact": object(json!({
            "ResourceUri": text(), "Id": text(), "DisplayName": text(),
            "GivenName": text(), "FamilyName": text(), "PrimaryEmail": text(),
            "PrimaryPhoneNumber": text(), "MobilePhoneNumber": text(),
            "Tags": { "type": "array", "items": text() },
            "CreatedTimestamp": text(), "ModificationTimestamp": text(),
        })),
    });
    frame(
        "Spark Platform (sandbox)",
        "The sandbox's emulator of the Spark Platform contacts API. Every request needs `X-SparkApi-User-Agent` and `Authorization: Bearer TOKEN`.",
        "/spark",
        json!({ "type": "http", "scheme": "bearer" }),
        paths,
        schemas,
    )
}
