//! How the gateway's list queries become Spark list requests: which parts of a
//! filter go into `_filter`, how positions are written, and which contacts of a
//! natively ordered window may be handed out.
//!
//! # Filter pushdown
//! Only where Spark's matching is at least as broad as [`ContactFilter::matches`]:
//! - `city`: `HomeLocality Eq '*<city>*'`. Spark compares text exactly (case
//!   aside) and does not trim stored values, while the gateway ignores
//!   surrounding spaces; the wildcards on both sides make Spark's match
//!   broader, never narrower. Not pushed when the city holds a `*` (every `*`
//!   is a wildcard in Spark, and a value may hold at most three).
//! - `tags`: one `Tags Eq '<tag>'` per tag, joined by `And` (Spark compares list
//!   elements exactly, ignoring case, as the gateway does).
//! - `createdAfter` / `createdBefore`: `CreatedTimestamp Gt|Lt <datetime>`,
//!   the same strict comparison of instants.
//! - `status`: `/contacts` lists only Connected contacts, so `Connected` is
//!   already what it holds; any other status, and any `type` (Spark contacts
//!   have none), matches nothing and is answered without a request.
//! - `email` is not pushed: only `PrimaryEmail` is searchable in Spark, while
//!   the gateway's filter matches any email, secondary ones included, so a
//!   pushed email would lose contacts. `search` (names and emails, or phone
//!   digits) and `phone` (digits however written) have no Spark equivalent.
//!   These three are applied by the gateway to what Spark returns.
//!
//! The upstream's count is the answer's total only when everything was pushed
//! exactly (the wildcard city is broader, so a city filter gives no total from
//! a native page).
//!
//! # Positions
//! - Name order (read everything, sort locally): `sorted/<offset>`.
//! - Time orders (native `_orderby`): `time/<handed out>/<key>/<id>`: the time
//!   and id of the last contact handed out, and how many were handed out up to
//!   it. The next page asks Spark for `<field> Ge <key>` (`Le` descending) and
//!   skips the contacts at that key whose id is not after `<id>`. A key-based
//!   position, unlike an offset, stays right however Spark orders contacts
//!   with equal times (see [`settle_window`]) and when contacts are added or
//!   removed between pages.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};

use super::mapping::parse_timestamp;
use super::KIND;
use crate::domain::query::compare_ids;
use crate::domain::{Contact, ContactFilter, ContactOrder, OrderField, SortKey};
use crate::sources::SourceError;

/// The most tags pushed into one `_filter` (Spark allows 75 expressions in all).
const MAX_PUSHED_TAGS: usize = 60;

/// What of a filter Spark applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pushdown {
    /// `_filter` expressions, joined by `And`.
    pub expressions: Vec<String>,
    /// Whether Spark's matching is exactly the gateway's for the whole filter,
    /// so that its row count is the number of matching contacts.
    pub exact: bool,
    /// Whether no Spark contact can match, so no request is needed.
    pub matches_nothing: bool,
}

impl Pushdown {
    /// The `_filter` parameter, when there is anything to push.
    pub fn filter_parameter(&self, extra: Option<String>) -> Option<String> {
        let mut expressions = self.expressions.clone();
        expressions.extend(extra);
        (!expressions.is_empty()).then(|| expressions.join(" And "))
    }
}

/// A text literal of `_filter`: single-quoted, with `\` and `'` escaped.
pub fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\\' || c == '\'' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

/// A datetime literal of `_filter`, with as many fraction digits as needed.
pub fn datetime_literal(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
}

