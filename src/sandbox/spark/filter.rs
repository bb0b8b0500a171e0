//! The `_filter` language of the Spark API (SparkQL): parser and evaluator.
//!
//! The Spark emulator hands the raw `_filter` parameter to [`parse`], which
//! checks it against the grammar and the types of the searchable attributes,
//! and then asks [`Filter::matches`] about each contact in its wire form. A
//! rejected filter is a [`FilterError`], which the endpoint answers as Spark
//! code 1040. The grammar follows the public SparkQL reference parser
//! (`sparkapi/sparkql`) where it is known and the Spark contacts document
//! (per the Spark Platform Contacts service documentation) for the `DisplayName` wildcard rule.
//!
//! # Grammar as implemented
//!
//! ```text
//! filter      := or_expr END
//! or_expr     := and_expr ( "Or" and_expr )*
//! and_expr    := not_expr ( ( "And" | <"Not" as a binary "And Not"> ) not_expr )*
//! not_expr    := "Not"* primary
//! primary     := "(" or_expr ")" | comparison
//! comparison  := FIELD operator values
//! operator    := "Eq" | "Ne" | "Gt" | "Ge" | "Lt" | "Le" | "Bt"
//! values      := literal ( "," literal )*
//! literal     := TEXT | INTEGER | DECIMAL | DATE | DATETIME | "true" | "false" | "NULL"
//! ```
//!
//! Precedence, tightest first: `Not`, then `And`, then `Or`; `And` and `Or` are
//! associative, so their grouping does not matter. `Not A And B` is
//! `(Not A) And B`, and `A Or B And C` is `A Or (B And C)`. (*ours*: the
//! reference parser folds conjunctions left to right without precedence; the
//! usual boolean precedence is what a caller writing `A Or B And C` expects.)
//! The reference grammar also accepts `Not` between two expressions, meaning
//! `And Not`: `A Not B` is `A And (Not B)`, at `And`'s precedence. A run of
//! prefix `Not`s is folded by parity while parsing, so `Not Not A` is `A`.
//!
//! Keywords (`And`, `Or`, `Not`, the operators, `true`, `false`, `NULL`) are
//! case-insensitive. Field names are case-sensitive and must be searchable
//! attributes, that is the `field_type` callback must know them.
//!
//! # Limits
//!
//! - Parentheses nest at most [`MAX_NESTING_DEPTH`] (2) deep: `((A))` is
//!   accepted, `(((A)))` is rejected at the third `(`. The limit is enforced
//!   while parsing, which is what bounds the parser's recursion.
//! - At most [`MAX_EXPRESSIONS`] (75) comparisons in one filter; the 76th is
//!   rejected where it starts. `Not`, `And`, `Or` and parentheses do not count.
//! - A comma list holds at most [`MAX_LIST_VALUES`] (200) values; the 201st is
//!   rejected.
//! - A text value holds at most [`MAX_WILDCARDS_PER_VALUE`] (3) `*` wildcards.
//! - `Bt` takes exactly two values, the low one first (equal is fine).
//!
//! # Literals
//!
//! - Text is single-quoted. Inside it, `\'` is a quote and `\\` a backslash;
//!   any other backslash escape is an error (*ours*: the reference lexer
//!   accepts any escaped character, but an unknown escape in a query is far
//!   more likely a mistake than a wish). Every `*` in text is a wildcard, so a
//!   literal asterisk cannot be searched for (*ours*).
//! - Integers (`-12`) and decimals (`3.5`); an integer beyond 64 bits is an
//!   error.
//! - Dates `YYYY-MM-DD` and datetimes `YYYY-MM-DDTHH:MM:SS`, with an optional
//!   fraction of up to nine digits and an optional `Z`, `+HH:MM` or `+HHMM`
//!   offset. A datetime without an offset is taken as UTC (*ours*). Impossible
//!   calendar values (`2024-02-30`) are errors.
//! - `true`, `false` and `NULL`, in any letter case.
//! - Functions (`now()`, `days(-1)`) and custom fields (`"Group"."Field"`) of
//!   the full SparkQL are not supported: the contacts service does not need
//!   them (*ours*).
//!
//! # Types
//!
//! - `Text` and `TextList` take `Eq` and `Ne` with text values or `NULL`.
//! - `Timestamp` takes every operator with dates or datetimes; `Eq`/`Ne` also
//!   `NULL`.
//! - `Integer` takes every operator with integers or decimals; `Eq`/`Ne` also
//!   `NULL`.
//! - `Boolean` takes `Eq` and `Ne` with `true`, `false` or `NULL`.
//! - As in the reference grammar, only text and numbers may form a comma list
//!   (after `Eq` or `Ne`); dates, datetimes, booleans and `NULL` stand alone,
//!   and dates, datetimes and numbers are what `Bt` takes.
//!
//! # Evaluation
//!
//! - `Eq` with a list means "any of"; `Ne` is always the exact negation of the
//!   same `Eq`, so `Ne` with a list means "none of" and `Ne 'x'` matches a
//!   record without the attribute (*ours*: two-valued logic keeps `Ne` and
//!   `Not … Eq` identical).
//! - Text without a wildcard compares case-insensitively and exactly (*ours*).
//!   Text with wildcards matches the whole value case-insensitively, `*`
//!   standing for any run of characters. On `DisplayName` a wildcard pattern
//!   without whitespace is also tried on every whitespace-separated word of
//!   the name (per the Spark Platform Contacts service documentation: `'Neddy*'` and `'Neder*'` both find
//!   `Neddy Nederlander`); the whole name is still tried too (*ours*).
//! - A `TextList` (`Tags`) matches `Eq` when any element matches; `Ne` when
//!   none does. Text fields holding a number or boolean compare by its JSON
//!   text (*ours*).
//! - `Eq NULL` matches a missing attribute, JSON `null`, an empty string and
//!   an empty list (*ours* for the last two); `Ne NULL` the opposite. Any other
//!   comparison never matches such a NULL value (and its `Ne` therefore does).
//! - A date compares by the calendar day (in UTC) of the record's timestamp:
//!   `Eq 2024-01-15` matches any time that day, `Gt 2024-01-15` starts at the
//!   next midnight, `Le 2024-01-15` includes the whole day, `Bt` with dates is
//!   inclusive of both whole days. A datetime compares as an instant. Record
//!   timestamps are RFC 3339 strings; a record date without time counts as its
//!   midnight UTC, and an unreadable timestamp matches nothing but `Ne`.
//! - Integer attributes compare numerically, exactly for integers; a record
//!   value that is a numeric string is read as the number (*ours*).
//!
//! # Errors
//!
//! Every error message ends with `at position N`, N being the 0-based
//! character (not byte) offset where the problem starts, or the length of the
//! input when the filter ends too soon. An empty or whitespace-only filter is
//! an error (*ours*: the reference grammar accepts it as "no filter", but an
//! endpoint given `_filter=` was asked for a filter and got none).
//!
//! The parser reads tokens lazily with one token of lookahead, so it stops at
//! the first error, its work is linear in the input, and no input can make it
//! recurse deeper than the nesting limit allows.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::{Map, Value};

/// The most comparisons one filter may hold.
pub const MAX_EXPRESSIONS: usize = 75;

/// The most values one comma list may hold.
pub const MAX_LIST_VALUES: usize = 200;

/// How deep parentheses may nest.
pub const MAX_NESTING_DEPTH: usize = 2;

/// The most `*` wildcards one text value may hold.
pub const MAX_WILDCARDS_PER_VALUE: usize = 3;

/// The attribute whose wildcard patterns apply to each word (per the Spark Platform Contacts service documentation).
pub const WORDWISE_WILDCARD_FIELD: &str = "DisplayName";

/// The type of a searchable attribute, which decides the operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Takes `Eq` and `Ne` only; supports `*` wildcards.
    Text,
    /// A list of text values (`Tags`): matches when any element matches.
    TextList,
    /// A timestamp or date: all comparison operators and `Bt`.
    Timestamp,
    /// `true` or `false`: `Eq` and `Ne` only.
    Boolean,
    /// A number: all comparison operators and `Bt`.
    Integer,
}

/// A parsed filter, ready to evaluate against records.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
    expression_count: usize,
}

/// Why a filter was rejected; answered as Spark code 1040.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
}

/// Parses `input`. `field_type` names the searchable attributes and their types;
/// any other attribute is an error.
pub fn parse(
    input: &str,
    field_type: &dyn Fn(&str) -> Option<FieldType>,
) -> Result<Filter, FilterError> {
    if input.trim().is_empty() {
        return Err(FilterError::at(0, "the filter is empty"));
    }
    let mut parser = Parser {
        lexer: Lexer {
            chars: input.chars().collect(),
            position: 0,
        },
        lookahead: None,
        field_type,
        expression_count: 0,
    };
    let root = parser.or_expression(0)?;
    let trailing = parser.advance()?;
    if trailing.kind != TokenKind::End {
        return Err(FilterError::at(
            trailing.position,
            format!(
                "expected And, Or or the end of the filter, found {}",
                trailing.kind.describe()
            ),
        ));
    }
    Ok(Filter {
        root,
        expression_count: parser.expression_count,
    })
}

impl Filter {
    /// Whether `record` (a Spark contact in its wire form) satisfies the filter.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        self.root.matches(record)
    }

    /// How many comparisons the filter holds (at most [`MAX_EXPRESSIONS`]).
    pub fn expression_count(&self) -> usize {
        self.expression_count
    }
}

