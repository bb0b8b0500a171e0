//! The standard query parameters of Spark reads: paging (`_limit`, `_page`,
//! `_pagination`), selection (`_select`), expansion (`_expand`), search
//! (`_filter`) and our own `_orderby`.
//!
//! The raw query string is parsed here rather than by an axum extractor so that
//! every malformed value is answered in Spark's envelope (code 1053, or 1040 for
//! `_filter`) instead of axum's plain-text rejection.

use std::collections::HashMap;

use super::attributes;
use super::envelope::SparkError;
use super::filter::{self, Filter};
use super::Role;

/// The largest `_limit` Spark accepts for contacts.
pub const MAX_LIMIT: usize = 25;
/// The `_limit` used when none is given.
pub const DEFAULT_LIMIT: usize = 10;

/// Decodes `a=1&b=x+y` into a map. When a name repeats, the first value wins.
pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    let mut parameters = HashMap::new();
    for pair in raw
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        parameters
            .entry(decode_component(name))
            .or_insert_with(|| decode_component(value));
    }
    parameters
}

/// Form decoding: `+` is a space, then percent escapes; invalid UTF-8 becomes U+FFFD.
fn decode_component(component: &str) -> String {
    let spaced = component.replace('+', " ");
    String::from_utf8_lossy(&urlencoding::decode_binary(spaced.as_bytes())).into_owned()
}

/// What `_pagination` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationMode {
    /// No `Pagination` object (absent or `0`).
    Omitted,
    /// `1`: the page plus the `Pagination` object.
    Included,
    /// `count`: only the `Pagination` object; `Results` is an empty list.
    CountOnly,
}

/// The seed's expansions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expansion {
    Activity,
    NewsFeedSummary,
    NewsFeedNotificationSummary,
    Notes,
    Portal,
    VowActive,
    VowEnabled,
    UniquePrimaryEmail,
}

impl Expansion {
    fn parse(name: &str) -> Option<Expansion> {
        Some(match name {
            "Activity" => Expansion::Activity,
            "NewsFeedSummary" => Expansion::NewsFeedSummary,
            "NewsFeedNotificationSummary" => Expansion::NewsFeedNotificationSummary,
            "Notes" => Expansion::Notes,
            "Portal" => Expansion::Portal,
            "VowActive" => Expansion::VowActive,
            "VowEnabled" => Expansion::VowEnabled,
            // The seed's attribute table calls it `UniquePrimaryEmailCheck`, its
            // expansion table `UniquePrimaryEmail`; both names are accepted.
            "UniquePrimaryEmail" | "UniquePrimaryEmailCheck" => Expansion::UniquePrimaryEmail,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Expansion::Activity => "Activity",
            Expansion::NewsFeedSummary => "NewsFeedSummary",
            Expansion::NewsFeedNotificationSummary => "NewsFeedNotificationSummary",
            Expansion::Notes => "Notes",
            Expansion::Portal => "Portal",
            Expansion::VowActive => "VowActive",
            Expansion::VowEnabled => "VowEnabled",
            Expansion::UniquePrimaryEmail => "UniquePrimaryEmail",
        }
    }

    /// The seed's "Roles" column. VOW and Portal tokens reach only `/my/contact`,
    /// so for them `Portal` is, as the seed says, limited to that service.
    fn allowed_for(self, role: Role) -> bool {
        match self {
            Expansion::Activity => role == Role::Private,
            Expansion::Portal => matches!(role, Role::Private | Role::Vow | Role::Portal),
            _ => true,
        }
    }
}

/// How a record is shown: which attributes and which expansions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presentation {
    /// `_select`: only these attributes (plus `Id` and `ResourceUri`).
    pub select: Option<Vec<String>>,
    pub expansions: Vec<Expansion>,
}

impl Presentation {
    pub fn expands(&self, expansion: Expansion) -> bool {
        self.expansions.contains(&expansion)
    }
}

