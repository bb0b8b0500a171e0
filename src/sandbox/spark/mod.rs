//! Emulator of the Spark Platform (Flexmls) contacts API, per the Spark Platform Contacts service documentation, served under
//! `/spark`: `/v1/contacts`, `/v1/contacts/unconnected`, `/v1/contacts/tags`,
//! `/v1/contacts/{Id}` and `/v1/my/contact`, in Spark's `D` envelope.
//!
//! Submodules: [`attributes`] (the seed's attribute table and write checks),
//! [`query`] (paging, `_select`, `_expand`, `_orderby`, `_filter`),
//! [`records`] (stored contacts and their rendering), [`seed`] (seeding),
//! [`envelope`] (the `D` envelope and error codes) and [`filter`] (SparkQL).
//!
//! # Authentication and roles
//! Every request needs `X-SparkApi-User-Agent` (else 400, code 1016; this is
//! checked before the token) and `Authorization: Bearer TOKEN` (`OAuth TOKEN`
//! is accepted too). A missing or unknown token is 401, code 1000. The tokens
//! (ours) are derived from `credentials.spark.token`:
//!
//! | token | role |
//! | --- | --- |
//! | `TOKEN` | Private |
//! | `TOKEN-idx` | IDX |
//! | `TOKEN-vow` | VOW |
//! | `TOKEN-portal` | Portal |
//! | `TOKEN-public` | Public |
//! | `TOKEN-expired` | none: 401, code 1020 |
//!
//! Further agents (ours): `credentials.spark.more_users` lists more Private
//! tokens, each of an agent of its own with its own contacts (a small
//! population of its own, owned by its user id), account contact and
//! derived role tokens; no token reaches another agent's data, as Spark's
//! `/contacts` are "all items for the current user".
//!
//! Private, IDX and Public are API keys of the same agent (ours): their
//! `/my/contact` is the agent's own contact record (Id
//! [`seed::AGENT_USER_ID`], `ResourceUri` `/v1/my/contact`, not one of the
//! agent's contacts). VOW and Portal are consumers: their `/my/contact` is the
//! first and the second seeded Connected contact, so the agent sees their edits.
//! A role refused a resource gets 403, code 1500 (Spark's "not available at the
//! current API key's service level"): VOW and Portal on anything but
//! `/my/contact`; Public on any write (POST, PUT, DELETE, and PUT `/my/contact`);
//! IDX and Public asking for the Private-only `Activity` expansion, and for
//! `Portal` (Private, VOW and Portal only).
//!
//! # Requests
//! - Methods the seed marks Not Implemented answer 405, code 405, before any
//!   authentication; an unknown path answers 404, code 404, likewise.
//! - Query values are validated by hand: a bad `_limit` (not 0-25), `_page`
//!   (not a positive integer), `_pagination` (not `0`, `1` or `count`),
//!   `_orderby`, an unknown `_select` attribute or `_expand` name are 400, code
//!   1053 (ours); a bad `_filter` is 400, code 1040 with the parser's message.
//!   Unknown parameters are ignored. `_pagination=count` answers
//!   `"Results": []` plus `Pagination`. With `_limit=0`, `TotalPages` is 0.
//! - `_select` keeps the named attributes plus `Id` and `ResourceUri`;
//!   expansions are added whatever `_select` says (ours).
//! - `_orderby` (ours): `DisplayName` (case-insensitive), `CreatedTimestamp`,
//!   `ModificationTimestamp`, each optionally prefixed with `-`; ties by `Id`
//!   ascending. The default is `CreatedTimestamp`, then `Id`.
//! - `_filter` searches the seed's searchable attributes (`Id`, the character
//!   attributes, `InvalidEmails` and `Tags` as lists, the two timestamps,
//!   `VowActive`, `PortalLoginName`). `Id Eq 'a','b'` is answered by lookups.
//! - Write bodies must be `{"D": {...}}`; anything else is 400, code 1035.
//!   `POST /v1/contacts` also takes the real clients' form
//!   `{"D": {"Contacts": [{...}, ...], "Notify": true}}` (tolerate).
//!
//! # Records (ours where the seed is silent)
//! Attributes without a value are left out, as in the seed's example; the lists
//! (`SecondaryEmails`, `AdditionalNotificationEmails`, `InvalidEmails`, `Tags`),
//! `OwnerId`, `RecordStatus`, `Settings` (`{"ReverseProspecting": bool}`) and
//! both timestamps (`2012-03-07T20:09:37Z`) are always present. Writing `null`
//! or `""` removes an attribute; `null` empties a list. Writing `Note` appends
//! a note, shown by the `Notes` expansion as `[{Id, Note, CreatedTimestamp}]`;
//! `Note` itself is never part of the record. `Notify` is accepted (boolean) on
//! create only and has no effect.
//!
//! Expansions: `Activity` `{Score, RelativeScore, DailyActivity: [{Score,
//! RelativeScore}] x 30, oldest first}`; `NewsFeedSummary` and
//! `NewsFeedNotificationSummary` nest the seed's three attributes each under
//! the expansion's name; `Portal` is `{LoginName, Enabled, CreatedTimestamp}`
//! or `null`; `VowActive` adds `VowActive`; `VowEnabled` adds `VowEnabled` and
//! `VowExists`; `UniquePrimaryEmail` (also accepted as
//! `UniquePrimaryEmailCheck`) adds `UniquePrimaryEmail`.
//!
//! # Writes
//! - Create needs `DisplayName` and `PrimaryEmail` (400, code 1050 when either
//!   is missing or blank; the same for blanking one in an update). Any unknown
//!   attribute, a read-only one (`Id`, `CreatedTimestamp`, `InvalidEmails`...),
//!   `OwnerId` outside a transfer, a wrong type, a length over the seed's limit
//!   (75 for `DisplayName`, `PrimaryEmail`, each tag and each listed email; 2
//!   for `MobilePhoneCountryCode`; 10,000 for `Note`; 300 for the rest), an
//!   `AdditionalNotificationEmails` entry not in `SecondaryEmails`, or
//!   `RecordStatus` other than `Connected`/`Unconnected` is 400, code 1053.
//!   New contacts are Connected (`Unconnected` on create is 1053), owned by
//!   the agent, and get an enabled portal account, as the seed says.
//! - A `PrimaryEmail` already used by another contact (trimmed,
//!   case-insensitive) is 409, code 1055. Five seeded Unconnected contacts share
//!   an email with a Connected one (consumers who signed up again), which is
//!   what `UniquePrimaryEmail` reports.
//! - `POST` answers `{"D":{"Success":true,"Results":[{"ResourceUri","Id"}]}}`
//!   (real); `PUT` and `DELETE` answer `{"D":{"Success":true}}`; all with 200.
//! - Transfer: a `PUT /v1/contacts/{Id}` whose body has `OwnerId` must have
//!   nothing else (else 1053); `OwnerId` must be 24 or 26 digits (else 1053).
//!   It sets `OwnerId` and `RecordStatus: Connected`. The sandbox has a single
//!   office whose key sees every contact, so a transferred contact stays
//!   visible (ours). A normal PUT may set `RecordStatus` from `Unconnected` to
//!   `Connected`, never back (1053).
//! - `PUT /v1/my/contact` accepts only the seed's seventeen attributes (others
//!   are 1053); the email uniqueness check applies to the consumers' records.
//! - Ids in paths must be 24 or 26 digits, else 404; created contacts get 26
//!   digits from a generator seeded with the data, so runs are repeatable.
//!
//! `GET /v1/contacts/tags` (shape ours, after the real clients' fixtures) lists
//! the tags of Connected contacts in byte order:
//! `[{"ResourceUri": "/v1/contacts/tags/<Tag>", "Tag", "Count"}]`.