/// Splits `filter` into what Spark applies and what the gateway must.
pub fn pushdown(filter: &ContactFilter) -> Pushdown {
    let mut pushed = Pushdown {
        exact: true,
        ..Pushdown::default()
    };
    if filter.contact_type.is_some() {
        pushed.matches_nothing = true;
    }
    if let Some(status) = &filter.status {
        if !status.trim().eq_ignore_ascii_case("connected") {
            pushed.matches_nothing = true;
        }
    }
    if filter.search.is_some() || filter.email.is_some() || filter.phone.is_some() {
        pushed.exact = false;
    }
    if let Some(city) = &filter.city {
        pushed.exact = false;
        let city = city.trim();
        if !city.is_empty() && !city.contains('*') {
            pushed
                .expressions
                .push(format!("HomeLocality Eq {}", quote(&format!("*{city}*"))));
        }
    }
    for (index, tag) in filter.tags.iter().enumerate() {
        let pushable = index < MAX_PUSHED_TAGS && !tag.trim().is_empty() && !tag.contains('*');
        if !pushable {
            pushed.exact = false;
            continue;
        }
        // Spark folds case beyond ASCII, the gateway only ASCII: the same for
        // ASCII tags, broader (so not exact) for others.
        if !tag.is_ascii() {
            pushed.exact = false;
        }
        pushed.expressions.push(format!("Tags Eq {}", quote(tag)));
    }
    if let Some(after) = filter.created_after {
        pushed
            .expressions
            .push(format!("CreatedTimestamp Gt {}", datetime_literal(after)));
    }
    if let Some(before) = filter.created_before {
        pushed
            .expressions
            .push(format!("CreatedTimestamp Lt {}", datetime_literal(before)));
    }
    pushed
}

/// The Spark attribute a time order sorts on, and `None` for the name order.
pub fn time_attribute(field: OrderField) -> Option<&'static str> {
    match field {
        OrderField::Name => None,
        OrderField::CreatedAt => Some("CreatedTimestamp"),
        OrderField::UpdatedAt => Some("ModificationTimestamp"),
    }
}

/// The time a contact is ordered by under a time order.
pub fn time_key(order: &ContactOrder, contact: &Contact) -> Option<DateTime<Utc>> {
    match order.key(contact) {
        SortKey::Time(time) => Some(time),
        _ => None,
    }
}

/// Where a list resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// Name order: how many contacts of the sorted list were handed out.
    Sorted(usize),
    /// Time orders: the last contact handed out.
    After(Keyset),
}

/// The last contact handed out in a time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// How many contacts were handed out up to and including it.
    pub handed_out: u64,
    pub key: DateTime<Utc>,
    pub id: String,
}

impl Position {
    pub fn encode(&self) -> String {
        match self {
            Position::Sorted(offset) => format!("sorted/{offset}"),
            Position::After(keyset) => format!(
                "time/{}/{}/{}",
                keyset.handed_out,
                keyset.key.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                keyset.id
            ),
        }
    }

    /// Parses a position this adapter wrote for the given order.
    pub fn decode(text: &str, order: &ContactOrder) -> Result<Position, SourceError> {
        let refuse = || SourceError::BadInput {
            source_kind: KIND,
            field: Some("after".into()),
            message: "the cursor does not belong to this list".into(),
            upstream_status: None,
        };
        let parts: Vec<&str> = text.split('/').collect();
        match (order.field, parts.as_slice()) {
            (OrderField::Name, ["sorted", offset]) => {
                offset.parse().map(Position::Sorted).map_err(|_| refuse())
            }
            (OrderField::CreatedAt | OrderField::UpdatedAt, ["time", handed_out, key, id]) => {
                let handed_out = handed_out.parse().map_err(|_| refuse())?;
                let key = parse_timestamp(key).ok_or_else(refuse)?;
                if id.is_empty() {
                    return Err(refuse());
                }
                Ok(Position::After(Keyset {
                    handed_out,
                    key,
                    id: (*id).to_string(),
                }))
            }
            _ => Err(refuse()),
        }
    }
}

/// The `_filter` expression that starts a time-ordered page at a keyset's time.
pub fn keyset_expression(order: &ContactOrder, keyset: &Keyset) -> Option<String> {
    let attribute = time_attribute(order.field)?;
    let operator = match order.direction {
        crate::domain::Direction::Asc => "Ge",
        crate::domain::Direction::Desc => "Le",
    };
    Some(format!(
        "{attribute} {operator} {}",
        datetime_literal(keyset.key)
    ))
}

/// What a window of natively ordered rows allows the adapter to hand out.
#[derive(Debug, Clone, Default)]
pub struct SettledWindow {
    /// Contacts that may be handed out, in `ContactOrder::compare` order.
    pub ready: Vec<Contact>,
    /// Contacts held back because contacts with the same time may follow.
    pub held_back: usize,
    /// Rows at the keyset's own time that were handed out already.
    pub seen_at_key: u64,
}