impl FilterError {
    fn at(position: usize, detail: impl fmt::Display) -> FilterError {
        FilterError {
            message: format!("{detail} at position {position}"),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for FilterError {}

// ---------------------------------------------------------------------------
// The syntax tree and its evaluation.
// ---------------------------------------------------------------------------

/// A node of the parsed filter. `And` and `Or` hold all their operands in one
/// list, so a long chain stays one level deep.
#[derive(Debug, Clone)]
enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Comparison(Comparison),
}

impl Node {
    fn matches(&self, record: &Map<String, Value>) -> bool {
        match self {
            Node::Or(operands) => operands.iter().any(|operand| operand.matches(record)),
            Node::And(operands) => operands.iter().all(|operand| operand.matches(record)),
            Node::Not(operand) => !operand.matches(record),
            Node::Comparison(comparison) => comparison.matches(record.get(&comparison.field)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Bt,
}

impl Operator {
    fn name(self) -> &'static str {
        match self {
            Operator::Eq => "Eq",
            Operator::Ne => "Ne",
            Operator::Gt => "Gt",
            Operator::Ge => "Ge",
            Operator::Lt => "Lt",
            Operator::Le => "Le",
            Operator::Bt => "Bt",
        }
    }

    /// Whether an ordering of the record value against the literal satisfies
    /// this (single-value, ordered) operator.
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Operator::Gt => ordering == Ordering::Greater,
            Operator::Ge => ordering != Ordering::Less,
            Operator::Lt => ordering == Ordering::Less,
            Operator::Le => ordering != Ordering::Greater,
            Operator::Eq | Operator::Ne | Operator::Bt => ordering == Ordering::Equal,
        }
    }
}

/// One `Field Op Value[,Value…]` expression, already checked against the
/// field's type.
#[derive(Debug, Clone)]
struct Comparison {
    field: String,
    field_type: FieldType,
    operator: Operator,
    values: Vec<Literal>,
}

#[derive(Debug, Clone)]
enum Literal {
    Text(TextPattern),
    Number(Number),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Boolean(bool),
    Null,
}

impl Literal {
    fn kind_name(&self) -> &'static str {
        match self {
            Literal::Text(_) => "a text value",
            Literal::Number(_) => "a number",
            Literal::Date(_) => "a date",
            Literal::DateTime(_) => "a datetime",
            Literal::Boolean(_) => "a boolean",
            Literal::Null => "NULL",
        }
    }

    /// Whether the reference grammar lets this literal appear in a comma list.
    fn may_be_listed(&self) -> bool {
        matches!(self, Literal::Text(_) | Literal::Number(_))
    }

    /// Whether `Bt` takes this literal as a bound.
    fn is_rangeable(&self) -> bool {
        matches!(
            self,
            Literal::Number(_) | Literal::Date(_) | Literal::DateTime(_)
        )
    }
}

/// A text value, kept lowercased for case-insensitive matching, split at its
/// wildcards when it has any.
#[derive(Debug, Clone)]
struct TextPattern {
    lowercase: String,
    /// The pieces between the `*`s; `None` when there is no wildcard.
    wildcard_segments: Option<Vec<String>>,
    has_whitespace: bool,
}

impl TextPattern {
    fn new(text: &str) -> TextPattern {
        let lowercase = text.to_lowercase();
        let wildcard_segments = lowercase
            .contains('*')
            .then(|| lowercase.split('*').map(str::to_string).collect());
        TextPattern {
            has_whitespace: text.chars().any(char::is_whitespace),
            lowercase,
            wildcard_segments,
        }
    }

    /// Whether the already lowercased `value` matches, trying each word too
    /// when the word rule of `DisplayName` applies.
    fn matches(&self, value: &str, wordwise: bool) -> bool {
        match &self.wildcard_segments {
            None => self.lowercase == value,
            Some(segments) => {
                wildcard_match(segments, value)
                    || (wordwise
                        && !self.has_whitespace
                        && value
                            .split_whitespace()
                            .any(|word| wildcard_match(segments, word)))
            }
        }
    }
}

/// Matches `value` against a pattern given as the pieces between its `*`s
/// (at least two pieces). Taking each middle piece at its leftmost possible
/// place is enough for patterns made only of `*`, and keeps this linear.
fn wildcard_match(segments: &[String], value: &str) -> bool {
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return false;
    };
    let Some(mut rest) = value.strip_prefix(first.as_str()) else {
        return false;
    };
    // With fewer than two pieces there is no wildcard and no middle at all.
    let middle = segments
        .get(1..segments.len().saturating_sub(1))
        .unwrap_or_default();
    for segment in middle {
        match rest.find(segment.as_str()) {
            Some(found) => rest = &rest[found + segment.len()..],
            None => return false,
        }
    }
    rest.ends_with(last.as_str())
}

/// A number from a literal or a record: integers compare exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Integer(i128),
    Decimal(f64),
}

impl Number {
    fn compare(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Integer(left), Number::Integer(right)) => Some(left.cmp(&right)),
            (left, right) => left.as_f64().partial_cmp(&right.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            // Precision loss is acceptable here: the other side is a decimal.
            Number::Integer(integer) => integer as f64,
            Number::Decimal(decimal) => decimal,
        }
    }

    fn from_record(value: &Value) -> Option<Number> {
        match value {
            Value::Number(number) => {
                if let Some(integer) = number.as_i64() {
                    Some(Number::Integer(integer.into()))
                } else if let Some(integer) = number.as_u64() {
                    Some(Number::Integer(integer.into()))
                } else {
                    number.as_f64().map(Number::Decimal)
                }
            }
            Value::String(text) => {
                let text = text.trim();
                if let Ok(integer) = text.parse::<i128>() {
                    Some(Number::Integer(integer))
                } else {
                    text.parse::<f64>()
                        .ok()
                        .filter(|decimal| decimal.is_finite())
                        .map(Number::Decimal)
                }
            }
            _ => None,
        }
    }
}

/// A record's timestamp: an instant, or a bare date.
#[derive(Debug, Clone, Copy)]
enum RecordTime {
    Instant(DateTime<Utc>),
    Day(NaiveDate),
}

impl RecordTime {
    fn from_record(value: &Value) -> Option<RecordTime> {
        let text = value.as_str()?.trim();
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return Some(RecordTime::Instant(instant.with_timezone(&Utc)));
        }
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
            return Some(RecordTime::Instant(naive.and_utc()));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(RecordTime::Day)
    }

    fn day(self) -> NaiveDate {
        match self {
            RecordTime::Instant(instant) => instant.date_naive(),
            RecordTime::Day(day) => day,
        }
    }

    fn instant(self) -> DateTime<Utc> {
        match self {
            RecordTime::Instant(instant) => instant,
            RecordTime::Day(day) => day.and_time(NaiveTime::MIN).and_utc(),
        }
    }

    /// Orders the record time against a date (by day) or datetime literal.
    fn compare(self, literal: &Literal) -> Option<Ordering> {
        match literal {
            Literal::Date(day) => Some(self.day().cmp(day)),
            Literal::DateTime(instant) => Some(self.instant().cmp(instant)),
            _ => None,
        }
    }
}

/// Whether a record value counts as NULL for `Eq NULL`.
fn is_null(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

/// The text values of a record attribute, lowercased: one for a scalar, one
/// per element for a list, none for NULL or an object.
fn record_texts(value: Option<&Value>) -> Vec<String> {
    fn scalar_text(value: &Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text.to_lowercase()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(scalar) => scalar_text(scalar).into_iter().collect(),
        None => Vec::new(),
    }
}

impl Comparison {
    fn matches(&self, value: Option<&Value>) -> bool {
        match self.operator {
            Operator::Eq => self.equals_any(value),
            Operator::Ne => !self.equals_any(value),
            Operator::Gt | Operator::Ge | Operator::Lt | Operator::Le => self
                .values
                .first()
                .is_some_and(|literal| self.ordered(value, self.operator, literal)),
            Operator::Bt => match self.values.as_slice() {
                [low, high] => {
                    self.ordered(value, Operator::Ge, low)
                        && self.ordered(value, Operator::Le, high)
                }
                _ => false,
            },
        }
    }

    /// `Eq` semantics: the record value equals any of the literals.
    fn equals_any(&self, value: Option<&Value>) -> bool {
        if matches!(self.values.as_slice(), [Literal::Null]) {
            return is_null(value);
        }
        if is_null(value) {
            return false;
        }
        let Some(value) = value else {
            return false;
        };
        match self.field_type {
            FieldType::Text | FieldType::TextList => {
                let wordwise = self.field == WORDWISE_WILDCARD_FIELD;
                record_texts(Some(value)).iter().any(|text| {
                    self.values.iter().any(|literal| match literal {
                        Literal::Text(pattern) => pattern.matches(text, wordwise),
                        _ => false,
                    })
                })
            }
            FieldType::Timestamp | FieldType::Integer => self
                .values
                .iter()
                .any(|literal| self.ordered(Some(value), Operator::Eq, literal)),
            FieldType::Boolean => self.values.iter().any(|literal| match literal {
                Literal::Boolean(expected) => value.as_bool() == Some(*expected),
                _ => false,
            }),
        }
    }

    /// Compares the record value with one literal under an ordering operator.
    fn ordered(&self, value: Option<&Value>, operator: Operator, literal: &Literal) -> bool {
        let Some(value) = value.filter(|value| !is_null(Some(value))) else {
            return false;
        };
        let ordering = match (self.field_type, literal) {
            (FieldType::Timestamp, _) => {
                RecordTime::from_record(value).and_then(|time| time.compare(literal))
            }
            (FieldType::Integer, Literal::Number(number)) => {
                Number::from_record(value).and_then(|found| found.compare(*number))
            }
            _ => None,
        };
        ordering.is_some_and(|ordering| operator.accepts(ordering))
    }
}

// ---------------------------------------------------------------------------
// The lexer.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    LeftParen,
    RightParen,
    Comma,
    Word(String),
    Text(String),
    Integer(i64),
    Decimal(f64),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    End,
}

impl TokenKind {
    /// How an error message names this token.
    fn describe(&self) -> String {
        match self {
            TokenKind::LeftParen => "'('".to_string(),
            TokenKind::RightParen => "')'".to_string(),
            TokenKind::Comma => "','".to_string(),
            TokenKind::Word(word) => {
                // Long words are cut so an error message stays readable.
                let shown: String = word.chars().take(40).collect();
                if shown.len() < word.len() {
                    format!("'{shown}…'")
                } else {
                    format!("'{shown}'")
                }
            }
            TokenKind::Text(_) => "a text value".to_string(),
            TokenKind::Integer(_) | TokenKind::Decimal(_) => "a number".to_string(),
            TokenKind::Date(_) => "a date".to_string(),
            TokenKind::DateTime(_) => "a datetime".to_string(),
            TokenKind::End => "the end of the filter".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    /// Character offset of the token's first character.
    position: usize,
}

/// Splits the filter into tokens on demand. It works on characters rather
/// than bytes so positions are character offsets and no slicing can land
/// inside a multi-byte character.
struct Lexer {
    chars: Vec<char>,
    position: usize,
}

impl Lexer {
    fn char_at(&self, index: usize) -> Option<char> {
        self.chars.get(index).copied()
    }

    fn is_digit_at(&self, index: usize) -> bool {
        self.char_at(index).is_some_and(|c| c.is_ascii_digit())
    }

    /// The value of `count` ASCII digits starting at `index`, if they are all digits.
    fn digits_at(&self, index: usize, count: usize) -> Option<u32> {
        let mut value = 0u32;
        for offset in 0..count {
            let digit = self.char_at(index + offset)?.to_digit(10)?;
            value = value * 10 + digit;
        }
        Some(value)
    }

    /// Whether the character at `index` would glue onto a literal just read,
    /// which means the literal was malformed (`12ab`, `2024-01-155`).
    fn continues_literal_at(&self, index: usize) -> bool {
        self.char_at(index)
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '+'))
    }

