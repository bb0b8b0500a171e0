//! The query of `GET /api/contacts/`: filters, limit/offset paging, and the
//! `next`/`previous` links of Django REST framework's `LimitOffsetPagination`.
//!
//! The links keep every other query parameter and, like the framework's
//! `replace_query_param`, list the parameters sorted by name, so that the seed's
//! example `?limit=5&offset=5` comes out exactly. A `previous` link that would
//! point at offset 0 drops `offset` altogether, as the framework does.

use std::collections::BTreeMap;

use super::body::form_decode;
use super::validate::{is_uuid, FieldErrors};

/// Page size when the request names none.
pub const DEFAULT_LIMIT: usize = 10;

/// Larger `limit` values are cut down to this, as `max_limit` does.
pub const MAX_LIMIT: usize = 100;

/// A validated list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListQuery {
    /// Lower-cased filter texts; `None` when absent or empty.
    pub name: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Lower-cased user UUIDs; a contact matches when any is assigned.
    pub assigned_to: Vec<String>,
    pub limit: usize,
    pub offset: usize,
    /// Every parameter as sent, grouped by name and sorted, for the links.
    pub parameters: BTreeMap<String, Vec<String>>,
}

/// Parses and validates the raw query string.
pub(super) fn parse_list_query(raw: Option<&str>) -> Result<ListQuery, FieldErrors> {
    let mut parameters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in raw.unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        parameters
            .entry(form_decode(name.as_bytes()))
            .or_default()
            .push(form_decode(value.as_bytes()));
    }
    // Like Django's `QueryDict.get`, a repeated parameter counts by its last value.
    let last = |name: &str| -> Option<String> {
        parameters
            .get(name)
            .and_then(|values| values.last())
            .map(|value| value.to_lowercase())
            .filter(|value| !value.is_empty())
    };
    let mut errors = FieldErrors::new();
    let limit = match parameters.get("limit").and_then(|values| values.last()) {
        None => DEFAULT_LIMIT,
        Some(text) => match parse_integer(text) {
            Some(value) if value >= 1 => value.min(MAX_LIMIT as i128) as usize,
            Some(_) => {
                errors.insert(
                    "limit".into(),
                    vec!["Ensure this value is greater than or equal to 1.".into()],
                );
                DEFAULT_LIMIT
            }
            None => {
                errors.insert("limit".into(), vec!["A valid integer is required.".into()]);
                DEFAULT_LIMIT
            }
        },
    };
    let offset = match parameters.get("offset").and_then(|values| values.last()) {
        None => 0,
        Some(text) => match parse_integer(text) {
            Some(value) if value >= 0 => usize::try_from(value).unwrap_or(usize::MAX),
            Some(_) => {
                errors.insert(
                    "offset".into(),
                    vec!["Ensure this value is greater than or equal to 0.".into()],
                );
                0
            }
            None => {
                errors.insert("offset".into(), vec!["A valid integer is required.".into()]);
                0
            }
        },
    };
    let mut assigned_to = Vec::new();
    for value in parameters.get("assigned_to").into_iter().flatten() {
        for part in value
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            if is_uuid(part) {
                assigned_to.push(part.to_ascii_lowercase());
            } else {
                errors
                    .entry("assigned_to".into())
                    .or_default()
                    .push(format!("“{part}” is not a valid UUID."));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ListQuery {
        name: last("name"),
        city: last("city"),
        phone: last("phone"),
        email: last("email"),
        assigned_to,
        limit,
        offset,
        parameters,
    })
}

/// An integer as Python's `int()` reads a query value: optional sign and
/// surrounding spaces. Values beyond `i128` saturate, which only matters for
/// clamping.
fn parse_integer(text: &str) -> Option<i128> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

/// The `next` and `previous` links for one page, relative to the host.
pub(super) fn page_links(
    path: &str,
    query: &ListQuery,
    count: usize,
) -> (Option<String>, Option<String>) {
    let limit = query.limit;
    let offset = query.offset;
    let next = (offset.saturating_add(limit) < count).then(|| {
        link(
            path,
            &query.parameters,
            limit,
            Some(offset.saturating_add(limit)),
        )
    });
    let previous = (offset > 0).then(|| {
        if offset <= limit {
            link(path, &query.parameters, limit, None)
        } else {
            link(path, &query.parameters, limit, Some(offset - limit))
        }
    });
    (next, previous)
}

fn link(
    path: &str,
    parameters: &BTreeMap<String, Vec<String>>,
    limit: usize,
    offset: Option<usize>,
) -> String {
    let mut parameters = parameters.clone();
    parameters.insert("limit".into(), vec![limit.to_string()]);
    match offset {
        Some(offset) => {
            parameters.insert("offset".into(), vec![offset.to_string()]);
        }
        None => {
            parameters.remove("offset");
        }
    }
    let encoded: Vec<String> = parameters
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| format!("{}={}", quote_plus(name), quote_plus(value)))
        })
        .collect();
    format!("{path}?{}", encoded.join("&"))
}

/// Python's `urllib.parse.quote_plus`, which `urlencode` applies.
fn quote_plus(text: &str) -> String {
    urlencoding::encode(text).replace("%20", "+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_seed_example() {
        let query = parse_list_query(Some("name=john&city=new%20york&limit=5")).unwrap();
        assert_eq!(query.name.as_deref(), Some("john"));
        assert_eq!(query.city.as_deref(), Some("new york"));
        let (next, previous) = page_links("/api/contacts/", &query, 25);
        assert_eq!(
            next.as_deref(),
            Some("/api/contacts/?city=new+york&limit=5&name=john&offset=5")
        );
        assert_eq!(previous, None);
        let plain = parse_list_query(Some("limit=5")).unwrap();
        assert_eq!(
            page_links("/api/contacts/", &plain, 25).0.as_deref(),
            Some("/api/contacts/?limit=5&offset=5")
        );
    }

    #[test]
    fn previous_drops_offset_at_the_first_page_and_next_stops_at_the_end() {
        let query = parse_list_query(Some("offset=7&limit=5")).unwrap();
        let (next, previous) = page_links("/p/", &query, 12);
        assert_eq!(next, None);
        assert_eq!(previous.as_deref(), Some("/p/?limit=5&offset=2"));
        let query = parse_list_query(Some("offset=3&limit=5")).unwrap();
        assert_eq!(
            page_links("/p/", &query, 12).1.as_deref(),
            Some("/p/?limit=5")
        );
    }

    #[test]
    fn limits_clamp_and_bad_values_are_errors() {
        assert_eq!(
            parse_list_query(Some("limit=100000000000000000000000"))
                .unwrap()
                .limit,
            MAX_LIMIT
        );
        assert_eq!(parse_list_query(None).unwrap().limit, DEFAULT_LIMIT);
        let errors = parse_list_query(Some("limit=0&offset=x&assigned_to=nope")).unwrap_err();
        assert_eq!(
            errors["limit"],
            vec!["Ensure this value is greater than or equal to 1."]
        );
        assert_eq!(errors["offset"], vec!["A valid integer is required."]);
        assert_eq!(errors["assigned_to"], vec!["“nope” is not a valid UUID."]);
        assert_eq!(
            parse_list_query(Some("offset=-1")).unwrap_err()["offset"],
            vec!["Ensure this value is greater than or equal to 0."]
        );
    }
}
