//! `/v1/contacts` and `/v1/contacts/{id}`: list with filters, search and sort;
//! create, retrieve, partial update and delete (per the Open To Close Contacts API documentation).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::data::{now, Contact};
use super::error::ApiError;
use super::request::{
    json_object, path_id, FieldReader, Page, Patch, QueryParameters, MAX_TEXT_LENGTH,
};
use super::{json_response, AppState};

/// The four fields the API stores; everything else in a body is ignored.
const WRITABLE_FIELDS: [&str; 4] = ["first_name", "last_name", "email", "phone"];

/// `GET /v1/contacts`.
pub(super) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = QueryParameters::parse(query.as_deref().unwrap_or(""));
    let page = Page::from_query(&query)?;
    let order = ContactOrder::parse(query.non_empty("sort"))?;
    let contact_type = query.non_empty("contact_type").map(str::to_lowercase);
    let search = query.non_empty("search").and_then(Search::new);

    let data = state.store.read();
    let matching = data.contacts.values().filter(|contact| {
        let type_matches = contact_type.as_deref().is_none_or(|wanted| {
            contact
                .contact_type
                .as_deref()
                .is_some_and(|actual| actual.to_lowercase() == wanted)
        });
        type_matches && search.as_ref().is_none_or(|search| search.matches(contact))
    });
    let answer = match order {
        // The map is already in id order, so the common case needs no sort.
        ContactOrder {
            key: SortKey::Id,
            descending: false,
        } => page.apply(matching),
        order => page.apply(order.sort(matching.collect())),
    };
    Ok(json_response(StatusCode::OK, &answer))
}

/// `POST /v1/contacts`: 201 with the stored record.
pub(super) async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let object = json_object(body)?;
    let fields = ContactFields::read(&object, true)?;
    let mut data = state.store.write();
    let id = data.next_contact_id;
    data.next_contact_id += 1;
    let created = now();
    let contact = Contact {
        id,
        first_name: fields.first_name.flatten(),
        last_name: fields.last_name.flatten(),
        email: fields.email.flatten(),
        phone: fields.phone.flatten(),
        // The seed's "may not persist": accepted in the body, never stored.
        contact_type: None,
        company: None,
        title: None,
        address: None,
        city: None,
        state: None,
        zip_code: None,
        created,
        updated: created,
    };
    let response = json_response(StatusCode::CREATED, &contact);
    data.contacts.insert(id, contact);
    Ok(response)
}

/// `GET /v1/contacts/{id}`: the benchmarked hot path, one lookup under the read lock.
pub(super) async fn retrieve(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let data = state.store.read();
    let contact = data.contacts.get(&id).ok_or(ApiError::NotFound)?;
    Ok(json_response(StatusCode::OK, contact))
}

/// `PUT /v1/contacts/{id}`: a partial update of the four stored fields.
pub(super) async fn update(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let mut data = state.store.write();
    let contact = data.contacts.get_mut(&id).ok_or(ApiError::NotFound)?;
    let object = json_object(body)?;
    let fields = ContactFields::read(&object, false)?;
    for (target, patch) in [
        (&mut contact.first_name, fields.first_name),
        (&mut contact.last_name, fields.last_name),
        (&mut contact.email, fields.email),
        (&mut contact.phone, fields.phone),
    ] {
        if let Some(value) = patch {
            *target = value;
        }
    }
    // The real service saves the record even when nothing it keeps changed.
    contact.updated = now().max(contact.created);
    Ok(json_response(StatusCode::OK, &*contact))
}

/// `DELETE /v1/contacts/{id}`: 204, and the contact leaves every property.
pub(super) async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let mut data = state.store.write();
    data.contacts.remove(&id).ok_or(ApiError::NotFound)?;
    data.property_contacts
        .retain(|(_, contact_id), _| *contact_id != id);
    Ok(super::empty_response(StatusCode::NO_CONTENT))
}

