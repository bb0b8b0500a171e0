//! Reading Django-CRM's contact list: the `{count, next, previous, results}`
//! envelope, the query parameters filters can be pushed down into, and the
//! positions of the native newest-first walk.
//!
//! **Native order.** The upstream lists newest first (`created_on`
//! descending) and nothing else, which is the gateway's `CREATED_AT DESC` up
//! to ties: the gateway breaks ties by upstream id ascending, the emulator by
//! id descending and the real service not at all (its `ordering =
//! ['-created_on']` leaves ties to the database). So a native page is only
//! trusted up to its last run of equal `created_on` values, unless the list
//! ends there: that run may go on in the next upstream page, with members
//! that sort before the ones seen. Within what is trusted the adapter sorts
//! by the gateway's rule itself.
//!
//! **Positions** of the native walk are `n:OFFSET:NANOS:ID`: the contact last
//! handed out (its creation time in nanoseconds and its id) and the upstream
//! offset to read from next: where that contact's run of equal creation times
//! starts, or right after the run when the contact is the run's last in the
//! gateway's order (so a contact alone in its run is never read twice, and a
//! first page of N contacts costs one request). Every contact not handed out
//! yet sits at that offset or later; contacts read again from the run are skipped by comparing them
//! with the contact last handed out, so a run split over pages comes out
//! whole, in order, once. Every other order reads the whole list and sorts
//! locally, with [`page_of_sorted`](crate::sources::page_of_sorted)'s offsets
//! as positions.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::KIND;
use crate::domain::query::{compare_ids, national_digits};
use crate::domain::{Contact, ContactFilter, ContactOrder, Direction, OrderField, SortKey};
use crate::sources::{ListEntry, ListPage, SourceError};

/// The largest page the upstream serves (`max_limit`); larger requests are cut.
pub const MAX_PAGE_SIZE: usize = 100;

/// How many trailing digits of a phone filter are pushed down; see
/// [`pushed_down_parameters`].
const PUSHED_PHONE_DIGITS: usize = 4;

/// Whether the upstream's own order serves `order` (see the module docs).
pub fn is_native(order: &ContactOrder) -> bool {
    order.field == OrderField::CreatedAt && order.direction == Direction::Desc
}

/// The query parameters that narrow the upstream's list without losing any
/// contact the gateway's filter keeps. The upstream's `city`, `email` and
/// `phone` are case-insensitive substring matches on `city`,
/// `primary_email` and `mobile_number`, so:
/// - `city` goes down as it is (trimmed): a substring match is broader than
///   the gateway's equality.
/// - `phone` goes down as its last four digits. The number is stored as
///   E.164 (`PhoneNumberField` in the real service, normalised on write in the
///   emulator), and in every common written form the last four digits stand
///   together, so the upstream match is broader than the gateway's
///   same-national-number rule whatever form the stored number has.
/// - `email` is not pushed down: the gateway matches any of a contact's
///   addresses, the upstream only `primary_email`, so a contact found by its
///   `secondary_email` would be lost.
/// - `search` is not pushed down: the upstream's `name` matches names only,
///   the gateway's search also emails and phones. Type, status, tags and
///   creation times have no upstream filter.
///
/// Every pushed match is broader than the gateway's, so a list with any
/// criterion set never reports the upstream's `count` as its total.
pub fn pushed_down_parameters(filter: &ContactFilter) -> Vec<(&'static str, String)> {
    let mut parameters = Vec::new();
    if let Some(city) = filter
        .city
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        parameters.push(("city", city.to_string()));
    }
    if let Some(number) = &filter.phone {
        let digits = national_digits(number);
        if digits.len() >= PUSHED_PHONE_DIGITS {
            parameters.push((
                "phone",
                digits[digits.len() - PUSHED_PHONE_DIGITS..].to_string(),
            ));
        }
    }
    parameters
}

/// One page of the upstream's list.
#[derive(Debug)]
pub struct Envelope {
    pub results: Vec<Value>,
    /// How many contacts match in all, when the upstream says so.
    pub count: Option<u64>,
}

