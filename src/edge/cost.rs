//! What an operation may cost, checked before it is validated or run.
//!
//! Two checks read the query text, before it is parsed: its length in bytes
//! and its number of lexical tokens ([`count_tokens`], which stops counting
//! at the limit). The others walk the parsed document ([`check_document`]):
//! every operation's selections with each fragment expanded where it is
//! spread, counting selections, aliases and root fields, the directives on
//! each selection, and `first`/`last` arguments (literal or from a
//! variable) against the page size limit.
//!
//! The walk is what makes the later stages safe. async-graphql's own depth
//! and complexity checks expand fragments too, and a document whose
//! fragments each spread the next one twice expands to 2^depth selections
//! from a few hundred bytes. The walk counts every selection it visits, a
//! fragment spread included, and stops at `max_selections`, so refusing
//! such a document costs at most that many steps, and a document that
//! passes is small enough once expanded for every later stage.

use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, Value, Variables};

use super::error::codes;
use crate::config::Limits;

/// The limits the cost checks apply, from `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostLimits {
    pub max_query_bytes: usize,
    pub max_query_tokens: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_directives_per_field: usize,
    pub max_selections: usize,
    pub max_page_size: usize,
}

impl CostLimits {
    pub fn from_limits(limits: &Limits) -> Self {
        Self {
            max_query_bytes: limits.max_query_bytes,
            max_query_tokens: limits.max_query_tokens,
            max_aliases: limits.max_aliases,
            max_root_fields: limits.max_root_fields,
            max_directives_per_field: limits.max_directives_per_field,
            max_selections: limits.max_selections,
            max_page_size: limits.max_page_size,
        }
    }
}

/// An operation refused for what it would cost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// The query text is longer than `max_query_bytes`.
    #[error("the query is {bytes} bytes long; at most {limit} are accepted")]
    QueryTooLarge { bytes: usize, limit: usize },
    /// The query text has more than `max_query_tokens` tokens.
    #[error("the query has more than {limit} tokens")]
    TooManyTokens { limit: usize },
    /// An operation has more than `max_aliases` aliased fields.
    #[error("an operation may alias at most {limit} fields, fragments expanded")]
    TooManyAliases { limit: usize },
    /// An operation selects more than `max_root_fields` fields at its root.
    #[error("an operation may select at most {limit} root fields, fragments expanded")]
    TooManyRootFields { limit: usize },
    /// A selection carries more than `max_directives_per_field` directives.
    #[error("a field or fragment may carry at most {limit} directives")]
    TooManyDirectives { limit: usize },
    /// The operations select more than `max_selections` times, fragments
    /// expanded.
    #[error("the operations make more than {limit} selections once fragments are expanded")]
    TooManySelections { limit: usize },
    /// A fragment spreads itself, directly or through others.
    #[error("fragment `{fragment}` spreads itself")]
    FragmentCycle { fragment: String },
    /// A `first` or `last` argument asks for more than the largest page.
    #[error("`{argument}` is {value}; at most {limit} is accepted")]
    PageTooLarge {
        argument: String,
        value: i64,
        limit: usize,
    },
}

impl CostError {
    /// The `extensions.code` of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            CostError::QueryTooLarge { .. } => codes::QUERY_TOO_LARGE,
            CostError::TooManyTokens { .. } => codes::TOO_MANY_TOKENS,
            CostError::TooManyAliases { .. } => codes::TOO_MANY_ALIASES,
            CostError::TooManyRootFields { .. } => codes::TOO_MANY_ROOT_FIELDS,
            CostError::TooManyDirectives { .. } => codes::TOO_MANY_DIRECTIVES,
            CostError::TooManySelections { .. } => codes::TOO_MANY_SELECTIONS,
            CostError::FragmentCycle { .. } => codes::GRAPHQL_VALIDATION_FAILED,
            // The resolvers refuse the same page sizes with this code; the
            // edge only refuses them earlier.
            CostError::PageTooLarge { .. } => codes::BAD_USER_INPUT,
        }
    }
}

/// Checks the query text's length and token count, before it is parsed.
pub fn check_query_text(query: &str, limits: &CostLimits) -> Result<(), CostError> {
    if query.len() > limits.max_query_bytes {
        return Err(CostError::QueryTooLarge {
            bytes: query.len(),
            limit: limits.max_query_bytes,
        });
    }
    if count_tokens(query, limits.max_query_tokens) > limits.max_query_tokens {
        return Err(CostError::TooManyTokens {
            limit: limits.max_query_tokens,
        });
    }
    Ok(())
}

