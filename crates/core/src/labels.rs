//! Label selectors with the semantics of `k8s.io/apimachinery/pkg/labels`.
//!
//! The string syntax (used by `?labelSelector=` and `kubectl -l`) is parsed by a lexer and a
//! recursive-descent parser that follow upstream's token rules, including its quirks:
//! `in`/`notin` are ordinary identifiers where a value is expected, `x in ()` means the
//! value set `{""}`, `a=` compares with the empty string, and requirements are sorted by key.
//! Error messages reproduce upstream's text so that the API server can return them verbatim
//! in a 400 `BadRequest`.
//!
//! ```text
//! <selector-syntax>         ::= <requirement> | <requirement> "," <selector-syntax>
//! <requirement>             ::= [!] KEY [ <set-based-restriction> | <exact-match-restriction> ]
//! <set-based-restriction>   ::= "" | <inclusion-exclusion> <value-set>
//! <inclusion-exclusion>     ::= "in" | "notin"
//! <value-set>               ::= "(" <values> ")"
//! <values>                  ::= VALUE | VALUE "," <values>
//! <exact-match-restriction> ::= ["=" | "==" | "!=" | ">" | "<"] VALUE
//! ```
//!
//! Validation helpers for keys and values live in [`crate::validation`]; the most used ones
//! are re-exported here.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub use crate::validation::{
    is_dns1123_label, is_dns1123_subdomain, validate_label_key, validate_label_value,
};

/// The error returned when a selector cannot be parsed or built; its message follows
/// upstream's wording (suitable for a 400 `BadRequest` Status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectorError {
    message: String,
}

impl SelectorError {
    fn new(message: impl Into<String>) -> Self {
        SelectorError {
            message: message.into(),
        }
    }

    /// The human-readable message (identical to the `Display` output).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The relation a [`Requirement`] expresses between a label and its values
/// (upstream's `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`: the label exists and equals the value.
    Equals,
    /// `key==value`: same meaning as [`Operator::Equals`], kept for round-tripping.
    DoubleEquals,
    /// `key!=value`: the label is absent or differs from the value.
    NotEquals,
    /// `key in (a,b)`: the label exists and equals one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or equals none of the values.
    NotIn,
    /// `key`: the label exists.
    Exists,
    /// `!key`: the label does not exist.
    DoesNotExist,
    /// `key>n`: the label exists, is an integer and is greater than `n`.
    GreaterThan,
    /// `key<n`: the label exists, is an integer and is less than `n`.
    LessThan,
}

