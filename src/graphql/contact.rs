//! The `Contact` object type and its small value types.

use async_graphql::{Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::domain::{self, SourceKind};

/// The upstream system a record lives in.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Source")]
pub enum SourceEnum {
    /// Open To Close, the real-estate transaction system.
    OpenToClose,
    /// Django-CRM.
    DjangoCrm,
    /// Winnerr, the real-estate CRM.
    Winnerr,
    /// The Spark Platform (Flexmls) MLS API.
    Spark,
}

impl From<SourceKind> for SourceEnum {
    fn from(kind: SourceKind) -> Self {
        match kind {
            SourceKind::OpenToClose => SourceEnum::OpenToClose,
            SourceKind::DjangoCrm => SourceEnum::DjangoCrm,
            SourceKind::Winnerr => SourceEnum::Winnerr,
            SourceKind::Spark => SourceEnum::Spark,
        }
    }
}

impl From<SourceEnum> for SourceKind {
    fn from(value: SourceEnum) -> Self {
        match value {
            SourceEnum::OpenToClose => SourceKind::OpenToClose,
            SourceEnum::DjangoCrm => SourceKind::DjangoCrm,
            SourceEnum::Winnerr => SourceKind::Winnerr,
            SourceEnum::Spark => SourceKind::Spark,
        }
    }
}

/// An email address of a contact.
#[derive(SimpleObject, Clone)]
pub struct Email {
    /// The address as the source stores it, trimmed of surrounding spaces.
    pub address: String,
    /// The source's label for it (such as `secondary`), when it has one.
    pub label: Option<String>,
    /// Whether the source marks this as the contact's primary address.
    pub primary: bool,
}

/// A phone number of a contact.
#[derive(SimpleObject, Clone)]
pub struct Phone {
    /// The number exactly as the source stores it.
    pub number: String,
    /// The number in E.164 form, when it can be derived without guessing.
    pub e164: Option<String>,
    /// The source's label for it (such as `mobile`), when it has one.
    pub label: Option<String>,
}

/// A postal address.
#[derive(SimpleObject, Clone)]
pub struct Address {
    /// Street and number, possibly several lines.
    pub street: Option<String>,
    /// City or locality.
    pub city: Option<String>,
    /// State, province or region.
    pub region: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// Country, as the source writes it.
    pub country: Option<String>,
}

/// A person in one of the upstream systems. Shared, so that a contact reached
/// through several fields of one response is never copied.
pub struct ContactObject(pub std::sync::Arc<domain::Contact>);

/// A person in one of the upstream systems. Fields a source does not have are
/// null or empty; nothing is invented.
#[Object(name = "Contact")]
impl ContactObject {
    /// Opaque global id; pass it to `node`, `contact` or mutations.
    pub async fn id(&self) -> ID {
        ID(self.0.global_id().encode())
    }

    /// The system this contact lives in.
    async fn source(&self) -> SourceEnum {
        self.0.source.into()
    }

    /// The contact's id in its own system.
    async fn source_id(&self) -> &str {
        &self.0.source_id
    }

    /// Given name.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }

    /// Family name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }

    /// The name to show: the source's display name, or first and last name joined.
    async fn display_name(&self) -> Option<String> {
        self.0.effective_display_name()
    }

    /// Email addresses, primary first.
    async fn emails(&self) -> Vec<Email> {
        self.0
            .emails
            .iter()
            .map(|e| Email {
                address: e.address.clone(),
                label: e.label.clone(),
                primary: e.primary,
            })
            .collect()
    }

    /// Phone numbers.
    async fn phones(&self) -> Vec<Phone> {
        self.0
            .phones
            .iter()
            .map(|p| Phone {
                number: p.number.clone(),
                e164: p.e164.clone(),
                label: p.label.clone(),
            })
            .collect()
    }

    /// Home or mailing address.
    async fn address(&self) -> Option<Address> {
        self.0.address.as_ref().map(|a| Address {
            street: a.street.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        })
    }

    /// Company or organization.
    async fn organization(&self) -> Option<&str> {
        self.0.organization.as_deref()
    }

    /// Job title or position.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }

    /// The source's contact type (such as `LEAD` or `Buyer`), as the source writes it.
    #[graphql(name = "type")]
    async fn contact_type(&self) -> Option<&str> {
        self.0.contact_type.as_deref()
    }

    /// The source's status (such as `ACTIVE` or `Connected`), as the source writes it.
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }

    /// Tags.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }

    /// Lead score, where the source computes one.
    async fn lead_score(&self) -> Option<i64> {
        self.0.lead_score
    }

    /// Free-text notes.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    /// The agent or user the contact is assigned to, as the source identifies them.
    async fn assigned_to(&self) -> Option<&str> {
        self.0.assigned_to.as_deref()
    }

    /// When the contact was created in its source.
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.0.created_at
    }

    /// When the contact was last changed in its source.
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.updated_at
    }

    /// The upstream record exactly as the upstream sent it.
    async fn raw(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.raw.to_value())
    }

    /// The Open To Close properties this contact is linked to, with its role
    /// on each; empty, at no cost, for contacts of other sources. Costly:
    /// Open To Close cannot look up a contact's properties, so the first use
    /// in a request reads every property (one request per 100) and every
    /// property's links (one request per property); every other contact of
    /// the same request is then answered from what was read.
    async fn properties(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Vec<super::property::PropertyContactObject>> {
        super::property::contact_properties(ctx, &self.0).await
    }

    /// The contact's activities, newest first: Winnerr activities, Django-CRM
    /// comments and attachments; empty for sources that keep none. Null, with
    /// an error beside the data, when the source fails to list them.
    async fn activities(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(desc = "Page size (default 20, at most the configured maximum).")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only activities of these types (default: all).")] types: Option<
            Vec<super::activity::ActivityTypeEnum>,
        >,
    ) -> async_graphql::Result<Option<super::activity::ActivityConnection>> {
        super::activity::contact_activities(ctx, &self.0, first, after, types).await
    }
}