/// The number of GraphQL lexical tokens in `text` (punctuators, names,
/// numbers, strings), counting no further than `limit + 1`. Whitespace,
/// commas and comments are not tokens. A character the lexer does not know
/// counts as one token; the parser reports it.
pub fn count_tokens(text: &str, limit: usize) -> usize {
    let bytes = text.as_bytes();
    let mut index = 0;
    let mut tokens = 0;
    while index < bytes.len() && tokens <= limit {
        match bytes[index] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => index += 1,
            b'#' => {
                while index < bytes.len() && bytes[index] != b'\n' && bytes[index] != b'\r' {
                    index += 1;
                }
            }
            b'"' if bytes[index..].starts_with(b"\"\"\"") => {
                index += 3;
                while index < bytes.len() && !bytes[index..].starts_with(b"\"\"\"") {
                    index += if bytes[index..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                index += 3;
                tokens += 1;
            }
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' && bytes[index] != b'\n' {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
                index += 1;
                tokens += 1;
            }
            b'.' if bytes[index..].starts_with(b"...") => {
                index += 3;
                tokens += 1;
            }
            byte if byte == b'_' || byte.is_ascii_alphanumeric() || byte == b'-' => {
                index += 1;
                // Names and numbers (with their fraction and exponent) run
                // to the next character that cannot continue them.
                while index < bytes.len()
                    && (bytes[index] == b'_'
                        || bytes[index].is_ascii_alphanumeric()
                        || (bytes[index] == b'.' && !bytes[index..].starts_with(b"..."))
                        || ((bytes[index] == b'+' || bytes[index] == b'-')
                            && matches!(bytes[index - 1], b'e' | b'E')))
                {
                    index += 1;
                }
                tokens += 1;
            }
            _ => {
                // One punctuator, or one character of anything else (a
                // multi-byte character counts once per byte, which only
                // makes a document of them reach the limit sooner).
                index += 1;
                tokens += 1;
            }
        }
    }
    tokens
}