    fn next_token(&mut self) -> Result<Token, FilterError> {
        while self.char_at(self.position).is_some_and(char::is_whitespace) {
            self.position += 1;
        }
        let start = self.position;
        let Some(first) = self.char_at(start) else {
            return Ok(Token {
                kind: TokenKind::End,
                position: start,
            });
        };
        let kind = match first {
            '(' => {
                self.position += 1;
                TokenKind::LeftParen
            }
            ')' => {
                self.position += 1;
                TokenKind::RightParen
            }
            ',' => {
                self.position += 1;
                TokenKind::Comma
            }
            '\'' => self.text(start)?,
            c if c.is_ascii_alphabetic() || c == '_' => self.word(start),
            c if c.is_ascii_digit() => {
                if self.is_date_at(start) {
                    self.date_or_datetime(start)?
                } else {
                    self.number(start)?
                }
            }
            '-' if self.is_digit_at(start + 1) => self.number(start)?,
            other => {
                return Err(FilterError::at(
                    start,
                    format!("unexpected character {other:?}"),
                ))
            }
        };
        Ok(Token {
            kind,
            position: start,
        })
    }

    fn word(&mut self, start: usize) -> TokenKind {
        let mut end = start;
        while self
            .char_at(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            end += 1;
        }
        self.position = end;
        TokenKind::Word(self.chars[start..end].iter().collect())
    }

    fn text(&mut self, start: usize) -> Result<TokenKind, FilterError> {
        let mut index = start + 1;
        let mut text = String::new();
        let mut wildcards = 0usize;
        loop {
            match self.char_at(index) {
                None => {
                    return Err(FilterError::at(start, "unterminated text value"));
                }
                Some('\'') => {
                    self.position = index + 1;
                    return Ok(TokenKind::Text(text));
                }
                Some('\\') => match self.char_at(index + 1) {
                    Some(escaped @ ('\'' | '\\')) => {
                        text.push(escaped);
                        index += 2;
                    }
                    Some(other) => {
                        return Err(FilterError::at(
                            index,
                            format!(
                                "unknown escape \\{} (only \\' and \\\\ are allowed)",
                                other.escape_debug()
                            ),
                        ));
                    }
                    None => {
                        return Err(FilterError::at(start, "unterminated text value"));
                    }
                },
                Some(c) => {
                    if c == '*' {
                        wildcards += 1;
                        if wildcards > MAX_WILDCARDS_PER_VALUE {
                            return Err(FilterError::at(
                                index,
                                format!(
                                    "more than {MAX_WILDCARDS_PER_VALUE} wildcards in one value"
                                ),
                            ));
                        }
                    }
                    text.push(c);
                    index += 1;
                }
            }
        }
    }

    fn number(&mut self, start: usize) -> Result<TokenKind, FilterError> {
        let mut end = start;
        if self.char_at(end) == Some('-') {
            end += 1;
        }
        while self.is_digit_at(end) {
            end += 1;
        }
        let mut is_decimal = false;
        if self.char_at(end) == Some('.') && self.is_digit_at(end + 1) {
            is_decimal = true;
            end += 1;
            while self.is_digit_at(end) {
                end += 1;
            }
        }
        if self.continues_literal_at(end) {
            return Err(FilterError::at(start, "malformed number"));
        }
        let text: String = self.chars[start..end].iter().collect();
        self.position = end;
        if is_decimal {
            match text.parse::<f64>() {
                Ok(decimal) if decimal.is_finite() => Ok(TokenKind::Decimal(decimal)),
                _ => Err(FilterError::at(start, "number out of range")),
            }
        } else {
            text.parse::<i64>()
                .map(TokenKind::Integer)
                .map_err(|_| FilterError::at(start, "number out of range"))
        }
    }

    fn is_date_at(&self, start: usize) -> bool {
        self.digits_at(start, 4).is_some()
            && self.char_at(start + 4) == Some('-')
            && self.digits_at(start + 5, 2).is_some()
            && self.char_at(start + 7) == Some('-')
            && self.digits_at(start + 8, 2).is_some()
    }

    fn date_or_datetime(&mut self, start: usize) -> Result<TokenKind, FilterError> {
        let malformed = |what: &str| FilterError::at(start, format!("malformed {what}"));
        let (year, month, day) = (
            self.digits_at(start, 4).unwrap_or_default(),
            self.digits_at(start + 5, 2).unwrap_or_default(),
            self.digits_at(start + 8, 2).unwrap_or_default(),
        );
        let date = i32::try_from(year)
            .ok()
            .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
            .ok_or_else(|| FilterError::at(start, "invalid date"))?;
        let mut index = start + 10;
        if !matches!(self.char_at(index), Some('T' | 't')) {
            if self.continues_literal_at(index) {
                return Err(malformed("date"));
            }
            self.position = index;
            return Ok(TokenKind::Date(date));
        }
        index += 1;
        let (Some(hour), Some(':'), Some(minute), Some(':'), Some(second)) = (
            self.digits_at(index, 2),
            self.char_at(index + 2),
            self.digits_at(index + 3, 2),
            self.char_at(index + 5),
            self.digits_at(index + 6, 2),
        ) else {
            return Err(malformed("datetime (expected YYYY-MM-DDTHH:MM:SS)"));
        };
        index += 8;
        let mut nanoseconds = 0u32;
        if self.char_at(index) == Some('.') {
            index += 1;
            let mut digits = 0u32;
            while self.is_digit_at(index) {
                digits += 1;
                if digits > 9 {
                    return Err(malformed("datetime (at most nine fraction digits)"));
                }
                nanoseconds = nanoseconds * 10
                    + self
                        .char_at(index)
                        .and_then(|c| c.to_digit(10))
                        .unwrap_or(0);
                index += 1;
            }
            if digits == 0 {
                return Err(malformed("datetime (empty fraction)"));
            }
            nanoseconds *= 10u32.pow(9 - digits);
        }
        let offset_seconds: i32 = match self.char_at(index) {
            Some('Z' | 'z') => {
                index += 1;
                0
            }
            Some(sign @ ('+' | '-')) => {
                let hours = self.digits_at(index + 1, 2);
                let (minutes, length) = if self.char_at(index + 3) == Some(':') {
                    (self.digits_at(index + 4, 2), 6)
                } else {
                    (self.digits_at(index + 3, 2), 5)
                };
                let (Some(hours), Some(minutes)) = (hours, minutes) else {
                    return Err(malformed("datetime offset (expected +HH:MM)"));
                };
                if hours > 23 || minutes > 59 {
                    return Err(FilterError::at(start, "invalid datetime offset"));
                }
                index += length;
                let magnitude = i32::try_from(hours * 3600 + minutes * 60).unwrap_or(0);
                if sign == '-' {
                    -magnitude
                } else {
                    magnitude
                }
            }
            _ => 0,
        };
        if self.continues_literal_at(index) {
            return Err(malformed("datetime"));
        }
        let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanoseconds)
            .ok_or_else(|| FilterError::at(start, "invalid time of day"))?;
        let instant = FixedOffset::east_opt(offset_seconds)
            .and_then(|offset| date.and_time(time).and_local_timezone(offset).single())
            .ok_or_else(|| FilterError::at(start, "invalid datetime"))?;
        self.position = index;
        Ok(TokenKind::DateTime(instant.with_timezone(&Utc)))
    }
}

// ---------------------------------------------------------------------------
// The parser.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    And,
    Or,
    Not,
    Operator(Operator),
    True,
    False,
    Null,
}

impl Keyword {
    fn recognize(word: &str) -> Option<Keyword> {
        const KEYWORDS: &[(&str, Keyword)] = &[
            ("and", Keyword::And),
            ("or", Keyword::Or),
            ("not", Keyword::Not),
            ("eq", Keyword::Operator(Operator::Eq)),
            ("ne", Keyword::Operator(Operator::Ne)),
            ("gt", Keyword::Operator(Operator::Gt)),
            ("ge", Keyword::Operator(Operator::Ge)),
            ("lt", Keyword::Operator(Operator::Lt)),
            ("le", Keyword::Operator(Operator::Le)),
            ("bt", Keyword::Operator(Operator::Bt)),
            ("true", Keyword::True),
            ("false", Keyword::False),
            ("null", Keyword::Null),
        ];
        KEYWORDS
            .iter()
            .find(|(name, _)| word.eq_ignore_ascii_case(name))
            .map(|(_, keyword)| *keyword)
    }
}