pub mod attributes;
pub mod envelope;
pub mod filter;
pub mod openapi;
pub mod query;
pub mod records;
pub mod seed;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use chrono::Utc;
use serde_json::{json, Map, Value};

use self::attributes::{is_spark_id, normalized_email, validate_changes, WriteContext};
use self::envelope::{
    success_with_results, success_without_results, unwrap_write_body, SparkError,
};
use self::query::{
    parse_list_options, parse_presentation, parse_query, Expansion, OrderKey, Ordering,
    PaginationMode, Presentation,
};
use self::records::{format_timestamp, ContactNote, PortalAccount, SparkData, StoredContact};
use super::credentials::Credentials;
use super::people::World;
use super::store::{Resettable, Store};

/// Route templates, relative to the source prefix.
pub const ROUTES: &[&str] = &[
    "/v1/contacts",
    "/v1/contacts/unconnected",
    "/v1/contacts/tags",
    "/v1/contacts/{id}",
    "/v1/my/contact",
];

/// Seeds the data and builds the router.
pub fn build(world: &World, credentials: &Credentials) -> (Router, Arc<dyn Resettable>) {
    let mut users = vec![SparkUser {
        token: Arc::from(credentials.spark.token.as_str()),
        store: Arc::new(Store::new(seed::seed(world))),
    }];
    for (number, user) in credentials.spark.more_users.iter().enumerate() {
        users.push(SparkUser {
            token: Arc::from(user.token.as_str()),
            store: Arc::new(Store::new(seed::seed_further_agent(
                world,
                number,
                &user.user_id,
                &user.name,
            ))),
        });
    }
    let users: Arc<[SparkUser]> = Arc::from(users);
    let store: Arc<dyn Resettable> = Arc::new(UserStores(Arc::clone(&users)));
    let state = AppState { users };
    let router = Router::new()
        .route(
            "/v1/contacts",
            get(list_connected)
                .post(create_contacts)
                .fallback(method_not_allowed),
        )
        .route(
            "/v1/contacts/unconnected",
            get(list_unconnected).fallback(method_not_allowed),
        )
        .route(
            "/v1/contacts/tags",
            get(list_tags).fallback(method_not_allowed),
        )
        .route(
            "/v1/contacts/{id}",
            get(get_contact)
                .put(put_contact)
                .delete(delete_contact)
                .fallback(method_not_allowed),
        )
        .route(
            "/v1/my/contact",
            get(get_my_contact)
                .put(put_my_contact)
                .fallback(method_not_allowed),
        )
        .fallback(unknown_path)
        .with_state(state);
    (router, store)
}