/// Reads `_select` and `_expand`.
pub fn parse_presentation(
    parameters: &HashMap<String, String>,
    role: Role,
) -> Result<Presentation, SparkError> {
    let mut presentation = Presentation::default();
    if let Some(select) = parameters.get("_select") {
        let mut names = Vec::new();
        for name in comma_list(select) {
            // `Settings.ReverseProspecting` lives in the `Settings` object.
            let name = if name == "Settings.ReverseProspecting" {
                "Settings"
            } else {
                name
            };
            if attributes::find(name).is_none() {
                return Err(SparkError::constraint(format!(
                    "Unknown attribute '{name}' in _select."
                )));
            }
            names.push(name.to_string());
        }
        presentation.select = Some(names);
    }
    if let Some(expand) = parameters.get("_expand") {
        for name in comma_list(expand) {
            let expansion = Expansion::parse(name).ok_or_else(|| {
                SparkError::constraint(format!("Unknown expansion '{name}' in _expand."))
            })?;
            if !expansion.allowed_for(role) {
                return Err(SparkError::not_available(format!(
                    "The {} expansion is not available to the {} role.",
                    expansion.name(),
                    role.name()
                )));
            }
            if !presentation.expansions.contains(&expansion) {
                presentation.expansions.push(expansion);
            }
        }
    }
    Ok(presentation)
}

fn comma_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// The attribute `_orderby` sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    DisplayName,
    CreatedTimestamp,
    ModificationTimestamp,
}

/// `_orderby`: a key and a direction; ties are broken by `Id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ordering {
    pub key: OrderKey,
    pub descending: bool,
}

/// Paging, ordering and search of a list request.
#[derive(Debug)]
pub struct ListOptions {
    pub limit: usize,
    pub page: usize,
    pub pagination: PaginationMode,
    pub ordering: Ordering,
    pub filter: Option<Filter>,
    /// When `_filter` is exactly `Id Eq '..','..'`, the ids it names, so the list
    /// can be answered by lookups instead of a scan.
    pub filter_ids: Option<Vec<String>>,
}

/// Reads `_limit`, `_page`, `_pagination`, `_orderby` and `_filter`.
pub fn parse_list_options(parameters: &HashMap<String, String>) -> Result<ListOptions, SparkError> {
    let limit = match parameters.get("_limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|limit| *limit <= MAX_LIMIT)
            .ok_or_else(|| {
                SparkError::constraint(format!("_limit must be an integer from 0 to {MAX_LIMIT}."))
            })?,
    };
    let page = match parameters.get("_page") {
        None => 1,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|page| *page >= 1)
            .ok_or_else(|| SparkError::constraint("_page must be a positive integer."))?,
    };
    let pagination = match parameters.get("_pagination").map(|text| text.trim()) {
        None | Some("0") => PaginationMode::Omitted,
        Some("1") => PaginationMode::Included,
        Some("count") => PaginationMode::CountOnly,
        Some(_) => return Err(SparkError::constraint("_pagination must be 0, 1 or count.")),
    };
    let ordering = match parameters.get("_orderby").map(|text| text.trim()) {
        None => Ordering {
            key: OrderKey::CreatedTimestamp,
            descending: false,
        },
        Some(text) => {
            let (descending, name) = match text.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, text),
            };
            let key =
                match name {
                    "DisplayName" => OrderKey::DisplayName,
                    "CreatedTimestamp" => OrderKey::CreatedTimestamp,
                    "ModificationTimestamp" => OrderKey::ModificationTimestamp,
                    _ => return Err(SparkError::constraint(
                        "_orderby must be DisplayName, CreatedTimestamp or ModificationTimestamp, \
                         optionally prefixed with '-'.",
                    )),
                };
            Ordering { key, descending }
        }
    };
    let (filter, filter_ids) = match parameters.get("_filter") {
        None => (None, None),
        Some(text) => {
            let parsed = filter::parse(text, &attributes::filter_field_type)
                .map_err(|error| SparkError::invalid_filter(error.message))?;
            (Some(parsed), ids_of_id_filter(text))
        }
    };
    Ok(ListOptions {
        limit,
        page,
        pagination,
        ordering,
        filter,
        filter_ids,
    })
}