/// Reads `{count, next, previous, results}`; `next`/`previous` may be missing
/// (current servers) and are not used: paging goes by `count` and `offset`.
/// A bare array is taken as the results of a server that does not count.
pub fn parse_envelope(body: Value, status: u16) -> Result<Envelope, SourceError> {
    match body {
        Value::Array(results) => Ok(Envelope {
            results,
            count: None,
        }),
        Value::Object(mut map) => match map.remove("results") {
            Some(Value::Array(results)) => Ok(Envelope {
                results,
                count: map.get("count").and_then(Value::as_u64),
            }),
            _ => Err(SourceError::Upstream {
                source_kind: KIND,
                message: "the contact list has no `results` array".into(),
                upstream_status: Some(status),
            }),
        },
        _ => Err(SourceError::Upstream {
            source_kind: KIND,
            message: "the contact list is not a JSON object".into(),
            upstream_status: Some(status),
        }),
    }
}

/// Where a native walk resumes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NativePosition {
    /// The upstream offset to read from.
    pub offset: usize,
    /// The contact handed out last: creation time and id.
    pub last: Option<(DateTime<Utc>, String)>,
}

impl NativePosition {
    pub fn encode(offset: usize, created_at: DateTime<Utc>, id: &str) -> String {
        let nanos = created_at
            .timestamp_nanos_opt()
            .unwrap_or_else(|| created_at.timestamp_micros().saturating_mul(1000));
        format!("n:{offset}:{nanos}:{id}")
    }