/// The stored fields of a create or update body, each absent, `null` or set.
struct ContactFields {
    first_name: Patch<String>,
    last_name: Patch<String>,
    email: Patch<String>,
    phone: Patch<String>,
}

impl ContactFields {
    /// Checks the body; `creating` adds the rule that a contact must have
    /// at least one non-blank stored field.
    fn read(object: &Map<String, Value>, creating: bool) -> Result<ContactFields, ApiError> {
        let mut reader = FieldReader::new(object);
        if reader.has("name") {
            reader.problem(
                "name",
                "This field is not supported; use first_name and last_name.",
            );
        }
        let fields = ContactFields {
            first_name: reader.text("first_name", MAX_TEXT_LENGTH),
            last_name: reader.text("last_name", MAX_TEXT_LENGTH),
            email: reader.text("email", MAX_TEXT_LENGTH),
            phone: reader.text("phone", MAX_TEXT_LENGTH),
        };
        if let Some(Some(email)) = &fields.email {
            let email = email.trim();
            if !email.is_empty() && !looks_like_email(email) {
                reader.problem("email", "Enter a valid email address.");
            }
        }
        let any_present = [
            &fields.first_name,
            &fields.last_name,
            &fields.email,
            &fields.phone,
        ]
        .iter()
        .any(|field| matches!(field, Some(Some(text)) if !text.trim().is_empty()));
        if creating
            && !any_present
            && !WRITABLE_FIELDS
                .iter()
                .any(|field| reader.has_problem(field))
        {
            for field in WRITABLE_FIELDS {
                reader.problem(
                    field,
                    "At least one of first_name, last_name, email or phone is required.",
                );
            }
        }
        reader.finish()?;
        Ok(fields)
    }
}

/// `local@domain.tld` with no spaces: the check form validators make.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// The `search` parameter, prepared once per request.
struct Search {
    lowercase: String,
    /// Set when the term reads as a phone number (see the module docs).
    phone_digits: Option<String>,
}

impl Search {
    fn new(term: &str) -> Option<Search> {
        let term = term.trim();
        if term.is_empty() {
            return None;
        }
        let digits: String = term.chars().filter(char::is_ascii_digit).collect();
        let phone_like = digits.len() >= 3
            && term
                .chars()
                .all(|c| c.is_ascii_digit() || "+-(). ".contains(c));
        let phone_digits = phone_like.then(|| match digits.strip_prefix('1') {
            Some(national) if digits.len() == 11 => national.to_string(),
            _ => digits,
        });
        Some(Search {
            lowercase: term.to_lowercase(),
            phone_digits,
        })
    }

    fn matches(&self, contact: &Contact) -> bool {
        let contains = |field: &Option<String>| {
            field
                .as_deref()
                .is_some_and(|text| text.to_lowercase().contains(&self.lowercase))
        };
        if contains(&contact.first_name)
            || contains(&contact.last_name)
            || contains(&contact.email)
            || contains(&contact.phone)
        {
            return true;
        }
        let full_name = format!(
            "{} {}",
            contact.first_name.as_deref().unwrap_or(""),
            contact.last_name.as_deref().unwrap_or("")
        );
        if full_name.to_lowercase().contains(&self.lowercase) {
            return true;
        }
        match (&self.phone_digits, &contact.phone) {
            (Some(wanted), Some(phone)) => {
                let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
                digits.contains(wanted.as_str())
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Id,
    FirstName,
    LastName,
    Email,
    Created,
    Updated,
}

/// The `sort` parameter: a key, optionally prefixed with `-` for descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContactOrder {
    key: SortKey,
    descending: bool,
}

/// One contact's value for the sort key; all values of one sort share a variant.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Number(u64),
    Text(String),
    Time(DateTime<Utc>),
}

impl ContactOrder {
    fn parse(raw: Option<&str>) -> Result<ContactOrder, ApiError> {
        let Some(raw) = raw else {
            return Ok(ContactOrder {
                key: SortKey::Id,
                descending: false,
            });
        };
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let key = match name {
            "id" => SortKey::Id,
            "first_name" => SortKey::FirstName,
            "last_name" => SortKey::LastName,
            "email" => SortKey::Email,
            "created" => SortKey::Created,
            "updated" => SortKey::Updated,
            _ => {
                return Err(ApiError::bad_request(
                    "sort",
                    "Unknown sort field; use id, first_name, last_name, email, created or \
                     updated, optionally prefixed with '-'.",
                ))
            }
        };
        Ok(ContactOrder { key, descending })
    }