/// Decides which of the rows read so far (in Spark's order, every row with a
/// time) can be handed out.
///
/// Spark orders by the time, but how it orders contacts with equal times is
/// its own business (the emulator compares ids as text, the gateway compares
/// Spark's ids as numbers, and 24- and 26-digit ids differ in the two). So the
/// contacts sharing the last row's time are held back unless Spark has no
/// more rows: the next page may hold more contacts with that time, and any of
/// them may come first in the gateway's order. Everything before that time is
/// complete and is sorted by [`ContactOrder::compare`].
pub fn settle_window(
    order: &ContactOrder,
    after: Option<&Keyset>,
    rows: &[Contact],
    upstream_exhausted: bool,
) -> SettledWindow {
    let last_key = rows.last().and_then(|row| time_key(order, row));
    let mut settled = SettledWindow::default();
    for row in rows {
        let Some(key) = time_key(order, row) else {
            continue;
        };
        if let Some(after) = after {
            let by_key = order.compare_keys(&SortKey::Time(key), &SortKey::Time(after.key));
            let by_id = compare_ids(&row.source_id, &after.id);
            if by_key == Ordering::Equal && by_id != Ordering::Greater {
                settled.seen_at_key += 1;
                continue;
            }
            if by_key == Ordering::Less {
                // Outside the `Ge`/`Le` bound Spark was asked for: handed out before.
                continue;
            }
        }
        if !upstream_exhausted && Some(key) == last_key {
            settled.held_back += 1;
        } else {
            settled.ready.push(row.clone());
        }
    }
    settled.ready.sort_by(|a, b| order.compare(a, b));
    settled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Direction, SourceKind};
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0).unwrap()
    }

    fn contact(id: &str, created: i64) -> Contact {
        let mut contact = Contact::new(SourceKind::Spark, id, serde_json::Value::Null);
        contact.created_at = Some(at(created));
        contact
    }

    fn created(direction: Direction) -> ContactOrder {
        ContactOrder {
            field: OrderField::CreatedAt,
            direction,
        }
    }

    #[test]
    fn quotes_escape_backslashes_and_quotes() {
        assert_eq!(quote("O'Hara"), r"'O\'Hara'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
        assert_eq!(quote("plain"), "'plain'");
    }

    #[test]
    fn datetimes_keep_their_fraction() {
        assert_eq!(datetime_literal(at(0)), "2023-11-14T22:13:20Z");
        let fraction = at(0) + chrono::Duration::milliseconds(250);
        assert_eq!(datetime_literal(fraction), "2023-11-14T22:13:20.250Z");
    }

    #[test]
    fn pushdown_covers_what_spark_matches_at_least_as_broadly() {
        let filter = ContactFilter {
            city: Some("St. John's".into()),
            tags: vec!["Buyer".into(), "IDX Lead".into()],
            created_after: Some(at(0)),
            created_before: Some(at(10)),
            ..Default::default()
        };
        let pushed = pushdown(&filter);
        assert_eq!(
            pushed.expressions,
            [
                r"HomeLocality Eq '*St. John\'s*'",
                "Tags Eq 'Buyer'",
                "Tags Eq 'IDX Lead'",
                "CreatedTimestamp Gt 2023-11-14T22:13:20Z",
                "CreatedTimestamp Lt 2023-11-14T22:13:30Z",
            ]
        );
        assert!(!pushed.exact, "the wildcard city is broader");
        assert!(!pushed.matches_nothing);

        let exact = pushdown(&ContactFilter {
            tags: vec!["Buyer".into()],
            status: Some(" CONNECTED ".into()),
            ..Default::default()
        });
        assert!(exact.exact);
        assert_eq!(exact.expressions, ["Tags Eq 'Buyer'"]);

        for gateway_side in [
            ContactFilter {
                email: Some("a@b.c".into()),
                ..Default::default()
            },
            ContactFilter {
                search: Some("ned".into()),
                ..Default::default()
            },
            ContactFilter {
                phone: Some("305-555-0100".into()),
                ..Default::default()
            },
        ] {
            let pushed = pushdown(&gateway_side);
            assert!(pushed.expressions.is_empty());
            assert!(!pushed.exact);
        }
        let starred = pushdown(&ContactFilter {
            city: Some("M*a*m*i".into()),
            tags: vec!["a*".into(), "é".into()],
            ..Default::default()
        });
        assert_eq!(starred.expressions, ["Tags Eq 'é'"]);
        assert!(!starred.exact);
    }

    #[test]
    fn type_and_other_statuses_match_nothing() {
        assert!(
            pushdown(&ContactFilter {
                contact_type: Some("lead".into()),
                ..Default::default()
            })
            .matches_nothing
        );
        assert!(
            pushdown(&ContactFilter {
                status: Some("Unconnected".into()),
                ..Default::default()
            })
            .matches_nothing
        );
    }

    #[test]
    fn many_tags_stay_within_spark_limits() {
        let tags: Vec<String> = (0..80).map(|i| format!("t{i}")).collect();
        let pushed = pushdown(&ContactFilter {
            tags,
            ..Default::default()
        });
        assert_eq!(pushed.expressions.len(), MAX_PUSHED_TAGS);
        assert!(!pushed.exact);
    }

    #[test]
    fn positions_round_trip_and_refuse_foreign_text() {
        let name = ContactOrder::default();
        let time = created(Direction::Desc);
        assert_eq!(
            Position::decode(&Position::Sorted(7).encode(), &name).unwrap(),
            Position::Sorted(7)
        );
        let keyset = Position::After(Keyset {
            handed_out: 12,
            key: at(5) + chrono::Duration::microseconds(1),
            id: "201010122342756895000000".into(),
        });
        assert_eq!(Position::decode(&keyset.encode(), &time).unwrap(), keyset);
        for bad in [
            "",
            "7",
            "sorted/x",
            "sorted/-1",
            "time/1/2024-01-01T00:00:00Z",
            "time/1/yesterday/201010122342756895000000",
            "time/x/2024-01-01T00:00:00Z/1",
            "time/1/2024-01-01T00:00:00Z/",
            "time/1/2024-01-01T00:00:00Z/1/2",
        ] {
            assert!(
                matches!(
                    Position::decode(bad, &time).or_else(|_| Position::decode(bad, &name)),
                    Err(SourceError::BadInput { .. })
                ),
                "{bad}"
            );
        }
        // A position of the name order does not fit a time order, and back.
        assert!(Position::decode("sorted/3", &time).is_err());
        assert!(Position::decode(&keyset.encode(), &name).is_err());
    }

    #[test]
    fn rows_sharing_the_last_time_are_held_back_until_complete() {
        let order = created(Direction::Asc);
        // Spark's text order of ids puts the 26-digit id first; the gateway's
        // numeric order puts the 24-digit one first.
        let rows = vec![
            contact("20240101000000000001000000", 0),
            contact("20240101000000000002000000", 1),
            contact("202401010000999999000000", 1),
        ];
        let open = settle_window(&order, None, &rows, false);
        assert_eq!(open.ready.len(), 1);
        assert_eq!(open.held_back, 2);
        let complete = settle_window(&order, None, &rows, true);
        let ids: Vec<_> = complete
            .ready
            .iter()
            .map(|c| c.source_id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "20240101000000000001000000",
                "202401010000999999000000",
                "20240101000000000002000000"
            ]
        );
    }

    #[test]
    fn rows_up_to_the_keyset_are_skipped() {
        let order = created(Direction::Desc);
        let rows = vec![
            contact("20240101000000000002000000", 5),
            contact("202401010000999999000000", 5),
            contact("20240101000000000003000000", 5),
            contact("20240101000000000001000000", 4),
        ];
        let keyset = Keyset {
            handed_out: 3,
            key: at(5),
            id: "20240101000000000002000000".into(),
        };
        let settled = settle_window(&order, Some(&keyset), &rows, true);
        assert_eq!(settled.seen_at_key, 2);
        let ids: Vec<_> = settled.ready.iter().map(|c| c.source_id.as_str()).collect();
        assert_eq!(
            ids,
            ["20240101000000000003000000", "20240101000000000001000000"]
        );
    }
}