struct Parser<'a> {
    lexer: Lexer,
    lookahead: Option<Token>,
    field_type: &'a dyn Fn(&str) -> Option<FieldType>,
    expression_count: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Token, FilterError> {
        let token = match self.lookahead.take() {
            Some(token) => token,
            None => self.lexer.next_token()?,
        };
        Ok(self.lookahead.insert(token))
    }

    fn advance(&mut self) -> Result<Token, FilterError> {
        match self.lookahead.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn peek_keyword(&mut self) -> Result<Option<Keyword>, FilterError> {
        Ok(match &self.peek()?.kind {
            TokenKind::Word(word) => Keyword::recognize(word),
            _ => None,
        })
    }

    /// `or_expr := and_expr ("Or" and_expr)*`; `depth` counts the open parentheses.
    fn or_expression(&mut self, depth: usize) -> Result<Node, FilterError> {
        let mut operands = vec![self.and_expression(depth)?];
        while self.peek_keyword()? == Some(Keyword::Or) {
            self.advance()?;
            operands.push(self.and_expression(depth)?);
        }
        Ok(if operands.len() == 1 {
            operands.remove(0)
        } else {
            Node::Or(operands)
        })
    }

    /// `and_expr := not_expr (("And" | binary "Not") not_expr)*`.
    fn and_expression(&mut self, depth: usize) -> Result<Node, FilterError> {
        let mut operands = vec![self.not_expression(depth)?];
        loop {
            match self.peek_keyword()? {
                Some(Keyword::And) => {
                    self.advance()?;
                    operands.push(self.not_expression(depth)?);
                }
                // `A Not B` is the reference grammar's `A And Not B`; the
                // `Not` is left for `not_expression` to read.
                Some(Keyword::Not) => operands.push(self.not_expression(depth)?),
                _ => break,
            }
        }
        Ok(if operands.len() == 1 {
            operands.remove(0)
        } else {
            Node::And(operands)
        })
    }

    /// `not_expr := "Not"* primary`, read in a loop and folded by parity so a
    /// long run of `Not`s costs neither stack nor tree depth.
    fn not_expression(&mut self, depth: usize) -> Result<Node, FilterError> {
        let mut negated = false;
        while self.peek_keyword()? == Some(Keyword::Not) {
            self.advance()?;
            negated = !negated;
        }
        let operand = self.primary(depth)?;
        Ok(if negated {
            Node::Not(Box::new(operand))
        } else {
            operand
        })
    }

    /// `primary := "(" or_expr ")" | comparison`.
    fn primary(&mut self, depth: usize) -> Result<Node, FilterError> {
        let token = self.peek()?;
        let position = token.position;
        match &token.kind {
            TokenKind::LeftParen => {
                if depth >= MAX_NESTING_DEPTH {
                    return Err(FilterError::at(
                        position,
                        format!("parentheses nested deeper than {MAX_NESTING_DEPTH} levels"),
                    ));
                }
                self.advance()?;
                let inner = self.or_expression(depth + 1)?;
                let closing = self.advance()?;
                if closing.kind != TokenKind::RightParen {
                    return Err(FilterError::at(
                        closing.position,
                        format!(
                            "expected ')' to close the '(' at position {position}, found {}",
                            closing.kind.describe()
                        ),
                    ));
                }
                Ok(inner)
            }
            TokenKind::Word(_) => self.comparison().map(Node::Comparison),
            other => Err(FilterError::at(
                position,
                format!("expected a field name or '(', found {}", other.describe()),
            )),
        }
    }

    /// `comparison := FIELD operator values`, checked against the field's type.
    fn comparison(&mut self) -> Result<Comparison, FilterError> {
        let field_token = self.advance()?;
        let field_position = field_token.position;
        let TokenKind::Word(field) = field_token.kind else {
            return Err(FilterError::at(
                field_position,
                format!(
                    "expected a field name, found {}",
                    field_token.kind.describe()
                ),
            ));
        };
        if matches!(
            Keyword::recognize(&field),
            Some(Keyword::And | Keyword::Or | Keyword::Operator(_))
        ) {
            return Err(FilterError::at(
                field_position,
                format!("expected a field name, found '{field}'"),
            ));
        }
        let field_type = (self.field_type)(&field).ok_or_else(|| {
            FilterError::at(
                field_position,
                format!(
                    "unknown field {} (not a searchable attribute)",
                    TokenKind::Word(field.clone()).describe()
                ),
            )
        })?;
        self.expression_count += 1;
        if self.expression_count > MAX_EXPRESSIONS {
            return Err(FilterError::at(
                field_position,
                format!("more than {MAX_EXPRESSIONS} expressions in one filter"),
            ));
        }

        let operator_token = self.advance()?;
        let operator_position = operator_token.position;
        let operator = match &operator_token.kind {
            TokenKind::Word(word) => match Keyword::recognize(word) {
                Some(Keyword::Operator(operator)) => Some(operator),
                _ => None,
            },
            _ => None,
        }
        .ok_or_else(|| {
            FilterError::at(
                operator_position,
                format!(
                    "expected an operator (Eq, Ne, Gt, Ge, Lt, Le, Bt) after {field}, found {}",
                    operator_token.kind.describe()
                ),
            )
        })?;

        let mut values = vec![self.literal()?];
        while self.peek()?.kind == TokenKind::Comma {
            self.advance()?;
            let next_position = self.peek()?.position;
            if values.len() >= MAX_LIST_VALUES {
                return Err(FilterError::at(
                    next_position,
                    format!("more than {MAX_LIST_VALUES} values in one list"),
                ));
            }
            values.push(self.literal()?);
        }
        check_comparison(&field, field_type, operator, operator_position, &values)?;
        Ok(Comparison {
            field,
            field_type,
            operator,
            values: values.into_iter().map(|(literal, _)| literal).collect(),
        })
    }

    fn literal(&mut self) -> Result<(Literal, usize), FilterError> {
        let token = self.advance()?;
        let literal = match token.kind {
            TokenKind::Text(text) => Literal::Text(TextPattern::new(&text)),
            TokenKind::Integer(integer) => Literal::Number(Number::Integer(integer.into())),
            TokenKind::Decimal(decimal) => Literal::Number(Number::Decimal(decimal)),
            TokenKind::Date(date) => Literal::Date(date),
            TokenKind::DateTime(instant) => Literal::DateTime(instant),
            TokenKind::Word(ref word) => match Keyword::recognize(word) {
                Some(Keyword::True) => Literal::Boolean(true),
                Some(Keyword::False) => Literal::Boolean(false),
                Some(Keyword::Null) => Literal::Null,
                _ => {
                    return Err(FilterError::at(
                        token.position,
                        format!(
                            "expected a value, found {} (text values must be single-quoted)",
                            token.kind.describe()
                        ),
                    ))
                }
            },
            other => {
                return Err(FilterError::at(
                    token.position,
                    format!("expected a value, found {}", other.describe()),
                ))
            }
        };
        Ok((literal, token.position))
    }
}

/// Checks the operator and the values of one comparison against the grammar's
/// list and range rules and the field's type.
fn check_comparison(
    field: &str,
    field_type: FieldType,
    operator: Operator,
    operator_position: usize,
    values: &[(Literal, usize)],
) -> Result<(), FilterError> {
    let operator_name = operator.name();
    // Shape: how many values the operator takes, and which may be listed.
    match operator {
        Operator::Bt => {
            if values.len() != 2 {
                return Err(FilterError::at(
                    operator_position,
                    format!("Bt takes exactly two values, found {}", values.len()),
                ));
            }
            if let Some((literal, position)) =
                values.iter().find(|(literal, _)| !literal.is_rangeable())
            {
                return Err(FilterError::at(
                    *position,
                    format!(
                        "Bt takes numbers, dates or datetimes, found {}",
                        literal.kind_name()
                    ),
                ));
            }
        }
        Operator::Eq | Operator::Ne => {
            if values.len() > 1 {
                if let Some((literal, position)) =
                    values.iter().find(|(literal, _)| !literal.may_be_listed())
                {
                    return Err(FilterError::at(
                        *position,
                        format!(
                            "{} cannot appear in a list (lists hold text or numbers)",
                            literal.kind_name()
                        ),
                    ));
                }
            }
        }
        Operator::Gt | Operator::Ge | Operator::Lt | Operator::Le => {
            if let Some((_, position)) = values.get(1) {
                return Err(FilterError::at(
                    *position,
                    format!("{operator_name} takes a single value; only Eq and Ne take a list"),
                ));
            }
            if let Some((Literal::Null, position)) = values.first() {
                return Err(FilterError::at(
                    *position,
                    format!("{operator_name} cannot compare with NULL"),
                ));
            }
        }
    }

    // Type: which operators and literals the field takes.
    let (takes_ordering, type_name): (bool, &str) = match field_type {
        FieldType::Text => (false, "text"),
        FieldType::TextList => (false, "a text list"),
        FieldType::Timestamp => (true, "a timestamp"),
        FieldType::Boolean => (false, "a boolean"),
        FieldType::Integer => (true, "a number"),
    };
    if !takes_ordering && !matches!(operator, Operator::Eq | Operator::Ne) {
        return Err(FilterError::at(
            operator_position,
            format!("{field} is {type_name} and takes only Eq and Ne, not {operator_name}"),
        ));
    }
    for (literal, position) in values {
        let fits = matches!(
            (field_type, literal),
            (_, Literal::Null)
                | (FieldType::Text | FieldType::TextList, Literal::Text(_))
                | (
                    FieldType::Timestamp,
                    Literal::Date(_) | Literal::DateTime(_)
                )
                | (FieldType::Integer, Literal::Number(_))
                | (FieldType::Boolean, Literal::Boolean(_))
        );
        if !fits {
            return Err(FilterError::at(
                *position,
                format!(
                    "{field} is {type_name} and cannot be compared with {}",
                    literal.kind_name()
                ),
            ));
        }
    }

    if let [(low, _), (high, high_position)] = values {
        if operator == Operator::Bt && bound_order(low, high) == Some(Ordering::Greater) {
            return Err(FilterError::at(
                *high_position,
                "Bt needs the low value first (low must not exceed high)",
            ));
        }
    }
    Ok(())
}