#[derive(Clone)]
struct AppState {
    /// The agent of `credentials.spark.token` first, then the further ones.
    users: Arc<[SparkUser]>,
}

/// One agent: its Private-role token (the other roles' tokens are derived
/// from it) and its data, which no other agent's token reaches.
struct SparkUser {
    token: Arc<str>,
    store: Arc<Store<SparkData>>,
}

/// Every agent's store, reset together.
struct UserStores(Arc<[SparkUser]>);

impl Resettable for UserStores {
    fn reset(&self) {
        for user in self.0.iter() {
            user.store.reset();
        }
    }
}

/// The agent a request's token belongs to, and the token's role.
fn user_of<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
) -> Result<(&'a SparkUser, Role), SparkError> {
    let mut refusal = SparkError::invalid_token();
    for user in state.users.iter() {
        match authenticate(headers, &user.token) {
            Ok(role) => return Ok((user, role)),
            // Not this agent's token: try the next.
            Err(error) if error.code == 1000 => refusal = error,
            Err(error) => return Err(error),
        }
    }
    Err(refusal)
}

/// The role a token carries, which decides what it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Private,
    Idx,
    Vow,
    Portal,
    Public,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Private => "Private",
            Role::Idx => "IDX",
            Role::Vow => "VOW",
            Role::Portal => "Portal",
            Role::Public => "Public",
        }
    }
}

/// Checks the user-agent header and the token; answers the token's role.
fn authenticate(headers: &HeaderMap, token: &str) -> Result<Role, SparkError> {
    let has_user_agent = headers
        .get("x-sparkapi-user-agent")
        .is_some_and(|value| !value.as_bytes().trim_ascii().is_empty());
    if !has_user_agent {
        return Err(SparkError::missing_user_agent());
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth")
        })
        .map(|(_, presented)| presented.trim())
        .ok_or_else(SparkError::invalid_token)?;
    match presented.strip_prefix(token) {
        Some("") => Ok(Role::Private),
        Some("-idx") => Ok(Role::Idx),
        Some("-vow") => Ok(Role::Vow),
        Some("-portal") => Ok(Role::Portal),
        Some("-public") => Ok(Role::Public),
        Some("-expired") => Err(SparkError::expired_token()),
        _ => Err(SparkError::invalid_token()),
    }
}

/// What a request does, for the role checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadContacts,
    WriteContacts,
    ReadMyContact,
    WriteMyContact,
}

