//! The Django-CRM emulator's records, their JSON forms, and their deterministic seeding.
//!
//! Everything the emulator serves lives in one [`DjangoCrmData`] value inside a
//! `Store`, so that a sandbox reset restores users, teams, contacts, comments,
//! attachments and tasks together. Comments, attachments and tasks are kept
//! inside their contact, which makes the detail view one map lookup; two small
//! indexes find a comment's or an attachment's contact by the child's id.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use serde_json::{json, Value};

use super::super::credentials::Credentials;
use super::super::people::{PhoneStyle, SourceName, World};
use super::super::rng::SeededRng;
use super::{OTHER_ORGANIZATION_TOKEN_SUFFIX, SECOND_ORGANIZATION_ID, SECOND_USER_TOKEN_SUFFIX};

/// How many contacts the second organization holds after seeding.
pub const SECOND_ORGANIZATION_CONTACT_COUNT: usize = 40;

/// A user profile: a member of exactly one organization. Users with a token
/// can call the API; the others only appear as assignees, creators and authors.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Team {
    pub id: String,
    pub organization_id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub(super) struct Comment {
    pub id: String,
    pub contact_id: String,
    pub comment: String,
    pub commented_on: DateTime<Utc>,
    pub commented_by: String,
}

#[derive(Debug, Clone)]
pub(super) struct Attachment {
    pub id: String,
    pub contact_id: String,
    /// The file's URL path, as Django's `FieldFile.url` gives it.
    pub attachment: String,
    pub file_name: String,
    pub created_on: DateTime<Utc>,
    pub created_by: String,
}

#[derive(Debug, Clone)]
pub(super) struct Task {
    pub id: String,
    pub title: String,
    pub status: String,
    pub priority: String,
    pub due_date: NaiveDate,
    pub created_on: DateTime<Utc>,
}

/// The text fields of a contact, in the order the API serialises them. Every
/// one of them can be written by create and update.
pub(super) const CONTACT_TEXT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "primary_email",
    "secondary_email",
    "mobile_number",
    "organization",
    "department",
    "designation",
    "address_line",
    "street",
    "city",
    "state",
    "postcode",
    "country",
];

#[derive(Debug, Clone)]
pub(super) struct Contact {
    pub id: String,
    pub organization_id: String,
    /// Values of [`CONTACT_TEXT_FIELDS`], in that order.
    pub text: Vec<String>,
    pub created_on: DateTime<Utc>,
    pub created_by: String,
    pub assigned_to: Vec<String>,
    pub teams: Vec<String>,
    /// Oldest first; the API lists them newest first.
    pub comments: Vec<Comment>,
    /// Oldest first; the API lists them newest first.
    pub attachments: Vec<Attachment>,
    pub tasks: Vec<Task>,
}

impl Contact {
    /// The value of one of [`CONTACT_TEXT_FIELDS`]; unknown names read as empty.
    pub fn text(&self, field: &str) -> &str {
        CONTACT_TEXT_FIELDS
            .iter()
            .position(|name| *name == field)
            .and_then(|index| self.text.get(index))
            .map_or("", String::as_str)
    }

    /// Replaces one of [`CONTACT_TEXT_FIELDS`]; unknown names are ignored.
    pub fn set_text(&mut self, field: &str, value: String) {
        if let Some(index) = CONTACT_TEXT_FIELDS.iter().position(|name| *name == field) {
            self.text[index] = value;
        }
    }

    /// The contact as list results, `contact_obj` and write answers show it.
    pub fn to_json(&self) -> Value {
        let mut object = serde_json::Map::new();
        object.insert("id".into(), json!(self.id));
        for (name, value) in CONTACT_TEXT_FIELDS.iter().zip(&self.text) {
            object.insert((*name).into(), json!(value));
        }
        object.insert("org".into(), json!(self.organization_id));
        object.insert("created_on".into(), json!(format_datetime(self.created_on)));
        object.insert("created_by".into(), json!(self.created_by));
        object.insert("assigned_to".into(), json!(self.assigned_to));
        object.insert("teams".into(), json!(self.teams));
        Value::Object(object)
    }

    /// The `address_obj` of the detail view (Django-CRM's address serializer).
    pub fn address_json(&self) -> Value {
        json!({
            "address_line": self.text("address_line"),
            "street": self.text("street"),
            "city": self.text("city"),
            "state": self.text("state"),
            "postcode": self.text("postcode"),
            "country": self.text("country"),
        })
    }