/// Orders two `Bt` bounds with the same rules a record is compared by: when
/// either is a date, by calendar day.
fn bound_order(low: &Literal, high: &Literal) -> Option<Ordering> {
    match (low, high) {
        (Literal::Number(low), Literal::Number(high)) => low.compare(*high),
        (Literal::DateTime(low), Literal::DateTime(high)) => Some(low.cmp(high)),
        (Literal::Date(low), Literal::Date(high)) => Some(low.cmp(high)),
        (Literal::Date(low), Literal::DateTime(high)) => Some(low.cmp(&high.date_naive())),
        (Literal::DateTime(low), Literal::Date(high)) => Some(low.date_naive().cmp(high)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const COUNT: &str = "UnreadListingNotificationEventCount";

    /// The searchable attributes the tests use, typed as the Spark emulator
    /// types them.
    fn field_type(name: &str) -> Option<FieldType> {
        match name {
            "DisplayName" | "GivenName" | "PrimaryEmail" | "Id" => Some(FieldType::Text),
            "Tags" => Some(FieldType::TextList),
            "CreatedTimestamp" | "ModificationTimestamp" => Some(FieldType::Timestamp),
            "VowEnabled" => Some(FieldType::Boolean),
            COUNT => Some(FieldType::Integer),
            _ => None,
        }
    }

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// Four contacts that differ in every attribute the tests search on.
    fn records() -> Vec<Map<String, Value>> {
        vec![
            record(json!({
                "Id": "1", "DisplayName": "Neddy Nederlander", "GivenName": "Neddy",
                "PrimaryEmail": "neddy@example.com", "Tags": ["Buyer", "VIP"],
                "CreatedTimestamp": "2024-01-15T10:30:00Z", "VowEnabled": true, COUNT: 3
            })),
            record(json!({
                "Id": "2", "DisplayName": "Maude Flanders", "GivenName": "Maude",
                "PrimaryEmail": "maude@example.com", "Tags": ["Seller"],
                "CreatedTimestamp": "2024-01-16T00:00:00Z", "VowEnabled": false, COUNT: 0
            })),
            record(json!({
                "Id": "3", "DisplayName": "Homer Simpson", "GivenName": "Homer",
                "PrimaryEmail": null, "Tags": [],
                "CreatedTimestamp": "2023-12-31T23:59:59Z", COUNT: 12
            })),
            record(json!({
                "Id": "4", "DisplayName": "Conan O'Brien", "GivenName": "",
                "PrimaryEmail": "Conan@EXAMPLE.com"
            })),
        ]
    }

    fn parse_ok(input: &str) -> Filter {
        match parse(input, &field_type) {
            Ok(filter) => filter,
            Err(error) => panic!("{input:?} was rejected: {}", error.message),
        }
    }

    fn parse_error(input: &str) -> String {
        match parse(input, &field_type) {
            Ok(filter) => panic!("{input:?} was accepted: {filter:?}"),
            Err(error) => error.message,
        }
    }

    /// The `Id`s of the fixture records the filter matches.
    fn ids(input: &str) -> Vec<String> {
        let filter = parse_ok(input);
        records()
            .iter()
            .filter(|record| filter.matches(record))
            .map(|record| record["Id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn matches_one(input: &str, value: Value) -> bool {
        parse_ok(input).matches(&record(value))
    }

    #[test]
    fn text_equality_is_case_insensitive_and_exact() {
        assert_eq!(ids("GivenName Eq 'neddy'"), ["1"]);
        assert_eq!(ids("GivenName Eq 'NEDDY'"), ["1"]);
        assert_eq!(ids("GivenName Eq 'Ned'"), Vec::<String>::new());
        assert_eq!(ids("PrimaryEmail Eq 'conan@example.com'"), ["4"]);
        assert_eq!(ids("DisplayName Eq 'Nederlander'"), Vec::<String>::new());
    }

    #[test]
    fn text_ne_is_the_negation_of_eq_and_matches_null_values() {
        assert_eq!(ids("GivenName Ne 'Neddy'"), ["2", "3", "4"]);
        assert_eq!(ids("PrimaryEmail Ne 'neddy@example.com'"), ["2", "3", "4"]);
    }

    #[test]
    fn comma_list_after_eq_means_any_of_and_after_ne_none_of() {
        assert_eq!(ids("Id Eq '1','3'"), ["1", "3"]);
        assert_eq!(ids("Id Eq '1' , '3' ,'9'"), ["1", "3"]);
        assert_eq!(ids("Id Ne '1','3'"), ["2", "4"]);
        assert_eq!(ids(&format!("{COUNT} Eq 3,12")), ["1", "3"]);
        assert_eq!(ids(&format!("{COUNT} Ne 3,12")), ["2", "4"]);
    }

    #[test]
    fn comma_list_accepts_200_values_and_rejects_the_201st() {
        let values: Vec<String> = (1..=201).map(|n| format!("'{n}'")).collect();
        let two_hundred = format!("Id Eq {}", values[..200].join(","));
        assert_eq!(ids(&two_hundred), ["1", "2", "3", "4"]);
        let two_hundred_one = format!("Id Eq {}", values.join(","));
        let position = two_hundred.chars().count() + 1;
        assert_eq!(
            parse_error(&two_hundred_one),
            format!("more than 200 values in one list at position {position}")
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // Neddy Or (Maude And false), not (Neddy Or Maude) And false.
        assert_eq!(
            ids("GivenName Eq 'Neddy' Or GivenName Eq 'Maude' And VowEnabled Eq false"),
            ["1", "2"]
        );
        // (false And Maude) Or Neddy, not false And (Maude Or Neddy).
        assert_eq!(
            ids("VowEnabled Eq false And GivenName Eq 'Maude' Or GivenName Eq 'Neddy'"),
            ["1", "2"]
        );
        assert_eq!(
            ids("VowEnabled Eq true And GivenName Eq 'Maude' Or GivenName Eq 'Homer'"),
            ["3"]
        );
    }

    #[test]
    fn parentheses_override_precedence() {
        assert_eq!(
            ids("(GivenName Eq 'Neddy' Or GivenName Eq 'Maude') And VowEnabled Eq false"),
            ["2"]
        );
        assert_eq!(
            ids("VowEnabled Eq false And (GivenName Eq 'Maude' Or GivenName Eq 'Neddy')"),
            ["2"]
        );
    }

    #[test]
    fn not_binds_tighter_than_and_and_or() {
        // (Not Neddy) And true: only Neddy is true, so nobody.
        assert_eq!(
            ids("Not GivenName Eq 'Neddy' And VowEnabled Eq true"),
            Vec::<String>::new()
        );
        // (Not Neddy) Or Neddy: everybody.
        assert_eq!(
            ids("Not GivenName Eq 'Neddy' Or GivenName Eq 'Neddy'"),
            ["1", "2", "3", "4"]
        );
        assert_eq!(
            ids("VowEnabled Eq true And Not GivenName Eq 'Neddy'"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn not_before_parentheses_negates_the_group() {
        assert_eq!(
            ids("Not (GivenName Eq 'Neddy' And VowEnabled Eq true)"),
            ["2", "3", "4"]
        );
        assert_eq!(
            ids("Not (GivenName Eq 'Neddy' Or GivenName Eq 'Maude')"),
            ["3", "4"]
        );
    }

    #[test]
    fn repeated_not_folds_by_parity() {
        assert_eq!(ids("Not Not GivenName Eq 'Neddy'"), ["1"]);
        assert_eq!(ids("Not Not Not GivenName Eq 'Neddy'"), ["2", "3", "4"]);
    }

    #[test]
    fn not_between_expressions_means_and_not() {
        assert_eq!(ids("VowEnabled Ne NULL Not GivenName Eq 'Neddy'"), ["2"]);
        // At And's precedence: Homer Or (present-flag And Not Neddy).
        assert_eq!(
            ids("GivenName Eq 'Homer' Or VowEnabled Ne NULL Not GivenName Eq 'Neddy'"),
            ["2", "3"]
        );
    }

    #[test]
    fn parentheses_nest_two_deep_but_not_three() {
        assert_eq!(ids("((GivenName Eq 'Neddy'))"), ["1"]);
        assert_eq!(
            ids("((GivenName Eq 'Neddy') Or (GivenName Eq 'Maude')) And VowEnabled Eq false"),
            ["2"]
        );
        assert_eq!(
            ids("(GivenName Eq 'Homer') Or ((Id Eq '1') Or (Id Eq '2'))"),
            ["1", "2", "3"]
        );
        assert_eq!(
            parse_error("(((GivenName Eq 'Neddy')))"),
            "parentheses nested deeper than 2 levels at position 2"
        );
        assert_eq!(
            parse_error("Id Eq '1' Or ((Id Eq '2') Or (Not (Id Eq '3')))"),
            "parentheses nested deeper than 2 levels at position 34"
        );
    }

    #[test]
    fn unbalanced_parentheses_are_errors() {
        assert_eq!(
            parse_error("(GivenName Eq 'Neddy'"),
            "expected ')' to close the '(' at position 0, found the end of the filter at position 21"
        );
        assert_eq!(
            parse_error("GivenName Eq 'Neddy')"),
            "expected And, Or or the end of the filter, found ')' at position 20"
        );
        assert_eq!(
            parse_error("()"),
            "expected a field name or '(', found ')' at position 1"
        );
    }

    #[test]
    fn escapes_in_text_values() {
        assert_eq!(ids(r"DisplayName Eq 'Conan O\'Brien'"), ["4"]);
        assert!(matches_one(
            r"GivenName Eq 'back\\slash'",
            json!({"GivenName": "back\\slash"})
        ));
        assert!(!matches_one(
            r"GivenName Eq 'back\\slash'",
            json!({"GivenName": "back\\\\slash"})
        ));
        assert_eq!(
            parse_error(r"GivenName Eq 'a\nb'"),
            r"unknown escape \n (only \' and \\ are allowed) at position 15"
        );
        assert_eq!(
            parse_error(r"GivenName Eq 'a\*'"),
            r"unknown escape \* (only \' and \\ are allowed) at position 15"
        );
    }

    #[test]
    fn unterminated_text_is_an_error() {
        assert_eq!(
            parse_error("GivenName Eq 'Neddy"),
            "unterminated text value at position 13"
        );
        assert_eq!(
            parse_error(r"GivenName Eq 'Neddy\'"),
            "unterminated text value at position 13"
        );
        assert_eq!(
            parse_error(r"GivenName Eq 'Neddy\"),
            "unterminated text value at position 13"
        );
    }

    #[test]
    fn between_is_inclusive_on_numbers() {
        assert_eq!(ids(&format!("{COUNT} Bt 1,5")), ["1"]);
        assert_eq!(ids(&format!("{COUNT} Bt 0,3")), ["1", "2"]);
        assert_eq!(ids(&format!("{COUNT} Bt 3,3")), ["1"]);
        assert_eq!(ids(&format!("{COUNT} Bt -1.5,12.0")), ["1", "2", "3"]);
    }

    #[test]
    fn between_needs_exactly_two_ordered_values() {
        let prefix_length = COUNT.chars().count();
        assert_eq!(
            parse_error(&format!("{COUNT} Bt 5,1")),
            format!(
                "Bt needs the low value first (low must not exceed high) at position {}",
                prefix_length + 6
            )
        );
        assert_eq!(
            parse_error(&format!("{COUNT} Bt 1")),
            format!(
                "Bt takes exactly two values, found 1 at position {}",
                prefix_length + 1
            )
        );
        assert_eq!(
            parse_error(&format!("{COUNT} Bt 1,2,3")),
            format!(
                "Bt takes exactly two values, found 3 at position {}",
                prefix_length + 1
            )
        );
        assert_eq!(
            parse_error("GivenName Bt 'a','b'"),
            "Bt takes numbers, dates or datetimes, found a text value at position 13"
        );
        assert_eq!(
            parse_error("CreatedTimestamp Bt 2024-01-02,2024-01-01"),
            "Bt needs the low value first (low must not exceed high) at position 31"
        );
        // A date bound and a datetime bound on the same day are in order.
        assert_eq!(
            ids("CreatedTimestamp Bt 2024-01-15T12:00:00Z,2024-01-15"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn between_with_dates_covers_whole_days() {
        assert_eq!(ids("CreatedTimestamp Bt 2024-01-01,2024-01-15"), ["1"]);
        assert_eq!(
            ids("CreatedTimestamp Bt 2023-12-31,2024-01-16"),
            ["1", "2", "3"]
        );
        assert_eq!(
            ids("CreatedTimestamp Bt 2024-01-15T10:30:00Z,2024-01-16T00:00:00Z"),
            ["1", "2"]
        );
        assert_eq!(
            ids("CreatedTimestamp Bt 2024-01-15T10:30:01Z,2024-01-16"),
            ["2"]
        );
    }

    #[test]
    fn wildcards_match_case_insensitively_against_the_whole_value() {
        assert_eq!(ids("GivenName Eq 'ned*'"), ["1"]);
        assert_eq!(ids("GivenName Eq '*DE'"), ["2"]);
        assert_eq!(ids("GivenName Eq 'h*m*r'"), ["3"]);
        assert_eq!(ids("PrimaryEmail Eq '*@example.com'"), ["1", "2", "4"]);
        assert_eq!(ids("GivenName Eq '*'"), ["1", "2", "3"]);
        assert_eq!(ids("GivenName Ne 'ned*','ma*'"), ["3", "4"]);
        // The middle piece must not overlap the last one.
        assert!(!matches_one(
            "GivenName Eq 'ab*b*ba'",
            json!({"GivenName": "abba"})
        ));
        assert!(matches_one(
            "GivenName Eq 'ab*b*ba'",
            json!({"GivenName": "abbba"})
        ));
    }

    #[test]
    fn wildcard_limit_is_three_per_value() {
        assert_eq!(ids("DisplayName Eq '*e*e*'"), ["1", "2"]);
        assert_eq!(
            parse_error("DisplayName Eq '*e*e*r*'"),
            "more than 3 wildcards in one value at position 22"
        );
        // The limit is per value, not per list.
        assert_eq!(ids("GivenName Eq '*e*d*','*a*d*'"), ["1", "2"]);
    }

    #[test]
    fn display_name_wildcards_apply_to_each_word() {
        assert_eq!(ids("DisplayName Eq 'Neddy*'"), ["1"]);
        assert_eq!(ids("DisplayName Eq 'Neder*'"), ["1"]);
        assert_eq!(ids("DisplayName Eq 'neder*'"), ["1"]);
        assert_eq!(ids("DisplayName Eq 'Flan*'"), ["2"]);
        assert_eq!(ids("DisplayName Eq '*son'"), ["3"]);
        // With whitespace the pattern applies to the whole name.
        assert_eq!(ids("DisplayName Eq 'Neddy Neder*'"), ["1"]);
        assert_eq!(ids("DisplayName Eq 'Neder* N*'"), Vec::<String>::new());
        // Without a wildcard the whole name must match.
        assert_eq!(ids("DisplayName Eq 'Neddy'"), Vec::<String>::new());
        // The word rule is DisplayName's alone.
        let both = json!({"DisplayName": "Neddy Nederlander", "GivenName": "Neddy Nederlander"});
        assert!(matches_one("DisplayName Eq 'Neder*'", both.clone()));
        assert!(!matches_one("GivenName Eq 'Neder*'", both.clone()));
        assert!(matches_one("GivenName Eq '*Neder*'", both));
    }

    #[test]
    fn tags_match_when_any_element_matches() {
        assert_eq!(ids("Tags Eq 'vip'"), ["1"]);
        assert_eq!(ids("Tags Eq 'Seller','VIP'"), ["1", "2"]);
        assert_eq!(ids("Tags Ne 'VIP'"), ["2", "3", "4"]);
        assert_eq!(ids("Tags Ne 'VIP','Seller'"), ["3", "4"]);
        assert_eq!(ids("Tags Eq 'B*'"), ["1"]);
        assert_eq!(ids("Tags Eq NULL"), ["3", "4"]);
        assert_eq!(ids("Tags Ne NULL"), ["1", "2"]);
    }

    #[test]
    fn text_fields_take_only_eq_and_ne() {
        assert_eq!(
            parse_error("GivenName Gt 'a'"),
            "GivenName is text and takes only Eq and Ne, not Gt at position 10"
        );
        assert_eq!(
            parse_error("Tags Le 'a'"),
            "Tags is a text list and takes only Eq and Ne, not Le at position 5"
        );
        assert_eq!(
            parse_error("DisplayName Bt 2,3"),
            "DisplayName is text and takes only Eq and Ne, not Bt at position 12"
        );
    }

    #[test]
    fn text_fields_take_only_text_and_null() {
        assert_eq!(
            parse_error("GivenName Eq 5"),
            "GivenName is text and cannot be compared with a number at position 13"
        );
        assert_eq!(
            parse_error("Tags Eq true"),
            "Tags is a text list and cannot be compared with a boolean at position 8"
        );
        assert_eq!(
            parse_error("Id Eq 2024-01-01"),
            "Id is text and cannot be compared with a date at position 6"
        );
        assert_eq!(
            parse_error("Id Eq '1',2"),
            "Id is text and cannot be compared with a number at position 10"
        );
    }

    #[test]
    fn timestamps_take_only_dates_and_datetimes() {
        assert_eq!(
            parse_error("CreatedTimestamp Eq 'yesterday'"),
            "CreatedTimestamp is a timestamp and cannot be compared with a text value at position 20"
        );
        assert_eq!(
            parse_error("CreatedTimestamp Gt 5"),
            "CreatedTimestamp is a timestamp and cannot be compared with a number at position 20"
        );
        assert_eq!(
            parse_error("CreatedTimestamp Eq true"),
            "CreatedTimestamp is a timestamp and cannot be compared with a boolean at position 20"
        );
    }

    #[test]
    fn integers_take_numbers_and_compare_numerically() {
        assert_eq!(ids(&format!("{COUNT} Gt 2")), ["1", "3"]);
        assert_eq!(ids(&format!("{COUNT} Ge 3")), ["1", "3"]);
        assert_eq!(ids(&format!("{COUNT} Lt 3")), ["2"]);
        assert_eq!(ids(&format!("{COUNT} Le 0")), ["2"]);
        assert_eq!(ids(&format!("{COUNT} Eq 3.0")), ["1"]);
        assert_eq!(ids(&format!("{COUNT} Gt 2.5")), ["1", "3"]);
        assert_eq!(ids(&format!("{COUNT} Lt -1")), Vec::<String>::new());
        assert_eq!(ids(&format!("{COUNT} Eq NULL")), ["4"]);
        let at = COUNT.chars().count() + 4;
        assert_eq!(
            parse_error(&format!("{COUNT} Eq 'three'")),
            format!(
                "{COUNT} is a number and cannot be compared with a text value at position {at}"
            )
        );
        assert_eq!(
            parse_error(&format!("{COUNT} Eq true")),
            format!("{COUNT} is a number and cannot be compared with a boolean at position {at}")
        );
        assert_eq!(
            parse_error(&format!("{COUNT} Eq 2024-01-01")),
            format!("{COUNT} is a number and cannot be compared with a date at position {at}")
        );
        assert_eq!(
            parse_error(&format!("{COUNT} Eq 99999999999999999999")),
            format!("number out of range at position {at}")
        );
        assert_eq!(
            parse_error(&format!("{COUNT} Eq 12ab")),
            format!("malformed number at position {at}")
        );
    }

    #[test]
    fn integer_attributes_read_numeric_strings_and_large_numbers() {
        let query = format!("{COUNT} Gt 6");
        assert!(matches_one(&query, json!({COUNT: "7"})));
        assert!(!matches_one(&query, json!({COUNT: "six"})));
        assert!(matches_one(&query, json!({COUNT: u64::MAX})));
        assert!(matches_one(&query, json!({COUNT: 6.5})));
    }

    #[test]
    fn booleans_take_true_false_and_null_with_eq_and_ne() {
        assert_eq!(ids("VowEnabled Eq true"), ["1"]);
        assert_eq!(ids("VowEnabled Eq FALSE"), ["2"]);
        assert_eq!(ids("VowEnabled Ne True"), ["2", "3", "4"]);
        assert_eq!(ids("VowEnabled Eq NULL"), ["3", "4"]);
        assert_eq!(
            parse_error("VowEnabled Gt true"),
            "VowEnabled is a boolean and takes only Eq and Ne, not Gt at position 11"
        );
        assert_eq!(
            parse_error("VowEnabled Eq 1"),
            "VowEnabled is a boolean and cannot be compared with a number at position 14"
        );
        assert_eq!(
            parse_error("VowEnabled Eq 'true'"),
            "VowEnabled is a boolean and cannot be compared with a text value at position 14"
        );
    }

    #[test]
    fn lists_hold_only_text_and_numbers() {
        assert_eq!(
            parse_error("CreatedTimestamp Eq 2024-01-15,2024-01-16"),
            "a date cannot appear in a list (lists hold text or numbers) at position 20"
        );
        assert_eq!(
            parse_error("PrimaryEmail Eq 'x',NULL"),
            "NULL cannot appear in a list (lists hold text or numbers) at position 20"
        );
        assert_eq!(
            parse_error("VowEnabled Eq true,false"),
            "a boolean cannot appear in a list (lists hold text or numbers) at position 14"
        );
    }

    #[test]
    fn ordered_operators_take_one_value_and_not_null() {
        let prefix_length = COUNT.chars().count();
        assert_eq!(
            parse_error(&format!("{COUNT} Gt 1,2")),
            format!(
                "Gt takes a single value; only Eq and Ne take a list at position {}",
                prefix_length + 6
            )
        );
        assert_eq!(
            parse_error("CreatedTimestamp Lt NULL"),
            "Lt cannot compare with NULL at position 20"
        );
    }

    #[test]
    fn seventy_five_expressions_are_accepted_and_the_seventy_sixth_rejected() {
        let comparison = "GivenName Eq 'x'";
        let mut seventy_five = vec![comparison; 74];
        seventy_five.push("GivenName Eq 'Homer'");
        let accepted = seventy_five.join(" Or ");
        assert_eq!(parse_ok(&accepted).expression_count(), 75);
        assert_eq!(ids(&accepted), ["3"]);
        let rejected = format!("{accepted} And {comparison}");
        let position = accepted.chars().count() + 5;
        assert_eq!(
            parse_error(&rejected),
            format!("more than 75 expressions in one filter at position {position}")
        );
        // Parenthesised expressions count the same.
        let grouped = format!("({}) Or {comparison}", vec![comparison; 75].join(" And "));
        assert!(parse_error(&grouped).starts_with("more than 75 expressions"));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            ids("GivenName eq 'Neddy' oR GivenName EQ 'Maude'"),
            ["1", "2"]
        );
        assert_eq!(
            ids("nOt GivenName eQ 'Neddy' AND VowEnabled ne NULL"),
            ["2"]
        );
        assert_eq!(ids(&format!("{COUNT} bT 1,5")), ["1"]);
        assert_eq!(ids(&format!("{COUNT} gE 12 or {COUNT} LE 0")), ["2", "3"]);
        assert_eq!(ids("PrimaryEmail eq null"), ["3"]);
        assert_eq!(ids("VowEnabled Eq tRuE"), ["1"]);
    }

    #[test]
    fn field_names_are_case_sensitive_and_must_be_searchable() {
        assert_eq!(
            parse_error("givenname Eq 'Neddy'"),
            "unknown field 'givenname' (not a searchable attribute) at position 0"
        );
        assert_eq!(
            parse_error("GivenName Eq 'Neddy' Or Note Eq 'x'"),
            "unknown field 'Note' (not a searchable attribute) at position 24"
        );
        assert_eq!(
            parse_error("And Eq 'x'"),
            "expected a field name, found 'And' at position 0"
        );
    }

    #[test]
    fn null_matches_missing_null_and_empty_values() {
        assert_eq!(ids("PrimaryEmail Eq NULL"), ["3"]);
        assert_eq!(ids("GivenName Eq NULL"), ["4"]);
        assert_eq!(ids("GivenName Ne NULL"), ["1", "2", "3"]);
        assert_eq!(ids("CreatedTimestamp Eq NULL"), ["4"]);
        assert_eq!(ids("PrimaryEmail Ne NULL"), ["1", "2", "4"]);
        // A NULL value never satisfies a non-NULL comparison.
        assert_eq!(ids("CreatedTimestamp Lt 2100-01-01"), ["1", "2", "3"]);
    }

    #[test]
    fn dates_compare_by_day_and_datetimes_by_instant() {
        assert_eq!(ids("CreatedTimestamp Eq 2024-01-15"), ["1"]);
        assert_eq!(ids("CreatedTimestamp Ne 2024-01-15"), ["2", "3", "4"]);
        assert_eq!(ids("CreatedTimestamp Gt 2024-01-15"), ["2"]);
        assert_eq!(ids("CreatedTimestamp Ge 2024-01-15"), ["1", "2"]);
        assert_eq!(ids("CreatedTimestamp Lt 2024-01-15"), ["3"]);
        assert_eq!(ids("CreatedTimestamp Le 2024-01-15"), ["1", "3"]);
        assert_eq!(ids("CreatedTimestamp Eq 2024-01-15T10:30:00Z"), ["1"]);
        assert_eq!(
            ids("CreatedTimestamp Eq 2024-01-15T10:30:01Z"),
            Vec::<String>::new()
        );
        assert_eq!(ids("CreatedTimestamp Gt 2024-01-15T10:30:00Z"), ["2"]);
        assert_eq!(ids("CreatedTimestamp Ge 2024-01-15T10:30:00Z"), ["1", "2"]);
        assert_eq!(ids("CreatedTimestamp Lt 2024-01-15T10:30:00Z"), ["3"]);
        assert_eq!(ids("CreatedTimestamp Le 2024-01-15T10:30:00Z"), ["1", "3"]);
    }

    #[test]
    fn datetime_literals_take_fractions_and_offsets() {
        assert_eq!(ids("CreatedTimestamp Eq 2024-01-15T10:30:00"), ["1"]);
        assert_eq!(ids("CreatedTimestamp Eq 2024-01-15T10:30:00.000Z"), ["1"]);
        assert_eq!(ids("CreatedTimestamp Eq 2024-01-15T11:30:00+01:00"), ["1"]);
        assert_eq!(ids("CreatedTimestamp Eq 2024-01-15T05:30:00-0500"), ["1"]);
        assert_eq!(
            ids("CreatedTimestamp Gt 2024-01-15T10:30:00.000000001Z"),
            ["2"]
        );
        // A record timestamp with an offset compares by its instant and its UTC day.
        let late_evening = json!({"CreatedTimestamp": "2024-01-15T23:30:00-02:00"});
        assert!(matches_one(
            "CreatedTimestamp Eq 2024-01-16",
            late_evening.clone()
        ));
        assert!(matches_one(
            "CreatedTimestamp Eq 2024-01-16T01:30:00Z",
            late_evening
        ));
        // A record date without time counts as its midnight.
        let bare_date = json!({"CreatedTimestamp": "2024-01-15"});
        assert!(matches_one(
            "CreatedTimestamp Eq 2024-01-15",
            bare_date.clone()
        ));
        assert!(matches_one(
            "CreatedTimestamp Eq 2024-01-15T00:00:00Z",
            bare_date
        ));
    }

    #[test]
    fn malformed_dates_and_datetimes_are_errors() {
        let prefix = "CreatedTimestamp Eq ";
        let cases = [
            ("2024-02-30", "invalid date"),
            ("2024-01-155", "malformed date"),
            (
                "2024-01-15T10:30",
                "malformed datetime (expected YYYY-MM-DDTHH:MM:SS)",
            ),
            ("2024-01-15T25:00:00Z", "invalid time of day"),
            ("2024-01-15T10:30:00+24:00", "invalid datetime offset"),
            (
                "2024-01-15T10:30:00+1",
                "malformed datetime offset (expected +HH:MM)",
            ),
            (
                "2024-01-15T10:30:00.Z",
                "malformed datetime (empty fraction)",
            ),
            (
                "2024-01-15T10:30:00.1234567890Z",
                "malformed datetime (at most nine fraction digits)",
            ),
            ("2024-01-15T10:30:00Zulu", "malformed datetime"),
        ];
        for (literal, message) in cases {
            assert_eq!(
                parse_error(&format!("{prefix}{literal}")),
                format!("{message} at position 20"),
                "for {literal}"
            );
        }
    }

    #[test]
    fn record_timestamps_that_cannot_be_read_match_only_ne() {
        let unreadable = json!({"CreatedTimestamp": "last tuesday"});
        assert!(!matches_one(
            "CreatedTimestamp Eq 2024-01-15",
            unreadable.clone()
        ));
        assert!(!matches_one(
            "CreatedTimestamp Lt 2999-01-01",
            unreadable.clone()
        ));
        assert!(matches_one(
            "CreatedTimestamp Ne 2024-01-15",
            unreadable.clone()
        ));
        assert!(!matches_one("CreatedTimestamp Eq NULL", unreadable));
    }

    #[test]
    fn syntax_errors_name_what_was_found_and_where() {
        assert_eq!(
            parse_error("GivenName Eq 'Neddy' 'x'"),
            "expected And, Or or the end of the filter, found a text value at position 21"
        );
        assert_eq!(
            parse_error("GivenName Eq 'Neddy' Xor Id Eq '1'"),
            "expected And, Or or the end of the filter, found 'Xor' at position 21"
        );
        assert_eq!(
            parse_error("GivenName Eq 'Neddy' And"),
            "expected a field name or '(', found the end of the filter at position 24"
        );
        assert_eq!(
            parse_error("GivenName Eq"),
            "expected a value, found the end of the filter at position 12"
        );
        assert_eq!(
            parse_error("GivenName 'x'"),
            "expected an operator (Eq, Ne, Gt, Ge, Lt, Le, Bt) after GivenName, found a text value at position 10"
        );
        assert_eq!(
            parse_error("GivenName Eq Neddy"),
            "expected a value, found 'Neddy' (text values must be single-quoted) at position 13"
        );
        assert_eq!(
            parse_error("GivenName Eq 'a',"),
            "expected a value, found the end of the filter at position 17"
        );
        assert_eq!(
            parse_error("GivenName Eq \"Neddy\""),
            "unexpected character '\"' at position 13"
        );
        assert_eq!(
            parse_error("Not"),
            "expected a field name or '(', found the end of the filter at position 3"
        );
    }

    #[test]
    fn empty_and_whitespace_only_filters_are_errors() {
        assert_eq!(parse_error(""), "the filter is empty at position 0");
        assert_eq!(parse_error(" \t\n "), "the filter is empty at position 0");
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        assert_eq!(
            parse_error("GivenName Eq 'é' §"),
            "unexpected character '§' at position 17"
        );
        assert_eq!(
            parse_error("GivenName Eq 'ééé' Or é"),
            "unexpected character 'é' at position 22"
        );
    }

    #[test]
    fn unicode_text_matches_case_insensitively() {
        let zoe = json!({"DisplayName": "Zoë Ångström"});
        assert!(matches_one("DisplayName Eq 'ZOË*'", zoe.clone()));
        assert!(matches_one("DisplayName Eq 'ång*'", zoe.clone()));
        assert!(matches_one("DisplayName Eq 'zoë ångström'", zoe));
    }

    #[test]
    fn pathological_inputs_neither_overflow_the_stack_nor_panic() {
        let many_nots = format!("{}GivenName Eq 'Neddy'", "Not ".repeat(100_000));
        assert_eq!(ids(&many_nots), ["1"]);
        assert_eq!(
            parse_error(&"(".repeat(100_000)),
            "parentheses nested deeper than 2 levels at position 2"
        );
        let many_ors = "GivenName Eq 'x' Or ".repeat(100_000);
        assert!(parse_error(&many_ors).starts_with("more than 75 expressions"));
        let long_word = "A".repeat(100_000);
        assert_eq!(
            parse_error(&long_word),
            format!(
                "unknown field '{}…' (not a searchable attribute) at position 0",
                "A".repeat(40)
            )
        );
        let long_text = format!("GivenName Eq '{}", "x".repeat(1_000_000));
        assert_eq!(
            parse_error(&long_text),
            "unterminated text value at position 13"
        );
        let long_list = format!("Id Eq {}", "'1',".repeat(100_000));
        assert!(parse_error(&long_list).starts_with("more than 200 values"));
        let long_number = format!("Id Eq {}", "9".repeat(100_000));
        assert_eq!(
            parse_error(&long_number),
            "number out of range at position 6"
        );
    }

    #[test]
    fn id_lists_batch_several_contacts_in_one_filter() {
        assert_eq!(ids("Id Eq '1','2','4'"), ["1", "2", "4"]);
        assert_eq!(parse_ok("Id Eq '1','2','4'").expression_count(), 1);
    }

    #[test]
    fn filter_error_displays_its_message() {
        let error = parse("Foo Eq 'x'", &field_type).err();
        assert_eq!(
            error.map(|error| error.to_string()),
            Some("unknown field 'Foo' (not a searchable attribute) at position 0".to_string())
        );
    }

    // -----------------------------------------------------------------------
    // Property tests.
    // -----------------------------------------------------------------------

    /// Fragments a filter is made of, plus ones that break it, for token soup.
    const FRAGMENTS: &[&str] = &[
        "DisplayName",
        "GivenName",
        "PrimaryEmail",
        "Tags",
        "CreatedTimestamp",
        "VowEnabled",
        COUNT,
        "Id",
        "Unknown",
        "Eq",
        "ne",
        "GT",
        "Ge",
        "Lt",
        "le",
        "Bt",
        "And",
        "or",
        "NOT",
        "true",
        "False",
        "NULL",
        "(",
        ")",
        ",",
        "'",
        "'Neddy*'",
        "'a\\'b'",
        "'\\\\'",
        "\\",
        "*",
        "'***'",
        "'****'",
        "2024-01-15",
        "2024-01-15T10:30:00Z",
        "2024-13-01",
        "-5",
        "3.25",
        "99999999999999999999",
        "é",
        "\u{0}",
        "\"",
        " ",
        "\t",
        "-",
        ".",
        "T",
        "Z",
        "+01:00",
    ];

    /// Writes a keyword in one of four letter cases.
    fn cased(keyword: &str, variant: usize) -> String {
        match variant % 4 {
            0 => keyword.to_string(),
            1 => keyword.to_uppercase(),
            2 => keyword.to_lowercase(),
            _ => keyword
                .chars()
                .enumerate()
                .map(|(index, c)| {
                    if index % 2 == 0 {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect(),
        }
    }

    /// A well-formed filter as a tree, rendered to text and evaluated by
    /// [`Generated::oracle`] from its leaves, to check the parser's structure.
    #[derive(Debug, Clone)]
    enum Generated {
        Comparison(String),
        Not {
            count: usize,
            case: usize,
            operand: Box<Generated>,
        },
        And {
            case: usize,
            binary_not: bool,
            operands: Vec<Generated>,
        },
        Or {
            case: usize,
            operands: Vec<Generated>,
        },
        Group(Box<Generated>),
    }

    impl Generated {
        fn render(&self) -> String {
            match self {
                Generated::Comparison(text) => text.clone(),
                Generated::Not {
                    count,
                    case,
                    operand,
                } => format!(
                    "{}{}",
                    format!("{} ", cased("Not", *case)).repeat(*count),
                    operand.render()
                ),
                Generated::And {
                    case,
                    binary_not,
                    operands,
                } => {
                    let mut text = String::new();
                    for (index, operand) in operands.iter().enumerate() {
                        let negated = matches!(operand, Generated::Not { count, .. } if *count > 0);
                        if index > 0 {
                            if *binary_not && negated {
                                text.push(' ');
                            } else {
                                text.push_str(&format!(" {} ", cased("And", *case)));
                            }
                        }
                        text.push_str(&operand.render());
                    }
                    text
                }
                Generated::Or { case, operands } => operands
                    .iter()
                    .map(Generated::render)
                    .collect::<Vec<_>>()
                    .join(&format!(" {} ", cased("Or", *case))),
                Generated::Group(inner) => format!("({})", inner.render()),
            }
        }

        fn comparison_count(&self) -> usize {
            match self {
                Generated::Comparison(_) => 1,
                Generated::Not { operand, .. } => operand.comparison_count(),
                Generated::And { operands, .. } | Generated::Or { operands, .. } => {
                    operands.iter().map(Generated::comparison_count).sum()
                }
                Generated::Group(inner) => inner.comparison_count(),
            }
        }

        /// The expected result, from each comparison parsed on its own and the
        /// boolean structure the tree spells out.
        fn oracle(&self, record: &Map<String, Value>) -> bool {
            match self {
                Generated::Comparison(text) => parse_ok(text).matches(record),
                Generated::Not { count, operand, .. } => operand.oracle(record) != (count % 2 == 1),
                Generated::And { operands, .. } => {
                    operands.iter().all(|operand| operand.oracle(record))
                }
                Generated::Or { operands, .. } => {
                    operands.iter().any(|operand| operand.oracle(record))
                }
                Generated::Group(inner) => inner.oracle(record),
            }
        }
    }

    fn text_value() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "'Neddy'",
            "'neder*'",
            "'*a*'",
            "'Maude Flanders'",
            "'Conan O\\'Brien'",
            "''",
            "'1'",
            "'*'",
            "'VIP'",
            "'b*r'",
            "'Zoë*'",
            "'back\\\\slash'",
        ])
        .prop_map(str::to_string)
    }

    fn date_value() -> impl Strategy<Value = String> {
        prop_oneof![
            (2023i32..2025, 1u32..13, 1u32..29)
                .prop_map(|(year, month, day)| format!("{year:04}-{month:02}-{day:02}")),
            (
                2023i32..2025,
                1u32..13,
                1u32..29,
                0u32..24,
                0u32..60,
                prop::sample::select(vec!["Z", "", "+01:00", "-0500", ".5Z"])
            )
                .prop_map(|(year, month, day, hour, minute, zone)| {
                    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:00{zone}")
                }),
        ]
    }

    fn comparison() -> impl Strategy<Value = String> {
        let operator = |operators: Vec<&'static str>| {
            (prop::sample::select(operators), 0usize..4)
                .prop_map(|(operator, case)| cased(operator, case))
        };
        let text = (
            prop::sample::select(vec![
                "DisplayName",
                "GivenName",
                "PrimaryEmail",
                "Id",
                "Tags",
            ]),
            operator(vec!["Eq", "Ne"]),
            prop::collection::vec(text_value(), 1..4),
        )
            .prop_map(|(field, operator, values)| {
                format!("{field} {operator} {}", values.join(","))
            });
        let timestamp_field =
            || prop::sample::select(vec!["CreatedTimestamp", "ModificationTimestamp"]);
        let timestamp = (
            timestamp_field(),
            operator(vec!["Eq", "Ne", "Gt", "Ge", "Lt", "Le"]),
            date_value(),
        )
            .prop_map(|(field, operator, value)| format!("{field} {operator} {value}"));
        let timestamp_range =
            (timestamp_field(), date_value(), date_value()).prop_map(|(field, first, second)| {
                // Date text sorts like the day it names, so ordering by the
                // first ten characters keeps the bounds in order.
                let (low, high) = if first[..10] <= second[..10] {
                    (first, second)
                } else {
                    (second, first)
                };
                let low = low[..10].to_string();
                format!("{field} Bt {low},{high}")
            });
        let integer = (
            operator(vec!["Eq", "Ne", "Gt", "Ge", "Lt", "Le"]),
            prop::collection::vec(-5i64..20, 1..4),
        )
            .prop_map(|(operator, numbers)| {
                let numbers: Vec<String> =
                    if operator.eq_ignore_ascii_case("eq") || operator.eq_ignore_ascii_case("ne") {
                        numbers.iter().map(i64::to_string).collect()
                    } else {
                        numbers.iter().take(1).map(i64::to_string).collect()
                    };
                format!("{COUNT} {operator} {}", numbers.join(","))
            });
        let integer_range =
            (-5i64..20, 0i64..10, any::<bool>()).prop_map(|(low, width, decimal)| {
                if decimal {
                    let low = low as f64 + 0.5;
                    format!("{COUNT} Bt {low:.2},{:.2}", low + width as f64 + 0.25)
                } else {
                    format!("{COUNT} Bt {low},{}", low + width)
                }
            });
        let boolean = (
            operator(vec!["Eq", "Ne"]),
            prop::sample::select(vec!["true", "false", "TRUE", "False"]),
        )
            .prop_map(|(operator, value)| format!("VowEnabled {operator} {value}"));
        let null = (
            prop::sample::select(vec![
                "DisplayName",
                "GivenName",
                "PrimaryEmail",
                "Tags",
                "CreatedTimestamp",
                "VowEnabled",
                COUNT,
            ]),
            operator(vec!["Eq", "Ne"]),
            prop::sample::select(vec!["NULL", "null", "Null"]),
        )
            .prop_map(|(field, operator, null)| format!("{field} {operator} {null}"));
        prop_oneof![
            text,
            timestamp,
            timestamp_range,
            integer,
            integer_range,
            boolean,
            null
        ]
    }

    /// An `Or` of `And`s of optionally negated atoms.
    fn layer(atom: BoxedStrategy<Generated>) -> BoxedStrategy<Generated> {
        let negated = (0usize..3, 0usize..4, atom).prop_map(|(count, case, operand)| {
            if count == 0 {
                operand
            } else {
                Generated::Not {
                    count,
                    case,
                    operand: Box::new(operand),
                }
            }
        });
        let conjunction = (
            0usize..4,
            any::<bool>(),
            prop::collection::vec(negated, 1..3),
        )
            .prop_map(|(case, binary_not, operands)| Generated::And {
                case,
                binary_not,
                operands,
            });
        (0usize..4, prop::collection::vec(conjunction, 1..3))
            .prop_map(|(case, operands)| Generated::Or { case, operands })
            .boxed()
    }

    /// Filters with parentheses up to the nesting limit, at most 64 comparisons.
    fn valid_filter() -> impl Strategy<Value = Generated> {
        let leaf = comparison().prop_map(Generated::Comparison).boxed();
        let group = |inner: BoxedStrategy<Generated>| {
            layer(inner).prop_map(|inner| Generated::Group(Box::new(inner)))
        };
        let depth_one = prop_oneof![leaf.clone(), group(leaf.clone())].boxed();
        let depth_two = prop_oneof![leaf, group(depth_one)].boxed();
        layer(depth_two)
    }

    fn generated_record() -> impl Strategy<Value = Map<String, Value>> {
        let text = |choices: Vec<&'static str>| {
            prop::option::of(prop::sample::select(choices).prop_map(|text| {
                if text == "<null>" {
                    Value::Null
                } else {
                    Value::String(text.to_string())
                }
            }))
        };
        (
            text(vec![
                "Neddy Nederlander",
                "Maude Flanders",
                "Conan O'Brien",
                "Zoë Ångström",
                "",
                "<null>",
            ]),
            text(vec!["Neddy", "maude", "", "back\\slash", "<null>"]),
            text(vec!["neddy@example.com", "a@b.c", "", "<null>"]),
            text(vec!["1", "2", "3"]),
            prop::option::of(prop::collection::vec(
                prop::sample::select(vec!["Buyer", "VIP", "Seller", "vip"]),
                0..3,
            )),
            text(vec![
                "2024-01-15T10:30:00Z",
                "2023-06-01T00:00:00+02:00",
                "2024-12-31T23:59:59.999Z",
                "2024-03-03",
                "garbage",
                "",
                "<null>",
            ]),
            prop::option::of(any::<bool>()),
            prop::option::of(prop_oneof![
                (-10i64..30).prop_map(Value::from),
                (-10.0f64..30.0).prop_map(Value::from),
                Just(Value::String("7".to_string())),
                Just(Value::Null),
            ]),
        )
            .prop_map(
                |(display_name, given_name, email, id, tags, created, vow_enabled, count)| {
                    let mut record = Map::new();
                    let mut put = |key: &str, value: Option<Value>| {
                        if let Some(value) = value {
                            record.insert(key.to_string(), value);
                        }
                    };
                    put("DisplayName", display_name);
                    put("GivenName", given_name);
                    put("PrimaryEmail", email);
                    put("Id", id);
                    put("Tags", tags.map(|tags| json!(tags)));
                    put("CreatedTimestamp", created.clone());
                    put("ModificationTimestamp", created);
                    put("VowEnabled", vow_enabled.map(Value::Bool));
                    put(COUNT, count);
                    record
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_never_panics_on_arbitrary_strings(input in any::<String>()) {
            let _ = parse(&input, &field_type);
        }

        #[test]
        fn parse_never_panics_on_token_soup(
            pieces in prop::collection::vec(
                (prop::sample::select(FRAGMENTS.to_vec()), any::<bool>()),
                0..40,
            ),
            record in generated_record(),
        ) {
            let mut input = String::new();
            for (fragment, spaced) in pieces {
                input.push_str(fragment);
                if spaced {
                    input.push(' ');
                }
            }
            if let Ok(filter) = parse(&input, &field_type) {
                prop_assert!(filter.expression_count() <= MAX_EXPRESSIONS);
                let _ = filter.matches(&record);
            }
        }

        #[test]
        fn valid_filters_parse_and_evaluate_as_their_structure_says(
            generated in valid_filter(),
            records in prop::collection::vec(generated_record(), 1..6),
        ) {
            let text = generated.render();
            let filter = match parse(&text, &field_type) {
                Ok(filter) => filter,
                Err(error) => return Err(TestCaseError::fail(format!("{text:?}: {}", error.message))),
            };
            prop_assert_eq!(filter.expression_count(), generated.comparison_count());
            for record in &records {
                prop_assert_eq!(filter.matches(record), generated.oracle(record), "{} on {:?}", text, record);
            }
        }
    }
}