fn authorize(role: Role, access: Access) -> Result<(), SparkError> {
    let consumer = matches!(role, Role::Vow | Role::Portal);
    let writes = matches!(access, Access::WriteContacts | Access::WriteMyContact);
    if consumer && matches!(access, Access::ReadContacts | Access::WriteContacts) {
        return Err(SparkError::not_available(format!(
            "The {} role may only use /my/contact.",
            role.name()
        )));
    }
    if role == Role::Public && writes {
        return Err(SparkError::not_available("The Public role may not write."));
    }
    Ok(())
}

async fn unknown_path() -> SparkError {
    SparkError::not_found("The requested resource does not exist.")
}

async fn method_not_allowed() -> SparkError {
    SparkError::method_not_allowed()
}

fn contact_not_found() -> SparkError {
    SparkError::not_found("Contact not found.")
}

/// The contact id of a path, which must be 24 or 26 digits.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, SparkError> {
    match path {
        Ok(Path(id)) if is_spark_id(&id) => Ok(id),
        _ => Err(contact_not_found()),
    }
}

fn now() -> String {
    format_timestamp(Utc::now())
}

async fn list_connected(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, SparkError> {
    list_contacts(&state, &headers, query.as_deref(), true)
}

async fn list_unconnected(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, SparkError> {
    list_contacts(&state, &headers, query.as_deref(), false)
}

/// One page of the Connected (or Unconnected) contacts matching `_filter`.
fn list_contacts(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    connected: bool,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(state, headers)?;
    authorize(role, Access::ReadContacts)?;
    let parameters = parse_query(query);
    let options = parse_list_options(&parameters)?;
    let presentation = parse_presentation(&parameters, role)?;
    let data = user.store.read();
    let candidates: Vec<&StoredContact> = match &options.filter_ids {
        Some(ids) => {
            let mut seen = HashSet::new();
            ids.iter()
                .filter(|id| seen.insert(id.as_str()))
                .filter_map(|id| data.contacts.get(id))
                .collect()
        }
        None => data.contacts.values().collect(),
    };
    let mut matching: Vec<&StoredContact> = candidates
        .into_iter()
        .filter(|contact| contact.is_connected() == connected)
        .filter(|contact| {
            options
                .filter
                .as_ref()
                .is_none_or(|filter| filter.matches(&contact.record))
        })
        .collect();
    sort_contacts(&mut matching, options.ordering);
    let total_rows = matching.len();
    let results = if options.pagination == PaginationMode::CountOnly {
        Vec::new()
    } else {
        let email_counts = presentation
            .expands(Expansion::UniquePrimaryEmail)
            .then(|| data.email_counts());
        let start = (options.page - 1).checked_mul(options.limit);
        matching
            .iter()
            .skip(start.unwrap_or(usize::MAX))
            .take(options.limit)
            .map(|contact| contact.render(&presentation, email_counts.as_ref()))
            .collect()
    };
    let pagination = (options.pagination != PaginationMode::Omitted).then(|| {
        let total_pages = if options.limit == 0 {
            0
        } else {
            total_rows.div_ceil(options.limit)
        };
        json!({
            "TotalRows": total_rows,
            "PageSize": options.limit,
            "TotalPages": total_pages,
            "CurrentPage": options.page,
        })
    });
    Ok(success_with_results(results, pagination))
}

fn sort_contacts(contacts: &mut [&StoredContact], ordering: Ordering) {
    let key = |contact: &StoredContact| -> String {
        match ordering.key {
            OrderKey::DisplayName => contact.text("DisplayName").to_lowercase(),
            OrderKey::CreatedTimestamp => contact.text("CreatedTimestamp").to_string(),
            OrderKey::ModificationTimestamp => contact.text("ModificationTimestamp").to_string(),
        }
    };
    let mut keyed: Vec<(String, &StoredContact)> = contacts
        .iter()
        .map(|contact| (key(contact), *contact))
        .collect();
    keyed.sort_by(|(key_a, a), (key_b, b)| {
        let primary = if ordering.descending {
            key_b.cmp(key_a)
        } else {
            key_a.cmp(key_b)
        };
        primary.then_with(|| a.id().cmp(b.id()))
    });
    for (slot, (_, contact)) in contacts.iter_mut().zip(keyed) {
        *slot = contact;
    }
}

async fn list_tags(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(&state, &headers)?;
    authorize(role, Access::ReadContacts)?;
    let data = user.store.read();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for contact in data.contacts.values().filter(|c| c.is_connected()) {
        if let Some(Value::Array(tags)) = contact.record.get("Tags") {
            for tag in tags.iter().filter_map(Value::as_str) {
                *counts.entry(tag).or_insert(0) += 1;
            }
        }
    }
    let results = counts
        .into_iter()
        .map(|(tag, count)| {
            json!({
                "ResourceUri": format!("/v1/contacts/tags/{tag}"),
                "Tag": tag,
                "Count": count,
            })
        })
        .collect();
    Ok(success_with_results(results, None))
}

async fn get_contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(&state, &headers)?;
    authorize(role, Access::ReadContacts)?;
    let presentation = parse_presentation(&parse_query(query.as_deref()), role)?;
    let id = path_id(path)?;
    let data = user.store.read();
    let contact = data.contacts.get(&id).ok_or_else(contact_not_found)?;
    Ok(render_one(&data, contact, &presentation))
}

fn render_one(data: &SparkData, contact: &StoredContact, presentation: &Presentation) -> Response {
    let email_counts = presentation
        .expands(Expansion::UniquePrimaryEmail)
        .then(|| data.email_counts());
    success_with_results(
        vec![contact.render(presentation, email_counts.as_ref())],
        None,
    )
}

async fn create_contacts(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(&state, &headers)?;
    authorize(role, Access::WriteContacts)?;
    let body = unwrap_write_body(&body)?;
    let drafts = create_drafts(body)?;
    let mut validated = Vec::with_capacity(drafts.len());
    for draft in &drafts {
        validated.push(validate_changes(draft, WriteContext::Create)?);
    }
    let mut data = user.store.write();
    let mut batch_emails = HashSet::new();
    for changes in &validated {
        let email = changes
            .values
            .get("PrimaryEmail")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if data.email_taken(email, None) || !batch_emails.insert(normalized_email(email)) {
            return Err(duplicate_email(email));
        }
    }
    let mut login_names: HashSet<String> = data
        .contacts
        .values()
        .filter_map(|contact| contact.portal.as_ref().map(|p| p.login_name.clone()))
        .collect();
    let mut created_contacts = Vec::with_capacity(validated.len());
    for changes in validated {
        let id = data.new_contact_id();
        let timestamp = now();
        let detail_seed = data.id_generator.next_u64();
        let owner = data.account_contact.id().to_string();
        let mut contact = StoredContact::new(
            &id,
            format!("/v1/contacts/{id}"),
            &owner,
            "Connected",
            &timestamp,
            &timestamp,
            detail_seed,
        );
        contact.apply(&changes.values);
        check_notification_emails(&contact)?;
        // The seed: POST "creates a new contact along with an auto-generated
        // portal account".
        let base = normalized_email(contact.text("PrimaryEmail"))
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut login_name = base.clone();
        let mut suffix = 2;
        while !login_names.insert(login_name.clone()) {
            login_name = format!("{base}{suffix}");
            suffix += 1;
        }
        contact.set_portal(Some(PortalAccount {
            login_name,
            enabled: true,
            recently_active: false,
            created: timestamp.clone(),
        }));
        if let Some(note) = changes.note {
            let note_id = data.new_note_id();
            contact.notes.push(ContactNote {
                id: note_id,
                note,
                created: timestamp,
            });
        }
        created_contacts.push(contact);
    }
    let mut results = Vec::with_capacity(created_contacts.len());
    for contact in created_contacts {
        results.push(json!({
            "ResourceUri": contact.text("ResourceUri"),
            "Id": contact.id(),
        }));
        data.contacts.insert(contact.id().to_string(), contact);
    }
    Ok(success_with_results(results, None))
}

/// The contacts a POST body describes: the seed's single contact, or the real
/// clients' `{"Contacts": [...], "Notify": bool}`.
fn create_drafts(body: Map<String, Value>) -> Result<Vec<Map<String, Value>>, SparkError> {
    if !body.contains_key("Contacts") {
        return Ok(vec![body]);
    }
    let mut drafts = Vec::new();
    for (key, value) in body {
        match (key.as_str(), value) {
            ("Notify", Value::Bool(_)) => {}
            ("Contacts", Value::Array(items)) if !items.is_empty() => {
                for item in items {
                    let Value::Object(draft) = item else {
                        return Err(SparkError::constraint(
                            "Each element of 'Contacts' must be an object.",
                        ));
                    };
                    drafts.push(draft);
                }
            }
            ("Contacts", _) => {
                return Err(SparkError::constraint(
                    "'Contacts' must be a non-empty list of contacts.",
                ))
            }
            ("Notify", _) => {
                return Err(SparkError::constraint(
                    "Attribute 'Notify' must be a boolean.",
                ))
            }
            (other, _) => {
                return Err(SparkError::constraint(format!(
                    "Attribute '{other}' is not allowed beside 'Contacts'."
                )))
            }
        }
    }
    Ok(drafts)
}

fn duplicate_email(email: &str) -> SparkError {
    SparkError::conflict(format!(
        "A contact with the PrimaryEmail '{}' already exists.",
        email.trim()
    ))
}

/// The seed: `AdditionalNotificationEmails` holds a subset of `SecondaryEmails`.
fn check_notification_emails(contact: &StoredContact) -> Result<(), SparkError> {
    let list = |name: &str| -> Vec<String> {
        match contact.record.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(normalized_email)
                .collect(),
            _ => Vec::new(),
        }
    };
    let secondary = list("SecondaryEmails");
    match list("AdditionalNotificationEmails")
        .into_iter()
        .find(|email| !secondary.contains(email))
    {
        Some(email) => Err(SparkError::constraint(format!(
            "AdditionalNotificationEmails may only contain SecondaryEmails; '{email}' is not one."
        ))),
        None => Ok(()),
    }
}

