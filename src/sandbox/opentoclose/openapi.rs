//! The OpenAPI 3 document of the Open To Close emulator: contacts, properties
//! and the property contacts (the association objects, which nest the
//! contact and the property as the Open To Close Property Contacts API
//! documentation describes).

use serde_json::{json, Value};

use crate::sandbox::openapi::{
    empty_operation, frame, object, operation, path, query, schema_ref, text, write_operation,
};

/// The document served at `/opentoclose/openapi.json`.
pub fn document() -> Value {
    let id = || path("id", json!({ "type": "integer", "minimum": 1 }));
    let paging = || {
        vec![
            query(
                "limit",
                json!({ "type": "integer", "minimum": 1, "default": 50 }),
                "Page size; values above 100 are taken as 100.",
            ),
            query(
                "offset",
                json!({ "type": "integer", "minimum": 0, "default": 0 }),
                "Records to skip.",
            ),
        ]
    };
    let contacts = || json!({ "type": "array", "items": schema_ref("Contact") });
    let properties = || json!({ "type": "array", "items": schema_ref("Property") });
    let links = || json!({ "type": "array", "items": schema_ref("PropertyContact") });
    let mut list_contacts = paging();
    list_contacts.extend([
        query("search", json!({ "type": "string" }), "Case-insensitive substring of the names, email or phone."),
        query("contact_type", json!({ "type": "string" }), "Case-insensitive exact match."),
        query("sort", json!({ "type": "string" }), "`id`, `first_name`, `last_name`, `email`, `created` or `updated`, optionally prefixed with `-`."),
    ]);
    let mut list_properties = paging();
    list_properties.push(query(
        "status",
        json!({ "type": "string" }),
        "Case-insensitive exact match.",
    ));
    let mut list_links = vec![id()];
    list_links.extend(paging());
    list_links.push(query(
        "role",
        json!({ "type": "string" }),
        "Case-insensitive exact match.",
    ));
    let property_collection = || {
        json!({
            "get": operation("listProperties", "Properties, ordered by id.", list_properties.clone(), "200", properties()),
            "post": write_operation("createProperty", "Creates a property.", vec![], "201", schema_ref("Property")),
        })
    };
    let link_path = || {
        vec![
            id(),
            path("contact_id", json!({ "type": "integer", "minimum": 1 })),
        ]
    };
    let paths = json!({
        "/v1/contacts": {
            "get": operation("listContacts", "Contacts, ordered by id unless `sort` says otherwise.", list_contacts, "200", contacts()),
            "post": write_operation("createContact", "Creates a contact.", vec![], "201", schema_ref("Contact")),
        },
        "/v1/contacts/{id}": {
            "get": operation("getContact", "One contact.", vec![id()], "200", schema_ref("Contact")),
            "put": write_operation("updateContact", "Updates a contact.", vec![id()], "200", schema_ref("Contact")),
            "delete": empty_operation("deleteContact", "Deletes a contact and its property links.", vec![id()], "204"),
        },
        "/v1/properties": property_collection(),
        "/v1/properties/": {
            "get": operation("listPropertiesSlash", "The same list, at the path with a trailing slash.", list_properties.clone(), "200", properties()),
            "post": write_operation("createPropertySlash", "Creates a property.", vec![], "201", schema_ref("Property")),
        },
        "/v1/properties/{id}": {
            "get": operation("getProperty", "One property.", vec![id()], "200", schema_ref("Property")),
            "put": write_operation("updateProperty", "Updates a property.", vec![id()], "200", schema_ref("Property")),
            "delete": empty_operation("deleteProperty", "Deletes a property and its contact links.", vec![id()], "204"),
        },
        "/v1/properties/{id}/contacts": {
            "get": operation("listPropertyContacts", "The property's contact links, each with its contact nested, ordered by link id.", list_links, "200", links()),
            "post": write_operation("createPropertyContact", "Links a contact to the property.", vec![id()], "201", schema_ref("PropertyContact")),
        },
        "/v1/properties/{id}/contacts/{contact_id}": {
            "get": operation("getPropertyContact", "One link, by the link's id.", link_path(), "200", schema_ref("PropertyContact")),
            "put": write_operation("updatePropertyContact", "Updates a link.", link_path(), "200", schema_ref("PropertyContact")),
            "delete": empty_operation("deletePropertyContact", "Removes a link.", link_path(), "204"),
        },
    });
    let schemas = json!({
        "Contact": object(json!({
            "id": { "type": "integer" },
            "first_name": text(), "last_name": text(), "email": text(), "phone": text(),
            "contact_type": text(), "company": text(), "title": text(), "address": text(),
            "city": text(), "state": text(), "zip_code": text(),
            "created": { "type": "string" }, "updated": { "type": "string" },
        })),
        "Property": object(json!({
            "id": { "type": "integer" },
            "title": text(), "address": text(), "city": text(), "state": text(), "zip_code": text(),
            "status": text(),
            "price": { "type": "number", "nullable": true },
            "created": { "type": "string" },
        })),
        "PropertyContact": object(json!({
            "id": { "type": "integer" },
            "property_id": { "type": "integer" },
            "contact_id": { "type": "integer" },
            "role": text(),
            "primary": { "type": "boolean" },
            "start_date": text(),
            "notes": text(),
            "contact": schema_ref("Contact"),
            "property": schema_ref("Property"),
        })),
    });
    frame(
        "Open To Close (sandbox)",
        "The sandbox's emulator of the Open To Close API.",
        "/opentoclose",
        json!({ "type": "apiKey", "in": "query", "name": "api_token" }),
        paths,
        schemas,
    )
}