/// Recognises the batch-fetch form `Id Eq 'a','b',...` (ids without quotes or
/// backslashes inside). Anything else gives `None` and is answered by a scan.
pub fn ids_of_id_filter(input: &str) -> Option<Vec<String>> {
    let rest = input.trim().strip_prefix("Id")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start();
    if rest.len() < 2 || !rest.is_char_boundary(2) || !rest[..2].eq_ignore_ascii_case("eq") {
        return None;
    }
    let mut rest = &rest[2..];
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut ids = Vec::new();
    loop {
        rest = rest.trim_start().strip_prefix('\'')?;
        let end = rest.find('\'')?;
        let id = &rest[..end];
        if id.contains('\\') || id.contains('*') {
            return None;
        }
        ids.push(id.to_string());
        rest = rest[end + 1..].trim_start();
        if rest.is_empty() {
            return Some(ids);
        }
        rest = rest.strip_prefix(',')?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_handles_plus_percent_and_repeats() {
        let parameters = parse_query(Some(
            "_filter=DisplayName+Eq+%27Neddy*%27&_limit=5&_limit=9&flag",
        ));
        assert_eq!(parameters["_filter"], "DisplayName Eq 'Neddy*'");
        assert_eq!(parameters["_limit"], "5");
        assert_eq!(parameters["flag"], "");
        assert!(parse_query(None).is_empty());
        assert_eq!(parse_query(Some("a=%FF"))["a"], "\u{fffd}");
    }

    #[test]
    fn id_filters_are_recognised_only_in_their_simple_form() {
        assert_eq!(
            ids_of_id_filter("Id Eq '1','2' , '3'"),
            Some(vec!["1".to_string(), "2".to_string(), "3".to_string()])
        );
        assert_eq!(ids_of_id_filter(" Id eq '7' "), Some(vec!["7".to_string()]));
        assert_eq!(ids_of_id_filter("Id Eq '1' And DisplayName Eq 'x'"), None);
        assert_eq!(ids_of_id_filter("Id Ne '1'"), None);
        assert_eq!(ids_of_id_filter("IdEq '1'"), None);
        assert_eq!(ids_of_id_filter("Id Eq '1*'"), None);
        assert_eq!(ids_of_id_filter("Id Eq 'é"), None);
    }

    #[test]
    fn paging_parameters_are_bounded() {
        let options = |query: &str| parse_list_options(&parse_query(Some(query)));
        let defaults = options("").unwrap();
        assert_eq!((defaults.limit, defaults.page), (DEFAULT_LIMIT, 1));
        assert_eq!(defaults.pagination, PaginationMode::Omitted);
        assert_eq!(options("_limit=0").unwrap().limit, 0);
        assert_eq!(options("_limit=25").unwrap().limit, 25);
        for bad in [
            "_limit=26",
            "_limit=-1",
            "_limit=ten",
            "_limit=99999999999999999999999",
            "_page=0",
            "_page=x",
            "_pagination=2",
            "_orderby=GivenName",
        ] {
            assert_eq!(options(bad).unwrap_err().code, 1053, "{bad}");
        }
        let ordering = options("_orderby=-DisplayName").unwrap().ordering;
        assert_eq!(ordering.key, OrderKey::DisplayName);
        assert!(ordering.descending);
    }

    #[test]
    fn expansions_respect_roles() {
        let presentation = |query: &str, role| parse_presentation(&parse_query(Some(query)), role);
        assert_eq!(
            presentation("_expand=Activity,Notes", Role::Private)
                .unwrap()
                .expansions,
            vec![Expansion::Activity, Expansion::Notes]
        );
        assert_eq!(
            presentation("_expand=Activity", Role::Idx)
                .unwrap_err()
                .code,
            1500
        );
        assert_eq!(
            presentation("_expand=Portal", Role::Public)
                .unwrap_err()
                .code,
            1500
        );
        assert!(presentation("_expand=Portal", Role::Vow).is_ok());
        assert_eq!(
            presentation("_expand=Bogus", Role::Private)
                .unwrap_err()
                .code,
            1053
        );
        assert_eq!(
            presentation("_select=DisplayName,Bogus", Role::Private)
                .unwrap_err()
                .code,
            1053
        );
    }
}