async fn put_contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(&state, &headers)?;
    authorize(role, Access::WriteContacts)?;
    let id = path_id(path)?;
    let body = unwrap_write_body(&body)?;
    let mut data = user.store.write();
    let current = data.contacts.get(&id).ok_or_else(contact_not_found)?;
    let mut updated = current.clone();
    if let Some(owner) = body.get("OwnerId") {
        if body.len() > 1 {
            return Err(SparkError::constraint(
                "No attribute other than OwnerId can be specified when transferring a contact.",
            ));
        }
        let owner = owner
            .as_str()
            .filter(|owner| is_spark_id(owner))
            .ok_or_else(|| {
                SparkError::constraint("OwnerId must be the Id of a user (24 or 26 digits).")
            })?;
        updated.set_text("OwnerId", Some(owner.to_string()));
        updated.set_text("RecordStatus", Some("Connected".to_string()));
    } else {
        let changes = validate_changes(&body, WriteContext::Update)?;
        let to_unconnected =
            changes.values.get("RecordStatus").and_then(Value::as_str) == Some("Unconnected");
        if current.is_connected() && to_unconnected {
            return Err(SparkError::constraint(
                "RecordStatus cannot be changed from Connected to Unconnected.",
            ));
        }
        updated.apply(&changes.values);
        check_notification_emails(&updated)?;
        check_changed_email(&data, current, &updated)?;
        if let Some(note) = changes.note {
            let note_id = data.new_note_id();
            updated.notes.push(ContactNote {
                id: note_id,
                note,
                created: now(),
            });
        }
    }
    updated.set_text("ModificationTimestamp", Some(now()));
    data.contacts.insert(id, updated);
    Ok(success_without_results())
}