impl Operator {
    /// Upstream's string value of the operator (`"="`, `"in"`, `"exists"`, `"!"`, `"gt"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition of a selector: a key, an operator and (depending on the operator) values.
///
/// Built by [`parse`], [`from_label_selector`] or [`Requirement::new`], which validate it
/// like upstream's `NewRequirement`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Validates and builds a requirement, like upstream's `labels.NewRequirement`:
    /// the key must be a qualified name; `in`/`notin` need at least one value; the equality
    /// operators exactly one; `exists`/`!` none; `gt`/`lt` exactly one integer; every value
    /// must be a valid label value. All problems are reported together, upstream-style
    /// (`[first, second]` when there are several).
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, SelectorError> {
        let key = key.into();
        let mut errs: Vec<String> = Vec::new();
        if let Err(msg) = validate_label_key(&key) {
            errs.push(field_invalid("key", &go_quote(&key), &msg));
        }
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(field_invalid(
                        "values",
                        &go_json_strings(&values),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(field_invalid(
                        "values",
                        &go_json_strings(&values),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(field_invalid(
                        "values",
                        &go_json_strings(&values),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(field_invalid(
                        "values",
                        &go_json_strings(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if parse_go_int64(v).is_none() {
                        errs.push(field_invalid(
                            &format!("values[{i}]"),
                            &go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            if let Err(msg) = validate_label_value(v) {
                errs.push(field_invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(v),
                    &msg,
                ));
            }
        }
        match aggregate(errs) {
            Some(message) => Err(SelectorError::new(message)),
            None => Ok(Requirement {
                key,
                operator,
                values,
            }),
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values (empty for `exists`/`!`); from the string parser they are sorted and unique.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// Whether the label set satisfies this requirement (upstream's `Requirement.Matches`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let current = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                current.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => current.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => current.is_some(),
            Operator::DoesNotExist => current.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(current) = current.and_then(|v| parse_go_int64(v)) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Some(wanted) = parse_go_int64(wanted) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    current > wanted
                } else {
                    current < wanted
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream's `Requirement.String()`: `!k`, `k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
    /// `k notin (a,b)`, `k>v`, `k<v`, with several values printed sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parens) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(op)?;
        if parens {
            f.write_str("(")?;
        }
        if self.values.len() == 1 {
            f.write_str(&self.values[0])?;
        } else {
            let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            f.write_str(&sorted.join(","))?;
        }
        if parens {
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// AND of the requirements, sorted by key; empty means "everything".
    Requirements(Vec<Requirement>),
    /// Upstream's `labels.Nothing()`: matches no label set.
    Nothing,
}

/// A parsed label selector: the AND of its [`Requirement`]s, or the special selector that
/// matches nothing (what a nil `metav1.LabelSelector` converts to).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    repr: Repr,
}

impl Default for Selector {
    fn default() -> Self {
        Selector::everything()
    }
}

impl Selector {
    /// A selector matching every label set (the empty selector string).
    pub fn everything() -> Selector {
        Selector {
            repr: Repr::Requirements(Vec::new()),
        }
    }

    /// A selector matching no label set (upstream's `labels.Nothing()`).
    pub fn nothing() -> Selector {
        Selector {
            repr: Repr::Nothing,
        }
    }

    /// Parses the string form; see [`parse`].
    pub fn parse(s: &str) -> Result<Selector, SelectorError> {
        parse(s)
    }

    /// A selector requiring `key=value` for every entry of the set, without validation
    /// (upstream's `SelectorFromValidatedSet`); an empty set gives [`Selector::everything`].
    pub fn from_set(set: &BTreeMap<String, String>) -> Selector {
        let requirements = set
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![v.clone()],
            })
            .collect();
        Selector {
            repr: Repr::Requirements(requirements),
        }
    }

    /// Like [`Selector::from_set`] but validating keys and values
    /// (upstream's `ValidatedSelectorFromSet`).
    pub fn from_set_validated(set: &BTreeMap<String, String>) -> Result<Selector, SelectorError> {
        let mut requirements = Vec::with_capacity(set.len());
        for (k, v) in set {
            requirements.push(Requirement::new(
                k.clone(),
                Operator::Equals,
                vec![v.clone()],
            )?);
        }
        Ok(Selector {
            repr: Repr::Requirements(requirements),
        })
    }

    /// Whether the label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match &self.repr {
            Repr::Nothing => false,
            Repr::Requirements(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// [`Selector::matches`] for an object's optional `metadata.labels` (absent = no labels).
    pub fn matches_optional(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match labels {
            Some(labels) => self.matches(labels),
            None => self.matches(&BTreeMap::new()),
        }
    }

    /// True when the selector does not restrict anything (upstream's `Empty()`);
    /// false for [`Selector::nothing`].
    pub fn is_empty(&self) -> bool {
        matches!(&self.repr, Repr::Requirements(reqs) if reqs.is_empty())
    }

    /// True for the selector that matches nothing.
    pub fn is_nothing(&self) -> bool {
        matches!(self.repr, Repr::Nothing)
    }

    /// The requirements, sorted by key; `None` for the selector that matches nothing
    /// (upstream returns `selectable == false` there).
    pub fn requirements(&self) -> Option<&[Requirement]> {
        match &self.repr {
            Repr::Requirements(reqs) => Some(reqs),
            Repr::Nothing => None,
        }
    }

    /// If the selector pins `label` to one value (`=`, `==`, or `in` with a single value),
    /// that value (upstream's `RequiresExactMatch`; only the first requirement on the key
    /// is looked at).
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let Repr::Requirements(reqs) = &self.repr else {
            return None;
        };
        let req = reqs.iter().find(|r| r.key == label)?;
        match (req.operator, req.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }

    /// Returns this selector with an extra requirement, keeping requirements sorted by key
    /// (upstream's `Add`). Adding to [`Selector::nothing`] leaves it unchanged.
    pub fn add_requirement(mut self, requirement: Requirement) -> Selector {
        if let Repr::Requirements(reqs) = &mut self.repr {
            reqs.push(requirement);
            reqs.sort_by(|a, b| a.key.cmp(&b.key));
        }
        self
    }
}

impl fmt::Display for Selector {
    /// Upstream's canonical `String()`: the requirements (sorted by key) joined with `,`;
    /// the empty string for both "everything" and "nothing".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Repr::Requirements(reqs) = &self.repr {
            for (i, r) in reqs.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{r}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Parses a label selector string such as `app=web,tier in (a,b),!canary` (upstream's
/// `labels.Parse`). The empty string (or only whitespace) selects everything.
pub fn parse(s: &str) -> Result<Selector, SelectorError> {
    let mut parser = Parser::new(s);
    let mut requirements = parser.parse()?;
    // Upstream sorts by key after parsing; a stable sort keeps same-key requirements in
    // input order, as Go's insertion sort does for the small inputs seen in practice.
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Selector {
        repr: Repr::Requirements(requirements),
    })
}

/// Converts an API `LabelSelector` (`matchLabels` + `matchExpressions`) like upstream's
/// `metav1.LabelSelectorAsSelector`: `None` (a nil selector) matches nothing, an empty
/// selector matches everything, otherwise every entry becomes a validated requirement.
pub fn from_label_selector(sel: Option<&LabelSelector>) -> Result<Selector, SelectorError> {
    let Some(sel) = sel else {
        return Ok(Selector::nothing());
    };
    let match_labels = sel.match_labels.as_ref();
    let match_expressions = sel.match_expressions.as_deref().unwrap_or_default();
    if match_labels.is_none_or(BTreeMap::is_empty) && match_expressions.is_empty() {
        return Ok(Selector::everything());
    }
    let mut requirements = Vec::new();
    for (k, v) in match_labels.into_iter().flatten() {
        requirements.push(Requirement::new(
            k.clone(),
            Operator::Equals,
            vec![v.clone()],
        )?);
    }
    for expr in match_expressions {
        let operator = match expr.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                return Err(SelectorError::new(format!(
                    "{} is not a valid label selector operator",
                    go_quote(other)
                )));
            }
        };
        requirements.push(Requirement::new(
            expr.key.clone(),
            operator,
            expr.values.clone().unwrap_or_default(),
        )?);
    }
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Selector {
        repr: Repr::Requirements(requirements),
    })
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(literal: &[u8]) -> Option<Token> {
    Some(match literal {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(ch: u8) -> bool {
    matches!(ch, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Byte-oriented lexer. Like upstream, a NUL byte reads as "end of input" at the point it is
/// met (it ends the current token, and ends the input when a token would start there).
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    fn lossy(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut end = start;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            end = self.pos;
        }
        let literal = &self.s[start..end];
        match keyword(literal) {
            Some(tok) => (tok, Self::lossy(literal)),
            None => (Token::Identifier, Self::lossy(literal)),
        }
    }

    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut buffer: Vec<u8> = Vec::new();
        let mut last: Option<(Token, usize)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if !is_special_symbol(ch) {
                self.unread();
                break;
            }
            buffer.push(ch);
            if let Some(tok) = keyword(&buffer) {
                last = Some((tok, buffer.len()));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        match last {
            Some((tok, len)) => (tok, Self::lossy(&buffer[..len])),
            None => (
                Token::Error,
                format!("error expected: keyword found '{}'", Self::lossy(&buffer)),
            ),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special_symbol(ch) {
            self.scan_special_symbol()
        } else {
            self.scan_id_or_keyword()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parser

/// Whether `in`/`notin` are keywords (after a key) or plain identifiers (everywhere else).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn new(s: &str) -> Parser {
        let mut lexer = Lexer {
            s: s.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            let done = item.0 == Token::EndOfString;
            items.push(item);
            if done {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn adjust(tok: Token, context: Context) -> Token {
        match (context, tok) {
            (Context::Values, Token::In | Token::NotIn) => Token::Identifier,
            _ => tok,
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        let idx = self.position.min(self.items.len() - 1);
        let (tok, lit) = &self.items[idx];
        (Self::adjust(*tok, context), lit.clone())
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| {
                        SelectorError::new(format!("unable to parse requirement: {e}"))
                    })?;
                    requirements.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(SelectorError::new(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::new(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(SelectorError::new(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (key, operator) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = operator {
            return Requirement::new(key, op, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(key, operator, values)
    }

    /// Reads `[!] KEY`; infers `exists` when the key is followed by `,` or the end.
    fn parse_key_and_infer_operator(
        &mut self,
    ) -> Result<(String, Option<Operator>), SelectorError> {
        let mut operator = None;
        let (mut tok, mut literal) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (tok, literal) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(SelectorError::new(format!(
                "found '{literal}', expected: identifier"
            )));
        }
        if let Err(msg) = validate_label_key(&literal) {
            // Upstream reports this with a nil field path, printed as "<nil>".
            return Err(SelectorError::new(field_invalid(
                "<nil>",
                &go_quote(&literal),
                &msg,
            )));
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma)
            && operator != Some(Operator::DoesNotExist)
        {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, SelectorError> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(SelectorError::new(format!(
                    "found '{lit}', expected: {BINARY_OPERATORS}"
                )));
            }
        })
    }

    /// Reads `( values )`; returns the sorted, de-duplicated set.
    fn parse_values(&mut self) -> Result<Vec<String>, SelectorError> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(SelectorError::new(format!("found '{lit}' expected: '('")));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let set = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    return Err(SelectorError::new(format!("found '{lit}', expected: ')'")));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(SelectorError::new(format!(
                "found '{lit}', expected: ',', ')' or identifier"
            ))),
        }
    }

    /// Reads a comma-separated list of possibly empty identifiers, up to (not including)
    /// the closing parenthesis.
    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, SelectorError> {
        let mut set: Vec<String> = Vec::new();
        let insert = |set: &mut Vec<String>, v: String| {
            if let Err(pos) = set.binary_search(&v) {
                set.insert(pos, v);
            }
        };
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    insert(&mut set, lit);
                    let (tok2, lit2) = self.lookahead(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set),
                        _ => {
                            return Err(SelectorError::new(format!(
                                "found '{lit2}', expected: ',' or ')'"
                            )));
                        }
                    }
                }
                Token::Comma => {
                    // "(," and ",," and ",)" all denote the empty value.
                    if set.is_empty() {
                        insert(&mut set, String::new());
                    }
                    let (tok2, _) = self.lookahead(Context::Values);
                    if tok2 == Token::ClosedPar {
                        insert(&mut set, String::new());
                        return Ok(set);
                    }
                    if tok2 == Token::Comma {
                        self.consume(Context::Values);
                        insert(&mut set, String::new());
                    }
                }
                _ => {
                    return Err(SelectorError::new(format!(
                        "found '{lit}', expected: ',', or identifier"
                    )));
                }
            }
        }
    }

    /// Reads the single value after `=`, `==`, `!=`, `>` or `<` (possibly empty).
    fn parse_exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
        let (tok, _) = self.lookahead(Context::Values);
        if matches!(tok, Token::EndOfString | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            return Ok(vec![lit]);
        }
        Err(SelectorError::new(format!(
            "found '{lit}', expected: identifier"
        )))
    }
}

// ---------------------------------------------------------------------------------------
// Go formatting helpers, so that messages read exactly like upstream's.

/// `field.Invalid(path, value, detail).Error()`.
fn field_invalid(field: &str, rendered_value: &str, detail: &str) -> String {
    format!("{field}: Invalid value: {rendered_value}: {detail}")
}

/// `utilerrors.NewAggregate(errs).Error()`: one message as is, several de-duplicated and
/// wrapped as `[a, b]`.
fn aggregate(errs: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::new();
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
fn parse_go_int64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Go's `strconv.Quote` (what `%q` prints), used wherever upstream messages quote a value.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c == ' ' || !(c.is_control() || c.is_whitespace() || is_format_char(c)) => {
                out.push(c)
            }
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A few invisible formatting characters Go's `IsPrint` rejects.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

/// `encoding/json` rendering of a `[]string` (a nil/empty slice from `LabelSelector` values
/// renders as `null`, as upstream passes a nil slice there).
fn go_json_strings(values: &[String]) -> String {
    if values.is_empty() {
        return "null".to_string();
    }
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in v.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    /// (input, canonical string form) for selectors that must parse.
    const VALID: &[(&str, &str)] = &[
        ("", ""),
        ("   ", ""),
        ("x=a", "x=a"),
        ("x==a", "x==a"),
        ("x!=a", "x!=a"),
        ("x=", "x="),
        ("x= ", "x="),
        ("x=,z= ", "x=,z="),
        ("x>1", "x>1"),
        ("x<1", "x<1"),
        ("x", "x"),
        ("!x", "!x"),
        (" ! x ", "!x"),
        ("x in (a)", "x in (a)"),
        ("x in (b,a)", "x in (a,b)"),
        ("x notin (a,b)", "x notin (a,b)"),
        ("x in ()", "x in ()"),
        ("x in (,)", "x in ()"),
        ("x in (a,)", "x in (,a)"),
        ("x in (,a)", "x in (,a)"),
        ("x in (a,,b)", "x in (,a,b)"),
        ("x in (a,a)", "x in (a)"),
        ("x in(a)", "x in (a)"),
        ("x in (in,notin)", "x in (in,notin)"),
        ("in in (in)", "in in (in)"),
        ("notin notin (notin)", "notin notin (notin)"),
        ("x=in", "x=in"),
        ("x=notin", "x=notin"),
        ("z,y,x", "x,y,z"),
        ("b=1,a=2", "a=2,b=1"),
        ("x=a,y!=b", "x=a,y!=b"),
        ("  x  =  a  ,  y  !=  b  ", "x=a,y!=b"),
        ("x\t=\ta\n,\ry", "x=a,y"),
        (
            "x in (foo,,baz),y,z notin ()",
            "x in (,baz,foo),y,z notin ()",
        ),
        ("k8s.io/app=web", "k8s.io/app=web"),
        (
            "app.kubernetes.io/name in (web, db)",
            "app.kubernetes.io/name in (db,web)",
        ),
        ("x=a,x=b", "x=a,x=b"),
        ("x=A_b.c-9", "x=A_b.c-9"),
    ];

    #[test]
    fn parse_valid_table() {
        for (input, canonical) in VALID {
            let sel = parse(input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"));
            assert_eq!(sel.to_string(), *canonical, "input {input:?}");
            // The canonical form parses back to an identical selector.
            let again = parse(canonical).unwrap();
            assert_eq!(again.to_string(), *canonical, "reparse of {canonical:?}");
        }
    }

    /// (input, exact upstream error message).
    fn invalid_cases() -> Vec<(String, String)> {
        let v = |s: &str| s.to_string();
        let long_key = "a".repeat(64);
        let long_value = "v".repeat(64);
        vec![
            (v("x=a,"), v("found '', expected: identifier after ','")),
            (
                v(","),
                v("found ',', expected: !, identifier, or 'end of string'"),
            ),
            (
                v("=a"),
                v("found '=', expected: !, identifier, or 'end of string'"),
            ),
            (
                v("(x)"),
                v("found '(', expected: !, identifier, or 'end of string'"),
            ),
            (
                v("x=a,,y=b"),
                v("found ',', expected: identifier after ','"),
            ),
            (
                v("x=a y=b"),
                v("found 'y', expected: ',' or 'end of string'"),
            ),
            (v("x=a)"), v("found ')', expected: ',' or 'end of string'")),
            (v("!x=a"), v("found '=', expected: ',' or 'end of string'")),
            (
                v("!x in (a)"),
                v("found 'in', expected: ',' or 'end of string'"),
            ),
            (
                v("x y"),
                v("unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
            ),
            (
                v("x ("),
                v("unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
            ),
            (
                v("x=>a"),
                v("unable to parse requirement: found '>', expected: identifier"),
            ),
            (
                v("x=(a)"),
                v("unable to parse requirement: found '(', expected: identifier"),
            ),
            (
                v("x=!a"),
                v("unable to parse requirement: found '!', expected: identifier"),
            ),
            (
                v("x===a"),
                v("unable to parse requirement: found '=', expected: identifier"),
            ),
            (
                v("!"),
                v("unable to parse requirement: found '', expected: identifier"),
            ),
            (
                v("!!x"),
                v("unable to parse requirement: found '!', expected: identifier"),
            ),
            (
                v("!=a"),
                v("found '!=', expected: !, identifier, or 'end of string'"),
            ),
            (
                v("x in a"),
                v("unable to parse requirement: found 'a' expected: '('"),
            ),
            (
                v("x in"),
                v("unable to parse requirement: found '' expected: '('"),
            ),
            (
                v("x in (a"),
                v("unable to parse requirement: found '', expected: ',' or ')'"),
            ),
            (
                v("x in (a b)"),
                v("unable to parse requirement: found 'b', expected: ',' or ')'"),
            ),
            (
                v("x in (a,="),
                v("unable to parse requirement: found '=', expected: ',', or identifier"),
            ),
            (
                v("x in (,"),
                v("unable to parse requirement: found '', expected: ',', or identifier"),
            ),
            (
                v("x in (="),
                v("unable to parse requirement: found '=', expected: ',', ')' or identifier"),
            ),
            (
                v("x in ("),
                v("unable to parse requirement: found '', expected: ',', ')' or identifier"),
            ),
            (
                v("x_=a"),
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"x_\": {NAME_PART_MSG}"
                ),
            ),
            (
                v("x/y/z"),
                v(
                    "unable to parse requirement: <nil>: Invalid value: \"x/y/z\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                ),
            ),
            (
                v("/x"),
                v(
                    "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty",
                ),
            ),
            (
                format!("{long_key}=a"),
                format!(
                    "unable to parse requirement: <nil>: Invalid value: \"{long_key}\": name part must be no more than 63 characters"
                ),
            ),
            (v("x=a b"), v("found 'b', expected: ',' or 'end of string'")),
            (
                v("x=a_"),
                format!(
                    "unable to parse requirement: values[0][x]: Invalid value: \"a_\": {VALUE_MSG}"
                ),
            ),
            (
                v("x in (a,b_)"),
                format!(
                    "unable to parse requirement: values[1][x]: Invalid value: \"b_\": {VALUE_MSG}"
                ),
            ),
            (
                format!("x={long_value}"),
                format!(
                    "unable to parse requirement: values[0][x]: Invalid value: \"{long_value}\": must be no more than 63 characters"
                ),
            ),
            (
                v("x>a"),
                v(
                    "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
                ),
            ),
            (
                v("x<"),
                v(
                    "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer",
                ),
            ),
            (
                v("x>1.5"),
                v(
                    "unable to parse requirement: values[0]: Invalid value: \"1.5\": for 'Gt', 'Lt' operators, the value must be an integer",
                ),
            ),
            (
                v("x>-a"),
                format!(
                    "unable to parse requirement: [values[0]: Invalid value: \"-a\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"-a\": {VALUE_MSG}]"
                ),
            ),
            (
                v("x=a||y=b"),
                format!(
                    "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": {VALUE_MSG}"
                ),
            ),
            (
                v("x>-1"),
                format!(
                    "unable to parse requirement: values[0][x]: Invalid value: \"-1\": {VALUE_MSG}"
                ),
            ),
            (
                v("x<+1"),
                format!(
                    "unable to parse requirement: values[0][x]: Invalid value: \"+1\": {VALUE_MSG}"
                ),
            ),
            (
                v("x>99999999999999999999"),
                v(
                    "unable to parse requirement: values[0]: Invalid value: \"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer",
                ),
            ),
            (
                v("x=\"a\""),
                format!(
                    "unable to parse requirement: values[0][x]: Invalid value: \"\\\"a\\\"\": {VALUE_MSG}"
                ),
            ),
        ]
    }

    #[test]
    fn parse_invalid_table() {
        for (input, message) in invalid_cases() {
            match parse(&input) {
                Ok(sel) => panic!("{input:?} parsed as {sel}"),
                Err(e) => assert_eq!(e.message(), message, "input {input:?}"),
            }
        }
    }

    #[test]
    fn matches_table() {
        let set = labels(&[("app", "web"), ("tier", "frontend"), ("n", "10"), ("e", "")]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("app", true),
            ("!app", false),
            ("missing", false),
            ("!missing", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("missing=", false),
            ("e=", true),
            ("e", true),
            ("e!=", false),
            ("app in (web,db)", true),
            ("app in (db)", false),
            ("missing in (a)", false),
            ("app notin (db)", true),
            ("app notin (web)", false),
            ("missing notin (a)", true),
            ("e in ()", true),
            ("app in ()", false),
            ("n>9", true),
            ("n>10", false),
            ("n<11", true),
            ("n<10", false),
            ("app>1", false),
            ("missing<100", false),
            ("app=web,tier=frontend", true),
            ("app=web,tier=backend", false),
            ("app=web,!canary,tier in (frontend,backend)", true),
        ];
        for (input, expected) in cases {
            let sel = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.matches(&set), *expected, "selector {input:?}");
        }
        let empty = BTreeMap::new();
        assert!(parse("!a").unwrap().matches(&empty));
        assert!(parse("a notin (x)").unwrap().matches_optional(None));
        assert!(!parse("a").unwrap().matches_optional(None));
        assert!(
            parse("a")
                .unwrap()
                .matches_optional(Some(&labels(&[("a", "")])))
        );
    }

    #[test]
    fn everything_and_nothing() {
        let all = Selector::everything();
        assert!(all.is_empty());
        assert!(!all.is_nothing());
        assert!(all.matches(&BTreeMap::new()));
        assert_eq!(all.to_string(), "");
        assert_eq!(all, Selector::default());
        assert_eq!(all, parse("").unwrap());
        assert_eq!(all.requirements(), Some(&[][..]));

        let none = Selector::nothing();
        assert!(!none.is_empty());
        assert!(none.is_nothing());
        assert!(!none.matches(&BTreeMap::new()));
        assert!(!none.matches(&labels(&[("a", "b")])));
        assert_eq!(none.to_string(), "");
        assert_eq!(none.requirements(), None);
        let r = Requirement::new("a", Operator::Exists, vec![]).unwrap();
        assert!(none.add_requirement(r).is_nothing());
    }

    #[test]
    fn requirements_accessors_and_exact_match() {
        let sel: Selector = "b in (y,x),a=1,!c,d>3".parse().unwrap();
        let reqs = sel.requirements().unwrap();
        let keys: Vec<&str> = reqs.iter().map(Requirement::key).collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
        assert_eq!(reqs[0].operator(), Operator::Equals);
        assert_eq!(reqs[1].operator(), Operator::In);
        assert_eq!(reqs[1].values(), ["x", "y"]);
        assert_eq!(reqs[2].operator(), Operator::DoesNotExist);
        assert!(reqs[2].values().is_empty());
        assert_eq!(reqs[3].operator(), Operator::GreaterThan);
        assert_eq!(Operator::GreaterThan.as_str(), "gt");
        assert_eq!(Operator::DoesNotExist.to_string(), "!");

        assert_eq!(sel.requires_exact_match("a"), Some("1"));
        assert_eq!(sel.requires_exact_match("b"), None);
        assert_eq!(sel.requires_exact_match("c"), None);
        assert_eq!(sel.requires_exact_match("zzz"), None);
        let single_in = parse("a in (x)").unwrap();
        assert_eq!(single_in.requires_exact_match("a"), Some("x"));
        let dbl = parse("a==x").unwrap();
        assert_eq!(dbl.requires_exact_match("a"), Some("x"));
        // Only the first requirement on the key counts, as upstream.
        let two = parse("a!=x,a=y").unwrap();
        assert_eq!(two.requires_exact_match("a"), None);
    }

    #[test]
    fn add_keeps_key_order() {
        let sel = parse("b=1").unwrap();
        let sel = sel.add_requirement(Requirement::new("a", Operator::Exists, vec![]).unwrap());
        let sel =
            sel.add_requirement(Requirement::new("c", Operator::NotIn, vec!["z".into()]).unwrap());
        assert_eq!(sel.to_string(), "a,b=1,c notin (z)");
    }

    #[test]
    fn requirement_new_errors() {
        let err = |k: &str, op: Operator, vals: &[&str]| {
            Requirement::new(k, op, vals.iter().map(|s| s.to_string()).collect())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("a", Operator::In, &[]),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            err("a", Operator::Equals, &["x", "y"]),
            "values: Invalid value: [\"x\",\"y\"]: exact-match compatibility requires one single value"
        );
        assert_eq!(
            err("a", Operator::Exists, &["x"]),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
        );
        assert_eq!(
            err("a", Operator::LessThan, &["1", "2"]),
            "values: Invalid value: [\"1\",\"2\"]: for 'Gt', 'Lt' operators, exactly one value is required"
        );
        assert_eq!(
            err("a b", Operator::Exists, &[]),
            format!("key: Invalid value: \"a b\": {NAME_PART_MSG}")
        );
        assert_eq!(
            err("", Operator::Exists, &["<x>"]),
            format!(
                "[key: Invalid value: \"\": name part must be non-empty; {NAME_PART_MSG}, values: Invalid value: [\"\\u003cx\\u003e\"]: values set must be empty for exists and does not exist, values[0][]: Invalid value: \"<x>\": {VALUE_MSG}]"
            )
        );
        assert!(Requirement::new("a", Operator::In, vec!["".into()]).is_ok());
    }

    fn expr(key: &str, op: &str, values: Option<&[&str]>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: op.to_string(),
            values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn from_label_selector_cases() {
        // nil selects nothing, empty selects everything.
        assert!(from_label_selector(None).unwrap().is_nothing());
        let empty = LabelSelector::default();
        assert!(from_label_selector(Some(&empty)).unwrap().is_empty());
        let empty_maps = LabelSelector {
            match_labels: Some(BTreeMap::new()),
            match_expressions: Some(vec![]),
        };
        assert!(from_label_selector(Some(&empty_maps)).unwrap().is_empty());

        let sel = LabelSelector {
            match_labels: Some(labels(&[("tier", "web"), ("app", "shop")])),
            match_expressions: Some(vec![
                expr("env", "In", Some(&["prod", "staging"])),
                expr("canary", "DoesNotExist", None),
                expr("zone", "NotIn", Some(&["b"])),
                expr("owner", "Exists", Some(&[])),
            ]),
        };
        let s = from_label_selector(Some(&sel)).unwrap();
        assert_eq!(
            s.to_string(),
            "app=shop,!canary,env in (prod,staging),owner,tier=web,zone notin (b)"
        );
        let good = labels(&[
            ("app", "shop"),
            ("tier", "web"),
            ("env", "prod"),
            ("owner", "me"),
        ]);
        assert!(s.matches(&good));
        let mut bad = good.clone();
        bad.insert("canary".into(), "true".into());
        assert!(!s.matches(&bad));
        let mut bad = good.clone();
        bad.insert("zone".into(), "b".into());
        assert!(!s.matches(&bad));
        let mut bad = good;
        bad.remove("owner");
        assert!(!s.matches(&bad));
    }

    #[test]
    fn from_label_selector_errors() {
        let with = |e: LabelSelectorRequirement| LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![e]),
        };
        let err = |s: LabelSelector| from_label_selector(Some(&s)).unwrap_err().to_string();
        assert_eq!(
            err(with(expr("a", "Equals", Some(&["x"])))),
            "\"Equals\" is not a valid label selector operator"
        );
        assert_eq!(
            err(with(expr("a", "in", Some(&["x"])))),
            "\"in\" is not a valid label selector operator"
        );
        assert_eq!(
            err(with(expr("a", "In", None))),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            err(with(expr("a", "NotIn", Some(&[])))),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            err(with(expr("a", "Exists", Some(&["x"])))),
            "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
        );
        assert_eq!(
            err(with(expr("bad key", "Exists", None))),
            format!("key: Invalid value: \"bad key\": {NAME_PART_MSG}")
        );
        assert_eq!(
            err(with(expr("a", "In", Some(&["ok", "not ok"])))),
            format!("values[1][a]: Invalid value: \"not ok\": {VALUE_MSG}")
        );
        let bad_label = LabelSelector {
            match_labels: Some(labels(&[("app", "a b")])),
            match_expressions: None,
        };
        assert_eq!(
            err(bad_label),
            format!("values[0][app]: Invalid value: \"a b\": {VALUE_MSG}")
        );
    }

    #[test]
    fn from_set() {
        let set = labels(&[("b", "2"), ("a", "1")]);
        let s = Selector::from_set(&set);
        assert_eq!(s.to_string(), "a=1,b=2");
        assert!(s.matches(&set));
        assert!(Selector::from_set(&BTreeMap::new()).is_empty());
        assert!(Selector::from_set_validated(&labels(&[("a", "b c")])).is_err());
        assert_eq!(
            Selector::from_set_validated(&set).unwrap(),
            Selector::from_set(&set)
        );
    }

    #[test]
    fn lexer_edge_cases() {
        // NUL ends a token (like upstream's lexer which reads 0 as end of input)...
        assert_eq!(parse("a=b\0").unwrap().to_string(), "a=b");
        assert_eq!(
            parse("a\0b").unwrap_err().to_string(),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        // ...is swallowed after an operator...
        assert_eq!(parse("a=b,\0c").unwrap().to_string(), "a=b,c");
        // ...and ends the input where a token would start.
        assert_eq!(
            parse("a=b, \0c").unwrap_err().to_string(),
            "found '', expected: identifier after ','"
        );
        // Operators glue greedily: "!==" is "!=" followed by "=".
        assert_eq!(
            parse("a!==b").unwrap_err().to_string(),
            "unable to parse requirement: found '=', expected: identifier"
        );
        // ">=" is ">" then "=".
        assert_eq!(
            parse("a>=1").unwrap_err().to_string(),
            "unable to parse requirement: found '=', expected: identifier"
        );
        // Non-ASCII bytes belong to identifiers and are then rejected by validation.
        assert!(
            parse("ä=b")
                .unwrap_err()
                .to_string()
                .starts_with("unable to parse requirement: <nil>: Invalid value: \"ä\": ")
        );
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n\t\u{1}é"), "\"a\\\"b\\\\c\\n\\t\\x01é\"");
        assert_eq!(go_quote("\u{2028}"), "\"\\u2028\"");
    }
}