    fn value(self, contact: &Contact) -> SortValue {
        let text = |field: &Option<String>| {
            SortValue::Text(field.as_deref().unwrap_or("").trim().to_lowercase())
        };
        match self.key {
            SortKey::Id => SortValue::Number(contact.id),
            SortKey::FirstName => text(&contact.first_name),
            SortKey::LastName => text(&contact.last_name),
            SortKey::Email => text(&contact.email),
            SortKey::Created => SortValue::Time(contact.created),
            SortKey::Updated => SortValue::Time(contact.updated),
        }
    }

    fn sort(self, contacts: Vec<&Contact>) -> Vec<&Contact> {
        let mut rows: Vec<(SortValue, &Contact)> = contacts
            .into_iter()
            .map(|contact| (self.value(contact), contact))
            .collect();
        rows.sort_by(|(left_value, left), (right_value, right)| {
            let by_value = left_value.cmp(right_value);
            let by_value = if self.descending {
                by_value.reverse()
            } else {
                by_value
            };
            by_value.then_with(|| left.id.cmp(&right.id))
        });
        rows.into_iter().map(|(_, contact)| contact).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: u64, first: &str, last: &str, email: &str, phone: &str) -> Contact {
        let time = DateTime::<Utc>::from_timestamp(1_700_000_000 + id as i64, 0).unwrap();
        Contact {
            id,
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            email: Some(email.into()),
            phone: Some(phone.into()),
            contact_type: None,
            company: None,
            title: None,
            address: None,
            city: None,
            state: None,
            zip_code: None,
            created: time,
            updated: time,
        }
    }

    #[test]
    fn search_matches_names_email_and_phone_digits() {
        let jane = contact(
            1,
            "Jane",
            "Smith",
            " Jane.Smith@Example.com ",
            "+1 (555) 123-4567",
        );
        let matches = |term: &str| Search::new(term).unwrap().matches(&jane);
        assert!(matches("jane"));
        assert!(matches("SMITH"));
        assert!(matches("jane smith"));
        assert!(matches("example.com"));
        assert!(matches("5551234"));
        assert!(matches("555-123-4567"));
        assert!(matches("15551234567"));
        assert!(matches("(555) 123"));
        assert!(!matches("john"));
        assert!(!matches("5559999"));
        assert!(Search::new("  ").is_none());
    }

    #[test]
    fn sort_parses_known_keys_and_breaks_ties_by_id() {
        assert!(ContactOrder::parse(Some("-last_name")).unwrap().descending);
        assert!(ContactOrder::parse(Some("name")).is_err());
        assert!(ContactOrder::parse(Some("--id")).is_err());
        let a = contact(1, "Ann", "Zed", "a@x.io", "1");
        let b = contact(2, "bob", "Abe", "b@x.io", "2");
        let c = contact(3, "Ann", "abe", "c@x.io", "3");
        let order = ContactOrder::parse(Some("last_name")).unwrap();
        let ids: Vec<u64> = order.sort(vec![&a, &b, &c]).iter().map(|c| c.id).collect();
        assert_eq!(ids, [2, 3, 1]);
        let order = ContactOrder::parse(Some("-first_name")).unwrap();
        let ids: Vec<u64> = order.sort(vec![&a, &b, &c]).iter().map(|c| c.id).collect();
        assert_eq!(ids, [2, 1, 3]);
    }

    #[test]
    fn email_shape_check() {
        assert!(looks_like_email("a@b.co"));
        for bad in [
            "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.io", "a@b@c.io",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