    /// Comments, newest first.
    pub fn comments_json(&self) -> Value {
        Value::Array(self.comments.iter().rev().map(Comment::to_json).collect())
    }

    /// Attachments, newest first.
    pub fn attachments_json(&self) -> Value {
        Value::Array(
            self.attachments
                .iter()
                .rev()
                .map(Attachment::to_json)
                .collect(),
        )
    }
}

impl Comment {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "comment": self.comment,
            "contact": self.contact_id,
            "commented_on": format_datetime(self.commented_on),
            "commented_by": self.commented_by,
        })
    }
}

impl Attachment {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "attachment": self.attachment,
            "file_name": self.file_name,
            "contact": self.contact_id,
            "created_on": format_datetime(self.created_on),
            "created_by": self.created_by,
        })
    }
}

impl Task {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "priority": self.priority,
            "due_date": crate::sandbox::timestamps::date(&self.due_date).to_string(),
            "created_on": format_datetime(self.created_on),
        })
    }
}

impl User {
    /// A user as the detail view's `assigned_to` lists them.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
        })
    }
}

/// The emulator's whole state.
#[derive(Debug, Clone)]
pub(super) struct DjangoCrmData {
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    pub contacts: HashMap<String, Contact>,
    /// Comment id to the id of the contact holding it.
    pub comment_contacts: HashMap<String, String>,
    /// Attachment id to the id of the contact holding it.
    pub attachment_contacts: HashMap<String, String>,
    /// Draws the ids of records created through the API, so that the same
    /// requests after a reset produce the same ids.
    pub id_generator: SeededRng,
}

impl DjangoCrmData {
    /// A fresh id for a record created through the API.
    pub fn next_id(&mut self) -> String {
        loop {
            let id = self.id_generator.uuid();
            let taken = self.contacts.contains_key(&id)
                || self.comment_contacts.contains_key(&id)
                || self.attachment_contacts.contains_key(&id);
            if !taken {
                return id;
            }
        }
    }

    /// The user a token belongs to.
    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|user| user.token.as_deref() == Some(token))
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|user| user.id == id)
    }

    /// A contact, only if it belongs to `organization_id`: another
    /// organization's records do not exist for the caller.
    pub fn contact_in(&self, organization_id: &str, id: &str) -> Option<&Contact> {
        self.contacts
            .get(id)
            .filter(|contact| contact.organization_id == organization_id)
    }

    pub fn contact_in_mut(&mut self, organization_id: &str, id: &str) -> Option<&mut Contact> {
        self.contacts
            .get_mut(id)
            .filter(|contact| contact.organization_id == organization_id)
    }
}

