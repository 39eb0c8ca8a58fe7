//! Field selectors with the semantics of `k8s.io/apimachinery/pkg/fields`.
//!
//! A field selector (`?fieldSelector=`) is a comma-separated list of terms `key=value`,
//! `key==value` or `key!=value`. Values may contain `\,`, `\=` and `\\` escapes; keys are
//! taken literally up to the first operator. Nothing is trimmed: `a = b` compares the field
//! `"a "` with `" b"` (the API server then rejects the unknown field label).
//!
//! Parsing only checks syntax. Which keys a resource supports is the API server's business:
//! it inspects [`FieldSelector::requirements`] and answers `400 field label not supported:
//! <key>` itself, and it supplies field values to [`FieldSelector::matches`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The error returned for a malformed field selector; the message is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldSelectorError {
    message: String,
}

impl FieldSelectorError {
    fn new(message: impl Into<String>) -> Self {
        FieldSelectorError {
            message: message.into(),
        }
    }

    /// The human-readable message (identical to the `Display` output).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The comparison of a field selector term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `key=value` or `key==value`: the field equals the value.
    Equals,
    /// `key!=value`: the field differs from the value.
    NotEquals,
}

impl FieldOperator {
    /// The operator as printed in the canonical string form (`=` or `!=`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        }
    }
}

impl fmt::Display for FieldOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One term of a field selector (upstream's `fields.Requirement`), with the value already
/// unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field label, e.g. `metadata.name` or `spec.nodeName`.
    pub key: String,
    /// The comparison.
    pub operator: FieldOperator,
    /// The value compared with (unescaped; may be empty).
    pub value: String,
}

impl FieldRequirement {
    /// Whether a field value satisfies the term.
    pub fn matches(&self, field_value: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => field_value == self.value,
            FieldOperator::NotEquals => field_value != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    /// `key=value` / `key!=value` with the value escaped again.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.key,
            self.operator,
            escape_value(&self.value)
        )
    }
}

/// A parsed field selector: the AND of its terms. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// A selector matching everything (the empty string).
    pub fn everything() -> FieldSelector {
        FieldSelector::default()
    }

    /// Parses the string form; see [`parse`].
    pub fn parse(s: &str) -> Result<FieldSelector, FieldSelectorError> {
        parse(s)
    }

    /// A selector with the single term `key=value` (upstream's `OneTermEqualSelector`).
    pub fn one_term_equal(key: impl Into<String>, value: impl Into<String>) -> FieldSelector {
        FieldSelector {
            terms: vec![FieldRequirement {
                key: key.into(),
                operator: FieldOperator::Equals,
                value: value.into(),
            }],
        }
    }

    /// A selector requiring `key=value` for each entry of the map (upstream's
    /// `SelectorFromSet`), in key order.
    pub fn from_set(set: &BTreeMap<String, String>) -> FieldSelector {
        FieldSelector {
            terms: set
                .iter()
                .map(|(k, v)| FieldRequirement {
                    key: k.clone(),
                    operator: FieldOperator::Equals,
                    value: v.clone(),
                })
                .collect(),
        }
    }

    /// True when there is no term, i.e. everything matches.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, in upstream's order (the raw terms sorted as strings).
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    /// Whether an object matches. `get` returns the value of a field label for the object;
    /// a field it does not know (`None`) compares as the empty string, like upstream's
    /// `fields.Set`.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let value = get(&t.key).unwrap_or_default();
            t.matches(&value)
        })
    }

    /// [`FieldSelector::matches`] against a precomputed field set.
    pub fn matches_set(&self, fields: &BTreeMap<String, String>) -> bool {
        self.terms.iter().all(|t| {
            let value = fields.get(&t.key).map(String::as_str).unwrap_or("");
            t.matches(value)
        })
    }

    /// If some `key=value` term constrains `key`, the value of the first such term
    /// (upstream's `RequiresExactMatch`; `!=` terms never count).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.key == key && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }

    /// `X` when the selector requires `metadata.name=X` (used to serve single-object
    /// watches and lists without scanning).
    pub fn single_name(&self) -> Option<&str> {
        self.requires_exact_match("metadata.name")
    }

    /// Rewrites every term through `f(key, value) -> (new_key, new_value)` (upstream's
    /// `Transform`, used to convert legacy field labels or reject unsupported ones).
    /// A term mapped to an empty key *and* an empty value is dropped, as upstream does.
    pub fn transform<E>(
        &self,
        mut f: impl FnMut(&str, &str) -> Result<(String, String), E>,
    ) -> Result<FieldSelector, E> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            let (key, value) = f(&t.key, &t.value)?;
            if key.is_empty() && value.is_empty() {
                continue;
            }
            terms.push(FieldRequirement {
                key,
                operator: t.operator,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }
}

