//! Open To Close adapter: snake_case records, `api_token` query auth, bare
//! arrays (or `{"data": [...]}`) paged by `limit`/`offset`, errors as
//! `{"message", "errors"|"field_errors"}`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use reqwest::Method;
use serde_json::Value;

use super::{parse_json, status_error, SharedUpstream, Source, SourceError};
use crate::config::Secret;
use crate::domain::{Address, Contact, Email, Phone, SourceKind};
use crate::upstream::{Credential, UpstreamRequest};

const KIND: SourceKind = SourceKind::OpenToClose;

/// The Open To Close adapter.
pub struct OpenToClose {
    upstream: SharedUpstream,
    api_token: Secret,
}

impl OpenToClose {
    pub fn new(upstream: SharedUpstream, api_token: Secret) -> Self {
        Self {
            upstream,
            api_token,
        }
    }

    fn request(&self, method: Method, path: String) -> UpstreamRequest {
        UpstreamRequest::new(method, path)
            .credential(Credential::Query("api_token", self.api_token.clone()))
    }

    async fn contact_by_id(&self, id: &str) -> Result<Option<Contact>, SourceError> {
        // Open To Close ids are positive integers; anything else cannot exist,
        // so it is answered without a request.
        if !id.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() || id.len() > 19 {
            return Ok(None);
        }
        let response = self
            .upstream
            .send(KIND, self.request(Method::GET, format!("/contacts/{id}")))
            .await?;
        match response.status {
            200 => {
                let body: Value = parse_json(KIND, &response)?;
                let record = unwrap_data(body);
                map_contact(record).map(Some)
            }
            404 => Ok(None),
            _ => Err(error_from(&response)),
        }
    }
}

#[async_trait]
impl Source for OpenToClose {
    fn kind(&self) -> SourceKind {
        KIND
    }

    async fn contacts_by_id(&self, ids: &[String]) -> Result<Vec<Option<Contact>>, SourceError> {
        // Open To Close has no multi-record fetch: the requests run at once,
        // bounded by the source's concurrency limit in the upstream layer.
        join_all(ids.iter().map(|id| self.contact_by_id(id)))
            .await
            .into_iter()
            .collect()
    }

    async fn list_contacts(
        &self,
        _query: &super::ListQuery,
    ) -> Result<super::ListPage, SourceError> {
        Err(SourceError::Unsupported {
            source_kind: KIND,
            operation: "listing contacts",
        })
    }

    fn check_create(&self, _input: &crate::domain::ContactInput) -> Result<(), SourceError> {
        Err(SourceError::Unsupported {
            source_kind: KIND,
            operation: "creating contacts",
        })
    }

    fn check_update(&self, _input: &crate::domain::ContactInput) -> Result<(), SourceError> {
        Err(SourceError::Unsupported {
            source_kind: KIND,
            operation: "updating contacts",
        })
    }

    async fn create_contact(
        &self,
        _input: &crate::domain::ContactInput,
    ) -> Result<Contact, SourceError> {
        Err(SourceError::Unsupported {
            source_kind: KIND,
            operation: "creating contacts",
        })
    }

    async fn update_contact(
        &self,
        _id: &str,
        _input: &crate::domain::ContactInput,
    ) -> Result<Contact, SourceError> {
        Err(SourceError::Unsupported {
            source_kind: KIND,
            operation: "updating contacts",
        })
    }

    async fn delete_contact(&self, _id: &str) -> Result<(), SourceError> {
        Err(SourceError::Unsupported {
            source_kind: KIND,
            operation: "deleting contacts",
        })
    }
}

/// Accepts both the bare record and the `{"data": record}` form.
fn unwrap_data(body: Value) -> Value {
    match body {
        Value::Object(mut map) if map.len() == 1 && map.contains_key("data") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn error_from(response: &crate::upstream::UpstreamResponse) -> SourceError {
    let message = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|body| {
            body.get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    status_error(KIND, response, message)
}

fn text(record: &Value, key: &str) -> Option<String> {
    record
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn timestamp(record: &Value, key: &str) -> Option<DateTime<Utc>> {
    text(record, key).and_then(|value| {
        DateTime::parse_from_rfc3339(&value)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Maps one Open To Close contact record to the unified model.
pub fn map_contact(record: Value) -> Result<Contact, SourceError> {
    let id = match record.get("id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(SourceError::Upstream {
                source_kind: KIND,
                message: "contact without an id".into(),
                upstream_status: Some(200),
            })
        }
    };
    let mut contact = Contact::new(KIND, id, Value::Null);
    contact.first_name = text(&record, "first_name");
    contact.last_name = text(&record, "last_name");
    if let Some(address) = text(&record, "email") {
        contact.emails.push(Email {
            address,
            label: None,
            primary: true,
        });
    }
    if let Some(number) = text(&record, "phone") {
        contact.phones.push(Phone::new(number, None));
    }
    contact.address = Address {
        street: text(&record, "address"),
        city: text(&record, "city"),
        region: text(&record, "state"),
        postal_code: text(&record, "zip_code"),
        country: None,
    }
    .non_empty();
    contact.organization = text(&record, "company");
    contact.title = text(&record, "title");
    contact.contact_type = text(&record, "contact_type");
    contact.status = text(&record, "status");
    contact.notes = text(&record, "notes");
    contact.created_at = timestamp(&record, "created").or_else(|| timestamp(&record, "created_at"));
    contact.updated_at = timestamp(&record, "updated").or_else(|| timestamp(&record, "updated_at"));
    contact.raw = record;
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_a_record_without_inventing_fields() {
        let record = json!({"id": 7, "first_name": "Jane", "last_name": "Smith", "email": " jane@x.com ", "phone": "+15551234567", "created": "2024-01-15T10:30:00Z"});
        let contact = map_contact(record.clone()).unwrap();
        assert_eq!(contact.source_id, "7");
        assert_eq!(contact.emails[0].address, "jane@x.com");
        assert_eq!(contact.phones[0].e164.as_deref(), Some("+15551234567"));
        assert_eq!(contact.address, None);
        assert_eq!(contact.organization, None);
        assert_eq!(contact.raw, record);
        assert!(contact.created_at.is_some());
    }

    #[test]
    fn a_record_without_id_is_an_upstream_error() {
        assert!(matches!(
            map_contact(json!({"first_name": "X"})),
            Err(SourceError::Upstream { .. })
        ));
        assert_eq!(unwrap_data(json!({"data": {"id": 1}})), json!({"id": 1}));
    }
}