/// Formats a timestamp the way Django REST framework does: ISO 8601 in UTC with
/// a `Z`, and microseconds only when there are any (Python's `isoformat`).
pub(super) fn format_datetime(moment: DateTime<Utc>) -> String {
    if moment.nanosecond() / 1000 == 0 {
        crate::sandbox::timestamps::utc_seconds(&moment).to_string()
    } else {
        moment.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// The URL path Django would serve an uploaded contact attachment from.
pub(super) fn attachment_url(attachment_id: &str, file_name: &str) -> String {
    format!("/media/contact_attachments/{attachment_id}/{file_name}")
}

const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Marketing",
    "Operations",
    "Finance",
    "Legal",
    "Customer Success",
    "Purchasing",
];

const SUITES: &[&str] = &["Suite 200", "Apt 4B", "Floor 5", "Unit 12", "Suite 1100"];

const COMMENT_TEXTS: &[&str] = &[
    "Had great conversation about upcoming project",
    "Left a voicemail, will try again on Friday.",
    "Prefers email over phone calls.",
    "Asked for the updated price sheet.",
    "Met at the open house on Saturday.",
    "Follow up after the inspection report arrives.",
    "Interested in properties near the waterfront.",
    "Requested a call back next week.",
    "Sent the signed disclosure forms.",
    "Budget confirmed by the lender.",
];

const ATTACHMENT_NAMES: &[&str] = &[
    "signed-contract.pdf",
    "id-scan.png",
    "pre-approval-letter.pdf",
    "inspection-report.pdf",
    "business-card.jpg",
    "notes.txt",
];

const TASK_TITLES: &[&str] = &[
    "Send listing packet",
    "Schedule showing",
    "Call about financing",
    "Collect signed disclosures",
    "Book the appraisal",
];

const TASK_STATUSES: &[&str] = &["New", "In Progress", "Completed"];
const TASK_PRIORITIES: &[&str] = &["Low", "Medium", "High"];

/// Seeds users, teams and contacts for both organizations.
pub(super) fn seed(world: &World, credentials: &Credentials) -> DjangoCrmData {
    let demo_organization = credentials.djangocrm.organization_id.clone();
    let demo_token = credentials.djangocrm.token.clone();
    let mut rng = world.rng_for("djangocrm-records");

    let mut users = Vec::new();
    let demo_org_users: &[(&str, &str, Option<String>)] = &[
        ("Demo", "User", Some(demo_token.clone())),
        (
            "Second",
            "User",
            Some(format!("{demo_token}{SECOND_USER_TOKEN_SUFFIX}")),
        ),
        ("Avery", "Sales", None),
        ("Jordan", "Support", None),
        ("Morgan", "Marketing", None),
        ("Riley", "Operations", None),
    ];
    for (first_name, last_name, token) in demo_org_users {
        users.push(User {
            id: rng.uuid(),
            organization_id: demo_organization.clone(),
            email: format!(
                "{}.{}@acme-crm.example",
                first_name.to_lowercase(),
                last_name.to_lowercase()
            ),
            first_name: (*first_name).to_string(),
            last_name: (*last_name).to_string(),
            token: token.clone(),
        });
    }
    let other_org_users: &[(&str, &str, Option<String>)] = &[
        (
            "Other",
            "Admin",
            Some(format!("{demo_token}{OTHER_ORGANIZATION_TOKEN_SUFFIX}")),
        ),
        ("Casey", "Other", None),
    ];
    for (first_name, last_name, token) in other_org_users {
        users.push(User {
            id: rng.uuid(),
            organization_id: SECOND_ORGANIZATION_ID.to_string(),
            email: format!(
                "{}.{}@other-org.example",
                first_name.to_lowercase(),
                last_name.to_lowercase()
            ),
            first_name: (*first_name).to_string(),
            last_name: (*last_name).to_string(),
            token: token.clone(),
        });
    }

    let mut teams = Vec::new();
    for name in ["Sales", "Support", "Marketing"] {
        teams.push(Team {
            id: rng.uuid(),
            organization_id: demo_organization.clone(),
            name: name.to_string(),
        });
    }
    teams.push(Team {
        id: rng.uuid(),
        organization_id: SECOND_ORGANIZATION_ID.to_string(),
        name: "Field Agents".to_string(),
    });

    let mut data = DjangoCrmData {
        users,
        teams,
        contacts: HashMap::new(),
        comment_contacts: HashMap::new(),
        attachment_contacts: HashMap::new(),
        id_generator: world.rng_for("djangocrm-created-ids"),
    };

    let demo_people = world.people_for(SourceName::DjangoCrm);
    let demo_indexes: std::collections::HashSet<usize> =
        demo_people.iter().map(|person| person.index).collect();
    // The second organization's contacts are people the demo organization does
    // not hold, so that nothing but the organization decides visibility.
    let mut other_people: Vec<_> = world
        .people
        .iter()
        .filter(|person| !demo_indexes.contains(&person.index))
        .collect();
    world
        .rng_for("djangocrm-other-org-people")
        .shuffle(&mut other_people);
    other_people.truncate(SECOND_ORGANIZATION_CONTACT_COUNT);
    other_people.sort_by_key(|person| person.index);

    let seeded = demo_people
        .into_iter()
        .map(|person| (person, demo_organization.as_str()))
        .chain(
            other_people
                .into_iter()
                .map(|person| (person, SECOND_ORGANIZATION_ID)),
        );
    for (person, organization_id) in seeded {
        let members: Vec<String> = data
            .users
            .iter()
            .filter(|user| user.organization_id == organization_id)
            .map(|user| user.id.clone())
            .collect();
        let organization_teams: Vec<String> = data
            .teams
            .iter()
            .filter(|team| team.organization_id == organization_id)
            .map(|team| team.id.clone())
            .collect();
        let id = rng.uuid();
        let created_on = person.created_at + Duration::minutes(rng.range(0, 60 * 72) as i64);
        let secondary_email = if rng.chance(0.25) {
            format!(
                "{}.{}@{}.example",
                person.first_name.to_lowercase(),
                person.last_name.to_lowercase().replace(['\'', ' '], ""),
                person.company.to_lowercase().replace(' ', "-")
            )
        } else {
            String::new()
        };
        let street = if rng.chance(0.3) {
            rng.pick(SUITES).to_string()
        } else {
            String::new()
        };
        let text = vec![
            person.first_name.clone(),
            person.last_name.clone(),
            person.email_as_entered(SourceName::DjangoCrm),
            secondary_email,
            person.phone(PhoneStyle::E164),
            person.company.clone(),
            rng.pick(DEPARTMENTS).to_string(),
            person.job_title.clone(),
            person.street.clone(),
            street,
            person.city.clone(),
            person.state.clone(),
            person.postal_code.clone(),
            "USA".to_string(),
        ];
        let created_by = rng.pick(&members).clone();
        let mut assigned_to = Vec::new();
        for _ in 0..rng.range(0, 3) {
            let user = rng.pick(&members).clone();
            if !assigned_to.contains(&user) {
                assigned_to.push(user);
            }
        }
        let teams = if rng.chance(0.4) {
            vec![rng.pick(&organization_teams).clone()]
        } else {
            Vec::new()
        };

        let mut comments = Vec::new();
        let mut moment = created_on;
        for _ in 0..rng.range(0, 6) {
            moment += Duration::minutes(rng.range(30, 60 * 24 * 20) as i64);
            let comment_id = rng.uuid();
            comments.push(Comment {
                id: comment_id.clone(),
                contact_id: id.clone(),
                comment: rng.pick(COMMENT_TEXTS).to_string(),
                commented_on: moment,
                commented_by: rng.pick(&members).clone(),
            });
            data.comment_contacts.insert(comment_id, id.clone());
        }
        let mut attachments = Vec::new();
        let mut moment = created_on;
        for _ in 0..rng.range(0, 3) {
            moment += Duration::minutes(rng.range(30, 60 * 24 * 30) as i64);
            let attachment_id = rng.uuid();
            let file_name = rng.pick(ATTACHMENT_NAMES).to_string();
            attachments.push(Attachment {
                id: attachment_id.clone(),
                contact_id: id.clone(),
                attachment: attachment_url(&attachment_id, &file_name),
                file_name,
                created_on: moment,
                created_by: rng.pick(&members).clone(),
            });
            data.attachment_contacts.insert(attachment_id, id.clone());
        }
        let mut tasks = Vec::new();
        if rng.chance(0.1) {
            for _ in 0..rng.range(1, 3) {
                let task_created = created_on + Duration::hours(rng.range(1, 24 * 10) as i64);
                tasks.push(Task {
                    id: rng.uuid(),
                    title: rng.pick(TASK_TITLES).to_string(),
                    status: rng.pick(TASK_STATUSES).to_string(),
                    priority: rng.pick(TASK_PRIORITIES).to_string(),
                    due_date: (task_created + Duration::days(rng.range(1, 30) as i64)).date_naive(),
                    created_on: task_created,
                });
            }
        }

        data.contacts.insert(
            id.clone(),
            Contact {
                id,
                organization_id: organization_id.to_string(),
                text,
                created_on,
                created_by,
                assigned_to,
                teams,
                comments,
                attachments,
                tasks,
            },
        );
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn datetimes_print_microseconds_only_when_present() {
        let whole = Utc.with_ymd_and_hms(2023, 1, 15, 10, 30, 0).unwrap();
        assert_eq!(format_datetime(whole), "2023-01-15T10:30:00Z");
        let fractional = whole + Duration::microseconds(1234);
        assert_eq!(format_datetime(fractional), "2023-01-15T10:30:00.001234Z");
    }

    #[test]
    fn seeding_is_deterministic_and_fills_both_organizations() {
        let world = World::generate(5);
        let credentials = Credentials::default();
        let first = seed(&world, &credentials);
        let second = seed(&world, &credentials);
        let mut first_ids: Vec<_> = first.contacts.keys().collect();
        let mut second_ids: Vec<_> = second.contacts.keys().collect();
        first_ids.sort();
        second_ids.sort();
        assert_eq!(first_ids, second_ids);
        let demo = first
            .contacts
            .values()
            .filter(|c| c.organization_id == credentials.djangocrm.organization_id)
            .count();
        assert_eq!(demo, 600);
        assert_eq!(
            first.contacts.len() - demo,
            SECOND_ORGANIZATION_CONTACT_COUNT
        );
        assert!(first.comment_contacts.len() > 600);
        assert!(!first.attachment_contacts.is_empty());
    }
}