impl fmt::Display for FieldSelector {
    /// Upstream's `String()`: the terms joined with `,`, values escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = FieldSelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Escapes `\`, `,` and `=` in a value so it can be embedded in a selector string
/// (upstream's `EscapeValue`).
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Undoes [`escape_value`] (upstream's `UnescapeValue`): `\\`, `\,` and `\=` are the only
/// escapes; any other escape, a trailing `\`, or a bare `,` / `=` is an error.
pub fn unescape_value(s: &str) -> Result<String, FieldSelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(FieldSelectorError::new(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Upstream formats the rune with %v, which prints its code point number.
            ',' | '=' => {
                return Err(FieldSelectorError::new(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(FieldSelectorError::new(
            "invalid field selector: invalid escape sequence: \\",
        ));
    }
    Ok(out)
}

/// Splits on commas not preceded by a backslash escape; escapes stay in the terms.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits a term at the first operator; at each position `!=` is tried before `==` and `=`.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

/// Parses a field selector string (upstream's `fields.ParseSelector`).
///
/// Empty terms are skipped, terms are sorted (as raw strings) like upstream, and a term
/// with both an empty key and an empty value (`=`) is dropped.
pub fn parse(selector: &str) -> Result<FieldSelector, FieldSelectorError> {
    let mut parts = split_terms(selector);
    parts.sort_unstable();
    let mut terms = Vec::with_capacity(parts.len());
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let Some((key, operator, raw_value)) = split_term(part) else {
            return Err(FieldSelectorError::new(format!(
                "invalid selector: '{selector}'; can't understand '{part}'"
            )));
        };
        let value = unescape_value(raw_value)?;
        if key.is_empty() && value.is_empty() {
            continue;
        }
        terms.push(FieldRequirement {
            key: key.to_string(),
            operator,
            value,
        });
    }
    Ok(FieldSelector { terms })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(sel: &FieldSelector) -> Vec<(String, &'static str, String)> {
        sel.requirements()
            .iter()
            .map(|r| (r.key.clone(), r.operator.as_str(), r.value.clone()))
            .collect()
    }

    fn owned(v: &[(&str, &'static str, &str)]) -> Vec<(String, &'static str, String)> {
        v.iter()
            .map(|(k, o, v)| (k.to_string(), *o, v.to_string()))
            .collect()
    }

    /// (input, expected terms, canonical string).
    #[allow(clippy::type_complexity)]
    const VALID: &[(&str, &[(&str, &str, &str)], &str)] = &[
        ("", &[], ""),
        (",", &[], ""),
        (",,", &[], ""),
        ("=", &[], ""),
        ("a=b", &[("a", "=", "b")], "a=b"),
        ("a==b", &[("a", "=", "b")], "a=b"),
        ("a!=b", &[("a", "!=", "b")], "a!=b"),
        ("a=", &[("a", "=", "")], "a="),
        ("a!=", &[("a", "!=", "")], "a!="),
        ("=b", &[("", "=", "b")], "=b"),
        (
            "metadata.name=foo,metadata.namespace=bar",
            &[
                ("metadata.name", "=", "foo"),
                ("metadata.namespace", "=", "bar"),
            ],
            "metadata.name=foo,metadata.namespace=bar",
        ),
        ("x=1,a=2", &[("a", "=", "2"), ("x", "=", "1")], "a=2,x=1"),
        ("a=b,,c=d", &[("a", "=", "b"), ("c", "=", "d")], "a=b,c=d"),
        ("a = b", &[("a ", "=", " b")], "a = b"),
        ("a=b\\,c", &[("a", "=", "b,c")], "a=b\\,c"),
        ("a=b\\=c", &[("a", "=", "b=c")], "a=b\\=c"),
        ("a=b\\\\c", &[("a", "=", "b\\c")], "a=b\\\\c"),
        ("a=\\,\\=\\\\", &[("a", "=", ",=\\")], "a=\\,\\=\\\\"),
        ("a\\=b", &[("a\\", "=", "b")], "a\\=b"),
        ("a=x\\,b\\=y", &[("a", "=", "x,b=y")], "a=x\\,b\\=y"),
        (
            "a!=b\\,c,d=e",
            &[("a", "!=", "b,c"), ("d", "=", "e")],
            "a!=b\\,c,d=e",
        ),
        (
            "spec.nodeName=,status.phase!=Running",
            &[
                ("spec.nodeName", "=", ""),
                ("status.phase", "!=", "Running"),
            ],
            "spec.nodeName=,status.phase!=Running",
        ),
        ("a=é,b=ü", &[("a", "=", "é"), ("b", "=", "ü")], "a=é,b=ü"),
        ("a=b,=", &[("a", "=", "b")], "a=b"),
        ("a=b,a=c", &[("a", "=", "b"), ("a", "=", "c")], "a=b,a=c"),
    ];

    #[test]
    fn parse_valid_table() {
        for (input, terms, canonical) in VALID {
            let sel = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(reqs(&sel), owned(terms), "input {input:?}");
            assert_eq!(sel.to_string(), *canonical, "input {input:?}");
            assert_eq!(sel.is_empty(), terms.is_empty());
            assert_eq!(parse(canonical).unwrap(), sel, "reparse {canonical:?}");
        }
    }

    #[test]
    fn parse_invalid_table() {
        let cases: &[(&str, &str)] = &[
            ("a", "invalid selector: 'a'; can't understand 'a'"),
            ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
            ("a!b", "invalid selector: 'a!b'; can't understand 'a!b'"),
            (
                "a=x\\,b=y",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a!==b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a===b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a=b\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
            (
                "a=b\\x",
                "invalid field selector: invalid escape sequence: \\x",
            ),
            (
                "a=\\n",
                "invalid field selector: invalid escape sequence: \\n",
            ),
            (
                "a=\\é",
                "invalid field selector: invalid escape sequence: \\é",
            ),
            (
                "a\\,b",
                "invalid selector: 'a\\,b'; can't understand 'a\\,b'",
            ),
        ];
        for (input, message) in cases {
            let err = parse(input).unwrap_err();
            assert_eq!(err.message(), *message, "input {input:?}");
            assert_eq!(err.to_string(), *message);
        }
    }

    #[test]
    fn matching() {
        let get = |k: &str| -> Option<String> {
            match k {
                "metadata.name" => Some("web".into()),
                "metadata.namespace" => Some("default".into()),
                "status.phase" => Some("Running".into()),
                "spec.nodeName" => Some(String::new()),
                _ => None,
            }
        };
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=web", true),
            ("metadata.name==web", true),
            ("metadata.name=db", false),
            ("metadata.name!=db", true),
            ("metadata.name!=web", false),
            ("metadata.name=web,metadata.namespace=default", true),
            ("metadata.name=web,metadata.namespace=kube-system", false),
            ("status.phase!=Running", false),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
            ("unknown=", true),
            ("unknown=x", false),
            ("unknown!=x", true),
        ];
        for (input, expected) in cases {
            let sel = parse(input).unwrap();
            assert_eq!(sel.matches(get), *expected, "selector {input:?}");
            let set: BTreeMap<String, String> = [
                "metadata.name",
                "metadata.namespace",
                "status.phase",
                "spec.nodeName",
            ]
            .iter()
            .map(|k| (k.to_string(), get(k).unwrap()))
            .collect();
            assert_eq!(sel.matches_set(&set), *expected, "selector {input:?} (set)");
        }
        let escaped = parse("metadata.name=a\\,b").unwrap();
        assert!(escaped.matches(|_| Some("a,b".into())));
        assert!(!escaped.matches(|_| Some("a\\,b".into())));
    }

    #[test]
    fn exact_match_and_single_name() {
        let sel = parse("metadata.name=foo").unwrap();
        assert_eq!(sel.single_name(), Some("foo"));
        let sel = parse("metadata.name==foo,metadata.namespace=ns").unwrap();
        assert_eq!(sel.single_name(), Some("foo"));
        assert_eq!(sel.requires_exact_match("metadata.namespace"), Some("ns"));
        assert_eq!(sel.requires_exact_match("spec.nodeName"), None);
        assert_eq!(parse("metadata.name!=foo").unwrap().single_name(), None);
        assert_eq!(parse("").unwrap().single_name(), None);
        assert_eq!(parse("metadata.name=").unwrap().single_name(), Some(""));
        // A != term before the = term on the same key does not hide it.
        let sel = parse("metadata.name!=a,metadata.name=b").unwrap();
        assert_eq!(sel.single_name(), Some("b"));
        assert_eq!(
            FieldSelector::one_term_equal("metadata.name", "x").single_name(),
            Some("x")
        );
    }

    #[test]
    fn transform_rewrites_and_rejects() {
        let sel = parse("spec.host=n1,status.phase=Running").unwrap();
        let converted = sel
            .transform(|k, v| match k {
                "spec.host" => Ok(("spec.nodeName".to_string(), v.to_string())),
                "status.phase" => Ok((k.to_string(), v.to_string())),
                other => Err(format!("field label not supported: {other}")),
            })
            .unwrap();
        assert_eq!(
            converted.to_string(),
            "spec.nodeName=n1,status.phase=Running"
        );

        let err = parse("spec.foo=x")
            .unwrap()
            .transform(|k, _| Err::<(String, String), _>(format!("field label not supported: {k}")))
            .unwrap_err();
        assert_eq!(err, "field label not supported: spec.foo");

        let dropped = sel
            .transform(|_, _| Ok::<_, ()>((String::new(), String::new())))
            .unwrap();
        assert!(dropped.is_empty());
    }

    #[test]
    fn constructors_and_escaping() {
        assert!(FieldSelector::everything().is_empty());
        assert!(FieldSelector::everything().matches(|_| None));
        let set: BTreeMap<String, String> = [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "x,y".to_string()),
        ]
        .into_iter()
        .collect();
        let sel = FieldSelector::from_set(&set);
        assert_eq!(sel.to_string(), "a=x\\,y,b=2");
        assert_eq!(parse(&sel.to_string()).unwrap(), sel);
        let from_str: FieldSelector = "a=b".parse().unwrap();
        assert_eq!(from_str, FieldSelector::one_term_equal("a", "b"));

        for raw in ["", "plain", "a,b", "a=b", "a\\b", "\\", ",=\\", "é,=ü"] {
            assert_eq!(unescape_value(&escape_value(raw)).unwrap(), raw);
        }
        assert_eq!(escape_value("a,b=c\\d"), "a\\,b\\=c\\\\d");
        assert_eq!(unescape_value("no-specials").unwrap(), "no-specials");
        assert!(unescape_value("a,b").is_err());
    }
}