/// 1055 when an update gives a contact an email another contact already uses.
/// Keeping one's own email is never a conflict, even where it is shared.
fn check_changed_email(
    data: &SparkData,
    current: &StoredContact,
    updated: &StoredContact,
) -> Result<(), SparkError> {
    let email = updated.text("PrimaryEmail");
    let changed = normalized_email(email) != normalized_email(current.text("PrimaryEmail"));
    if changed && data.email_taken(email, Some(current.id())) {
        return Err(duplicate_email(email));
    }
    Ok(())
}

async fn delete_contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(&state, &headers)?;
    authorize(role, Access::WriteContacts)?;
    let id = path_id(path)?;
    let mut data = user.store.write();
    data.contacts.remove(&id).ok_or_else(contact_not_found)?;
    Ok(success_without_results())
}

/// Which record `/my/contact` is for a role: `None` is the agent's own record,
/// `Some(id)` a consumer's contact.
fn my_contact_id(data: &SparkData, role: Role) -> Option<String> {
    match role {
        Role::Vow => Some(data.vow_user_contact_id.clone()),
        Role::Portal => Some(data.portal_user_contact_id.clone()),
        Role::Private | Role::Idx | Role::Public => None,
    }
}

fn my_contact_gone() -> SparkError {
    SparkError::not_found("The current user's contact record no longer exists.")
}