    /// Parses [`NativePosition::encode`]'s form; anything else is a bad cursor.
    pub fn parse(text: Option<&str>) -> Result<NativePosition, SourceError> {
        let Some(text) = text else {
            return Ok(NativePosition::default());
        };
        let bad = || SourceError::BadInput {
            source_kind: KIND,
            field: Some("after".into()),
            message: "the cursor does not belong to this list".into(),
            upstream_status: None,
        };
        let mut parts = text.splitn(4, ':');
        let (Some("n"), Some(offset), Some(nanos), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let offset: usize = offset.parse().map_err(|_| bad())?;
        let nanos: i64 = nanos.parse().map_err(|_| bad())?;
        if id.is_empty() {
            return Err(bad());
        }
        Ok(NativePosition {
            offset,
            last: Some((DateTime::from_timestamp_nanos(nanos), id.to_string())),
        })
    }
}

/// What the native walk does with what it has read so far.
#[derive(Debug)]
pub enum NativeStep {
    /// Nothing can be handed out yet: read the next upstream page.
    ReadMore,
    /// The page to answer.
    Answer(ListPage),
}

/// Decides a native page from `buffer`, the contacts read from upstream
/// offset `start` on, newest first. `complete` says the list ends with the
/// buffer (so its last run of equal creation times is whole).
pub fn native_step(
    buffer: &[Contact],
    start: usize,
    complete: bool,
    resume: &NativePosition,
    limit: usize,
    order: &ContactOrder,
) -> Result<NativeStep, SourceError> {
    let times: Vec<DateTime<Utc>> = buffer
        .iter()
        .map(|contact| {
            contact.created_at.ok_or_else(|| SourceError::Upstream {
                source_kind: KIND,
                message: format!("contact {} has no creation time", contact.source_id),
                upstream_status: Some(200),
            })
        })
        .collect::<Result<_, _>>()?;
    if times.windows(2).any(|pair| pair[0] < pair[1]) {
        return Err(SourceError::Upstream {
            source_kind: KIND,
            message: "the contact list is not newest first".into(),
            upstream_status: Some(200),
        });
    }
    let trusted = match (complete, times.last()) {
        (false, Some(last)) => times.iter().position(|time| time == last).unwrap_or(0),
        _ => buffer.len(),
    };
    let is_after_resume = |index: usize| match &resume.last {
        None => true,
        Some((time, id)) => {
            order
                .compare_keys(&SortKey::Time(times[index]), &SortKey::Time(*time))
                .then_with(|| compare_ids(&buffer[index].source_id, id))
                == Ordering::Greater
        }
    };
    let mut candidates: Vec<usize> = (0..trusted).filter(|&i| is_after_resume(i)).collect();
    if candidates.is_empty() && !complete {
        return Ok(NativeStep::ReadMore);
    }
    candidates.sort_by(|&a, &b| order.compare(&buffer[a], &buffer[b]));
    let take = candidates.len().min(limit.max(1));
    let entries = candidates[..take]
        .iter()
        .map(|&index| {
            let time = times[index];
            let run_start = times.iter().position(|t| *t == time).unwrap_or(index);
            let run_end = times.iter().position(|t| *t < time).unwrap_or(buffer.len());
            // The next read starts at the run, so that its members after this
            // contact are read again; when none is left after it (always, for
            // a contact alone in its run), the next read starts after the run.
            let run_continues = (run_start..run_end).any(|other| {
                compare_ids(&buffer[other].source_id, &buffer[index].source_id) == Ordering::Greater
            });
            let offset = if run_continues { run_start } else { run_end };
            ListEntry {
                contact: buffer[index].clone(),
                position: NativePosition::encode(start + offset, time, &buffer[index].source_id),
            }
        })
        .collect();
    Ok(NativeStep::Answer(ListPage {
        entries,
        has_more: !complete || take < candidates.len(),
        total: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn contact(id: &str, minute: u32) -> Contact {
        let mut contact = Contact::new(KIND, id, Value::Null);
        contact.created_at = Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, minute, 0).unwrap());
        contact
    }

    const NEWEST_FIRST: ContactOrder = ContactOrder {
        field: OrderField::CreatedAt,
        direction: Direction::Desc,
    };

    fn ids(page: &ListPage) -> Vec<&str> {
        page.entries
            .iter()
            .map(|e| e.contact.source_id.as_str())
            .collect()
    }

    fn answer(step: NativeStep) -> ListPage {
        match step {
            NativeStep::Answer(page) => page,
            NativeStep::ReadMore => panic!("expected an answer"),
        }
    }

    #[test]
    fn positions_round_trip_and_garbage_is_refused() {
        let time = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::microseconds(250);
        let text = NativePosition::encode(40, time, "abc");
        assert_eq!(
            NativePosition::parse(Some(&text)).unwrap(),
            NativePosition {
                offset: 40,
                last: Some((time, "abc".into()))
            }
        );
        assert_eq!(
            NativePosition::parse(None).unwrap(),
            NativePosition::default()
        );
        for bad in ["", "12", "n:x:1:a", "n:1:x:a", "n:1:2:", "s:1:2:a", "n:1:2"] {
            assert!(
                matches!(
                    NativePosition::parse(Some(bad)),
                    Err(SourceError::BadInput { ref field, .. }) if field.as_deref() == Some("after")
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_last_run_of_a_page_waits_for_the_next_page() {
        // Upstream order: newest first, ties by id descending (as the emulator).
        let buffer = vec![
            contact("e", 9),
            contact("d", 8),
            contact("c", 7),
            contact("b", 7),
        ];
        let page = answer(
            native_step(
                &buffer,
                0,
                false,
                &NativePosition::default(),
                10,
                &NEWEST_FIRST,
            )
            .unwrap(),
        );
        assert_eq!(ids(&page), ["e", "d"]);
        assert!(page.has_more);
        // d is alone in its run: the next read starts right after it.
        let resume = NativePosition::parse(Some(&page.entries[1].position)).unwrap();
        assert_eq!(resume.offset, 2);
        // The run of minute 7 continues with "a" on the next upstream page.
        let buffer = vec![contact("c", 7), contact("b", 7), contact("a", 7)];
        let page = answer(native_step(&buffer, 2, true, &resume, 2, &NEWEST_FIRST).unwrap());
        assert_eq!(ids(&page), ["a", "b"]);
        assert!(page.has_more);
        // c is still to come, so the run is read again from its start.
        let resume = NativePosition::parse(Some(&page.entries[1].position)).unwrap();
        assert_eq!(resume.offset, 2, "the run of minute 7 starts at offset 2");
        let page = answer(native_step(&buffer, 2, true, &resume, 2, &NEWEST_FIRST).unwrap());
        assert_eq!(ids(&page), ["c"]);
        assert!(!page.has_more);
        let resume = NativePosition::parse(Some(&page.entries[0].position)).unwrap();
        assert_eq!(resume.offset, 5, "after the run");
    }

    #[test]
    fn a_page_that_is_one_run_reads_on() {
        let buffer = vec![contact("b", 7), contact("a", 7)];
        assert!(matches!(
            native_step(
                &buffer,
                0,
                false,
                &NativePosition::default(),
                1,
                &NEWEST_FIRST
            )
            .unwrap(),
            NativeStep::ReadMore
        ));
        let page = answer(
            native_step(
                &buffer,
                0,
                true,
                &NativePosition::default(),
                1,
                &NEWEST_FIRST,
            )
            .unwrap(),
        );
        assert_eq!(ids(&page), ["a"]);
        assert!(page.has_more);
        let resume = NativePosition::parse(Some(&page.entries[0].position)).unwrap();
        let page = answer(native_step(&buffer, 0, true, &resume, 1, &NEWEST_FIRST).unwrap());
        assert_eq!(ids(&page), ["b"]);
        assert!(!page.has_more);
        let empty = answer(native_step(&[], 5, true, &resume, 1, &NEWEST_FIRST).unwrap());
        assert!(empty.entries.is_empty() && !empty.has_more);
    }

    #[test]
    fn unordered_or_undated_lists_are_upstream_errors() {
        let unordered = vec![contact("a", 1), contact("b", 2)];
        let mut undated = contact("c", 1);
        undated.created_at = None;
        for buffer in [unordered, vec![undated]] {
            assert!(matches!(
                native_step(
                    &buffer,
                    0,
                    true,
                    &NativePosition::default(),
                    5,
                    &NEWEST_FIRST
                ),
                Err(SourceError::Upstream { .. })
            ));
        }
    }

    #[test]
    fn pushdown_is_never_narrower_than_the_gateway() {
        let filter = ContactFilter {
            city: Some(" Miami ".into()),
            phone: Some("+1 (305) 555-0100".into()),
            email: Some("a@x.com".into()),
            search: Some("smith".into()),
            tags: vec!["vip".into()],
            ..Default::default()
        };
        // The email is left out: the upstream does not search secondary addresses.
        assert_eq!(
            pushed_down_parameters(&filter),
            vec![("city", "Miami".to_string()), ("phone", "0100".to_string())]
        );
        let short = ContactFilter {
            phone: Some("12".into()),
            ..Default::default()
        };
        assert!(pushed_down_parameters(&short).is_empty());
        assert!(is_native(&NEWEST_FIRST));
        assert!(!is_native(&ContactOrder::default()));
    }

    #[test]
    fn envelopes_with_and_without_links() {
        let seed = serde_json::json!({"count": 25, "next": "/x", "previous": null, "results": [{"id": "a"}]});
        let envelope = parse_envelope(seed, 200).unwrap();
        assert_eq!(envelope.count, Some(25));
        assert_eq!(envelope.results.len(), 1);
        let current = serde_json::json!({"count": 3, "results": [], "contacts_count": 3});
        assert_eq!(parse_envelope(current, 200).unwrap().count, Some(3));
        let bare = serde_json::json!([{"id": "a"}]);
        assert_eq!(parse_envelope(bare, 200).unwrap().count, None);
        for bad in [
            serde_json::json!({"count": 1}),
            serde_json::json!("x"),
            serde_json::json!({"results": {}}),
        ] {
            assert!(matches!(
                parse_envelope(bad, 200),
                Err(SourceError::Upstream { .. })
            ));
        }
    }
}