/// Walks every operation of `document`, fragments expanded, and refuses it
/// at the first limit it passes.
pub fn check_document(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &CostLimits,
) -> Result<(), CostError> {
    let mut walk = Walk {
        document,
        variables,
        limits,
        selections: 0,
        aliases: 0,
        root_fields: 0,
        expanding: Vec::new(),
    };
    for (_, operation) in document.operations.iter() {
        walk.aliases = 0;
        walk.root_fields = 0;
        walk.selection_set(&operation.node.selection_set.node, true)?;
    }
    Ok(())
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: &'a CostLimits,
    /// Selections visited in the whole document so far.
    selections: usize,
    /// Aliased fields of the current operation.
    aliases: usize,
    /// Root fields of the current operation.
    root_fields: usize,
    /// The fragments being expanded, innermost last: a spread of one of
    /// them is a cycle. Validation would report it, but async-graphql's
    /// nesting check, which runs first, follows cycles (through every
    /// spread, so a cycle of fragments that spread each other twice takes
    /// 2^32 steps), so the walk refuses it.
    expanding: Vec<&'a Name>,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, at_root: bool) -> Result<(), CostError> {
        for selection in &set.items {
            self.selections += 1;
            if self.selections > self.limits.max_selections {
                return Err(CostError::TooManySelections {
                    limit: self.limits.max_selections,
                });
            }
            if selection.node.directives().len() > self.limits.max_directives_per_field {
                return Err(CostError::TooManyDirectives {
                    limit: self.limits.max_directives_per_field,
                });
            }
            match &selection.node {
                Selection::Field(field) => self.field(&field.node, at_root)?,
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node, at_root)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if self.expanding.contains(&name) {
                        return Err(CostError::FragmentCycle {
                            fragment: name.to_string(),
                        });
                    }
                    let Some(fragment) = self.document.fragments.get(name) else {
                        continue;
                    };
                    self.expanding.push(name);
                    self.fragment(fragment, at_root)?;
                    self.expanding.pop();
                }
            }
        }
        Ok(())
    }

    fn fragment(
        &mut self,
        fragment: &'a Positioned<FragmentDefinition>,
        at_root: bool,
    ) -> Result<(), CostError> {
        self.selection_set(&fragment.node.selection_set.node, at_root)
    }

    fn field(&mut self, field: &'a Field, at_root: bool) -> Result<(), CostError> {
        if field.alias.is_some() {
            self.aliases += 1;
            if self.aliases > self.limits.max_aliases {
                return Err(CostError::TooManyAliases {
                    limit: self.limits.max_aliases,
                });
            }
        }
        if at_root {
            self.root_fields += 1;
            if self.root_fields > self.limits.max_root_fields {
                return Err(CostError::TooManyRootFields {
                    limit: self.limits.max_root_fields,
                });
            }
        }
        for (name, value) in &field.arguments {
            let argument = name.node.as_str();
            if argument != "first" && argument != "last" {
                continue;
            }
            // The argument as written, or the variable it names.
            let resolved = value
                .node
                .clone()
                .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()));
            if let Ok(Value::Number(number)) = resolved {
                let size = number.as_i64().unwrap_or(i64::MAX);
                if size > self.limits.max_page_size as i64 {
                    return Err(CostError::PageTooLarge {
                        argument: argument.to_string(),
                        value: size,
                        limit: self.limits.max_page_size,
                    });
                }
            }
        }
        self.selection_set(&field.selection_set.node, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> CostLimits {
        CostLimits::from_limits(&Limits::default())
    }

    fn check(query: &str, variables: serde_json::Value) -> Result<(), CostError> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        check_document(&document, &Variables::from_json(variables), &limits())
    }

    #[test]
    fn counts_tokens_as_the_lexer_sees_them() {
        assert_eq!(count_tokens("{ a }", 100), 3);
        assert_eq!(
            count_tokens("query Q($n: Int = 10) { a(x: \"s, t\") ...F } # {{{{", 100),
            20
        );
        assert_eq!(
            count_tokens("{ a(f: -1.5e+3, s: \"\"\"b \"\" c\"\"\") }", 100),
            11
        );
        assert_eq!(count_tokens(&"{ a }".repeat(1000), 10), 11);
    }

    #[test]
    fn refuses_long_texts_and_many_tokens_before_parsing() {
        let limits = limits();
        let long = format!("{{ a(s: \"{}\") }}", "x".repeat(limits.max_query_bytes));
        assert!(matches!(
            check_query_text(&long, &limits),
            Err(CostError::QueryTooLarge { .. })
        ));
        let many = format!("{{ {} }}", "a ".repeat(limits.max_query_tokens));
        assert!(matches!(
            check_query_text(&many, &limits),
            Err(CostError::TooManyTokens { .. })
        ));
        assert!(check_query_text("{ contacts { nodes { id } } }", &limits).is_ok());
    }

    #[test]
    fn fragment_fan_out_is_refused_after_at_most_the_limit_of_steps() {
        let mut query = String::from("query { contacts { nodes { ...F0 } } }\n");
        for level in 0..40 {
            query.push_str(&format!(
                "fragment F{level} on Contact {{ ...F{next} ...F{next} }}\n",
                next = level + 1
            ));
        }
        query.push_str("fragment F40 on Contact { id }\n");
        assert_eq!(
            check(&query, serde_json::json!({})),
            Err(CostError::TooManySelections {
                limit: limits().max_selections
            })
        );
    }

    #[test]
    fn counts_aliases_root_fields_and_directives_through_fragments() {
        let aliases: String = (0..16).map(|i| format!("a{i}: __typename ")).collect();
        let twice =
            format!("{{ contact(id: 1) {{ ...F ...F }} }} fragment F on Contact {{ {aliases} }}");
        assert_eq!(
            check(&twice, serde_json::json!({})),
            Err(CostError::TooManyAliases { limit: 30 })
        );
        let roots = format!("{{ {} }}", "__typename ".repeat(21));
        assert_eq!(
            check(&roots, serde_json::json!({})),
            Err(CostError::TooManyRootFields { limit: 20 })
        );
        let directives = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(5));
        assert_eq!(
            check(&directives, serde_json::json!({})),
            Err(CostError::TooManyDirectives { limit: 4 })
        );
        let cycle = "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }";
        assert_eq!(
            check(cycle, serde_json::json!({})),
            Err(CostError::FragmentCycle {
                fragment: "A".into()
            })
        );
    }

    #[test]
    fn page_sizes_are_capped_whether_written_or_passed_as_variables() {
        assert_eq!(
            check(
                "{ contacts(first: 1000000) { totalCount } }",
                serde_json::json!({})
            ),
            Err(CostError::PageTooLarge {
                argument: "first".into(),
                value: 1_000_000,
                limit: 100
            })
        );
        let with_variable = "query($n: Int) { contacts(last: $n) { totalCount } }";
        assert!(matches!(
            check(with_variable, serde_json::json!({ "n": 101 })),
            Err(CostError::PageTooLarge { .. })
        ));
        assert_eq!(
            check(with_variable, serde_json::json!({ "n": 100 })),
            Ok(())
        );
    }
}
