//! The `_filter` language of the Spark API (SparkQL): parser and evaluator.
//!
//! The Spark emulator hands the raw `_filter` parameter to [`parse`], which
//! checks it against the grammar and the types of the searchable attributes,
//! and then asks [`Filter::matches`] about each contact in its wire form. A
//! rejected filter is a [`FilterError`], which the endpoint answers as Spark
//! code 1040. The grammar follows the public SparkQL reference parser
//! (`sparkapi/sparkql`) where it is known and the Spark contacts document
//! (seed 004) for the `DisplayName` wildcard rule.
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
//!   the name (seed 004: `'Neddy*'` and `'Neder*'` both find
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

/// The attribute whose wildcard patterns apply to each word (seed 004).
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
    let middle = &segments[1..segments.len().saturating_sub(1).max(1)];
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
        let fits = match (field_type, literal) {
            (_, Literal::Null) => true,
            (FieldType::Text | FieldType::TextList, Literal::Text(_)) => true,
            (FieldType::Timestamp, Literal::Date(_) | Literal::DateTime(_)) => true,
            (FieldType::Integer, Literal::Number(_)) => true,
            (FieldType::Boolean, Literal::Boolean(_)) => true,
            _ => false,
        };
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