async fn get_my_contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(&state, &headers)?;
    authorize(role, Access::ReadMyContact)?;
    let presentation = parse_presentation(&parse_query(query.as_deref()), role)?;
    let data = user.store.read();
    let contact = match my_contact_id(&data, role) {
        None => &data.account_contact,
        Some(id) => data.contacts.get(&id).ok_or_else(my_contact_gone)?,
    };
    Ok(render_one(&data, contact, &presentation))
}

async fn put_my_contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SparkError> {
    let (user, role) = user_of(&state, &headers)?;
    authorize(role, Access::WriteMyContact)?;
    let body = unwrap_write_body(&body)?;
    let changes = validate_changes(&body, WriteContext::MyContact)?;
    let mut data = user.store.write();
    match my_contact_id(&data, role) {
        None => {
            let mut updated = data.account_contact.clone();
            updated.apply(&changes.values);
            check_notification_emails(&updated)?;
            updated.set_text("ModificationTimestamp", Some(now()));
            data.account_contact = updated;
        }
        Some(id) => {
            let current = data.contacts.get(&id).ok_or_else(my_contact_gone)?;
            let mut updated = current.clone();
            updated.apply(&changes.values);
            check_notification_emails(&updated)?;
            check_changed_email(&data, current, &updated)?;
            updated.set_text("ModificationTimestamp", Some(now()));
            data.contacts.insert(id, updated);
        }
    }
    Ok(success_without_results())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(authorization: Option<&str>, user_agent: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        if user_agent {
            headers.insert(
                "x-sparkapi-user-agent",
                HeaderValue::from_static("Test/1.0"),
            );
        }
        headers
    }

    #[test]
    fn tokens_map_to_roles() {
        let role = |value: &str| authenticate(&headers(Some(value), true), "tok");
        assert_eq!(role("Bearer tok"), Ok(Role::Private));
        assert_eq!(role("OAuth tok"), Ok(Role::Private));
        assert_eq!(role("bearer tok-idx"), Ok(Role::Idx));
        assert_eq!(role("Bearer tok-vow"), Ok(Role::Vow));
        assert_eq!(role("Bearer tok-portal"), Ok(Role::Portal));
        assert_eq!(role("Bearer tok-public"), Ok(Role::Public));
        assert_eq!(role("Bearer tok-expired").unwrap_err().code, 1020);
        assert_eq!(role("Bearer tok-other").unwrap_err().code, 1000);
        assert_eq!(role("Basic tok").unwrap_err().code, 1000);
        assert_eq!(role("Bearer").unwrap_err().code, 1000);
        assert_eq!(
            authenticate(&headers(Some("Bearer tok"), false), "tok")
                .unwrap_err()
                .code,
            1016
        );
        assert_eq!(
            authenticate(&headers(None, true), "tok").unwrap_err().code,
            1000
        );
    }

    #[test]
    fn roles_are_limited_as_the_seed_says() {
        use Access::*;
        for role in [Role::Vow, Role::Portal] {
            assert_eq!(authorize(role, ReadContacts).unwrap_err().code, 1500);
            assert_eq!(authorize(role, WriteContacts).unwrap_err().code, 1500);
            assert!(authorize(role, ReadMyContact).is_ok());
            assert!(authorize(role, WriteMyContact).is_ok());
        }
        assert!(authorize(Role::Public, ReadContacts).is_ok());
        assert_eq!(
            authorize(Role::Public, WriteContacts).unwrap_err().code,
            1500
        );
        assert_eq!(
            authorize(Role::Public, WriteMyContact).unwrap_err().code,
            1500
        );
        assert!(authorize(Role::Idx, WriteContacts).is_ok());
    }
}
