//! Resource quantities (`500m`, `1Gi`, `2e3`) with the semantics of upstream's
//! `k8s.io/apimachinery/pkg/api/resource`: parsing with its exact errors, comparison, the
//! canonical string upstream writes back, and the rounding `SetDefaults_ResourceList` applies.
//!
//! A quantity is held as a whole number of nano-units (`i128`), which covers every value an
//! `int64` amount can hold at any suffix; larger values keep the text they were given.

use std::cmp::Ordering;
use std::fmt;

/// Upstream's `ErrFormatWrong` message.
pub const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Upstream's `ErrSuffix` message.
pub const BAD_SUFFIX: &str = "unable to parse quantity's suffix";
/// Upstream's `ErrNumeric` message.
pub const BAD_NUMBER: &str = "unable to parse numeric part of quantity";

const NANO: i128 = 1_000_000_000;

/// Which family of suffixes a quantity was written with (and is written back with).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ... (powers of 1024).
    BinarySi,
    /// `m`, `k`, `M`, ... (powers of 1000).
    DecimalSi,
    /// `e3`, `E6`.
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Clone, Debug)]
pub struct Quantity {
    /// The value in nano-units; `None` when it does not fit (then `text` is kept as is).
    nanos: Option<i128>,
    format: Format,
    /// The text as given when upstream keeps it (it is already canonical), or for huge values.
    text: Option<String>,
    /// The decimal scale of upstream's fast-path amount (for the milli rounding rule).
    scale: i32,
}

/// Why a quantity does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityError {
    /// The text is not a number with a suffix.
    Format,
    /// The suffix is unknown.
    Suffix,
    /// The number does not parse.
    Numeric,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuantityError::Format => FORMAT_WRONG,
            QuantityError::Suffix => BAD_SUFFIX,
            QuantityError::Numeric => BAD_NUMBER,
        })
    }
}

impl std::error::Error for QuantityError {}

struct Parts<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Upstream's `parseQuantityString`.
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    if let Some(&c) = b.first() {
        if c == b'-' {
            positive = false;
            pos += 1;
        } else if c == b'+' {
            pos += 1;
        }
    }
    let zero = Parts {
        positive,
        num: "0",
        denom: "",
        suffix: "",
    };
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(zero);
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[start..pos];
    if pos >= end {
        return Ok(Parts { num, ..zero });
    }
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[start..pos];
        if pos >= end {
            return Ok(Parts { num, denom, ..zero });
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::Format);
    }
    Ok(Parts {
        positive,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// Upstream's suffixer: base, exponent and format of a suffix.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSi));
    let bin = |e| Some((2, e, Format::BinarySi));
    match suffix {
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "" => dec(0),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            let e: i64 = s[1..].parse().ok()?;
            Some((10, e as i32, Format::DecimalExponent))
        }
        _ => None,
    }
}

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

/// Divides rounding the magnitude up (upstream rounds sub-nano amounts away from zero).
fn div_up(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n > 0 {
        q + 1
    } else {
        q - 1
    }
}

impl Quantity {
    /// Parses a quantity like upstream's `ParseQuantity`.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        if s == "0" {
            return Ok(Quantity {
                nanos: Some(0),
                format: Format::DecimalSi,
                text: Some("0".into()),
                scale: 0,
            });
        }
        let p = split(s)?;
        let (base, exponent, format) = interpret(p.suffix).ok_or(QuantityError::Suffix)?;
        let digits = format!("{}{}", p.num, p.denom);
        let sign: i128 = if p.positive { 1 } else { -1 };
        // Upstream's fast path: small enough to be an int64 amount, kept verbatim when canonical.
        let (precision, mut scale, mantissa_shift) = match format {
            Format::BinarySi if exponent >= 0 && p.denom.is_empty() => {
                let precision = 15 - p.num.len() as i32 - (exponent as f32 * 3.0 / 10.0) as i32 - 1;
                (precision, 0, exponent as u32)
            }
            Format::BinarySi => (-1, 0, 0),
            _ => (18 - digits.len() as i32, exponent, 0),
        };
        if precision >= 0 {
            scale -= p.denom.len() as i32;
            if scale >= -9 {
                let value: i64 = digits.parse().map_err(|_| QuantityError::Numeric)?;
                let result = i64::try_from(i128::from(value) << mantissa_shift).ok();
                if let Some(result) = result {
                    let canonical = match format {
                        Format::BinarySi => exponent % 10 == 0 && value & 0x07 != 0,
                        _ => scale % 3 == 0 && !digits.ends_with("000") && !digits.starts_with('0'),
                    };
                    let nanos = pow10((scale + 9) as u32)
                        .and_then(|m| i128::from(result).checked_mul(m))
                        .map(|n| n * sign);
                    return Ok(Quantity {
                        nanos,
                        format,
                        text: (canonical || nanos.is_none()).then(|| s.to_owned()),
                        scale,
                    });
                }
            }
        }
        // The slow path: an exact decimal, rounded up to nano precision.
        let whole: i128 = match digits.trim_start_matches('0') {
            "" => 0,
            d => d.parse().map_err(|_| QuantityError::Numeric).or_else(|e| {
                if d.bytes().all(|c| c.is_ascii_digit()) {
                    Ok(i128::MAX)
                } else {
                    Err(e)
                }
            })?,
        };
        let denom_len = p.denom.len() as i32;
        let nanos = if base == 10 {
            let shift = exponent - denom_len + 9;
            if shift >= 0 {
                pow10(shift as u32).and_then(|m| whole.checked_mul(m))
            } else {
                pow10((-shift) as u32)
                    .map(|d| div_up(whole, d))
                    .or(Some(if whole == 0 { 0 } else { 1 }))
            }
        } else {
            let scaled = 1i128
                .checked_shl(exponent as u32)
                .and_then(|m| whole.checked_mul(m))
                .and_then(|n| n.checked_mul(NANO));
            scaled.and_then(|n| pow10(denom_len as u32).map(|d| div_up(n, d)))
        };
        let mut format = format;
        let nanos = nanos.map(|n| {
            let mut n = n;
            if format == Format::BinarySi && n > i128::from(i64::MAX) * NANO {
                n = i128::from(i64::MAX) * NANO;
            }
            if format == Format::BinarySi && n < NANO && n > 0 {
                format = Format::DecimalSi;
            }
            n * sign
        });
        Ok(Quantity {
            text: nanos.is_none().then(|| s.to_owned()),
            nanos,
            format,
            scale: -9,
        })
    }

    /// The value in nano-units (`None` for values too large to hold).
    pub fn nanos(&self) -> Option<i128> {
        self.nanos
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos.is_some_and(|n| n < 0)
    }

    /// Whether the value is above zero.
    pub fn is_positive(&self) -> bool {
        self.nanos.is_none_or(|n| n > 0)
    }

    /// Upstream's `RoundUp(resource.Milli)` as `SetDefaults_ResourceList` applies it.
    pub fn round_up_milli(&mut self) {
        if self.text.is_some() && self.scale >= -3 {
            return;
        }
        if let Some(n) = self.nanos {
            let rounded = div_up(n, 1_000_000) * 1_000_000;
            if rounded != n || self.text.is_some() {
                self.text = None;
            }
            self.nanos = Some(rounded);
        }
    }

    /// Upstream's `Cmp`.
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        let a = self.nanos.unwrap_or(i128::MAX);
        let b = other.nanos.unwrap_or(i128::MAX);
        a.cmp(&b)
    }

    /// Upstream's `MilliValue`, when it fits.
    pub fn milli_value(&self) -> Option<i128> {
        self.nanos.map(|n| div_up(n, 1_000_000))
    }

    /// Upstream's `Value`: whole units, rounded up, when it fits.
    pub fn value(&self) -> Option<i128> {
        self.nanos.map(|n| div_up(n, 1_000_000_000))
    }

    fn canonical(&self) -> String {
        let Some(n) = self.nanos else {
            return self.text.clone().unwrap_or_default();
        };
        if n == 0 {
            return "0".into();
        }
        let sign = if n < 0 { "-" } else { "" };
        let mag = n.unsigned_abs();
        let mut format = self.format;
        if format == Format::BinarySi && (mag < 1024 * NANO as u128 || mag % NANO as u128 != 0) {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut value = mag / NANO as u128;
            let mut exp = 0;
            while value.is_multiple_of(1024) && exp < 6 {
                value /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return format!("{sign}{value}{suffix}");
        }
        let mut value = mag;
        let mut exp: i32 = -9;
        while value % 10 == 0 {
            value /= 10;
            exp += 1;
        }
        let rem = exp.rem_euclid(3);
        value *= 10u128.pow(rem as u32);
        exp -= rem;
        let suffix = match (format, exp) {
            (Format::DecimalExponent, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".into(),
            (_, -6) => "u".into(),
            (_, -3) => "m".into(),
            (_, 0) => String::new(),
            (_, 3) => "k".into(),
            (_, 6) => "M".into(),
            (_, 9) => "G".into(),
            (_, 12) => "T".into(),
            (_, 15) => "P".into(),
            (_, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        format!("{sign}{value}{suffix}")
    }
}

impl fmt::Display for Quantity {
    /// The text upstream writes back (its `String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(t) => f.write_str(t),
            None => f.write_str(&self.canonical()),
        }
    }
}

/// Reads a quantity from JSON (a string, or a number as YAML clients send it).
pub fn from_json(v: &serde_json::Value) -> Result<Quantity, QuantityError> {
    match v {
        serde_json::Value::String(s) => Quantity::parse(s.trim()),
        serde_json::Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => Err(QuantityError::Format),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().to_string()
    }

    #[test]
    fn canonical_forms_match_upstream() {
        for (input, want) in [
            ("0", "0"),
            ("00", "0"),
            ("1", "1"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("2000", "2k"),
            ("1024", "1024"),
            ("1Ki", "1Ki"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("512Ki", "512Ki"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1000e0", "1e3"),
            ("1E", "1E"),
            ("-1", "-1"),
            ("100u", "100u"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("+1", "+1"),
            // Upstream keeps a string it considers canonical, even this one.
            ("1.", "1."),
            ("12.34k", "12340"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn parse_errors_match_upstream() {
        for bad in ["", "x", "1x", "1.2.3", "1Mii", "--1", "1e", "1 Gi"] {
            let err = Quantity::parse(bad).unwrap_err();
            assert!(
                matches!(err, QuantityError::Format | QuantityError::Suffix),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(
            Quantity::parse("1Qi").unwrap_err().to_string(),
            FORMAT_WRONG
        );
        assert_eq!(Quantity::parse("1ii").unwrap_err().to_string(), BAD_SUFFIX);
    }

    #[test]
    fn comparison_and_rounding() {
        let a = Quantity::parse("500m").unwrap();
        let b = Quantity::parse("0.5").unwrap();
        let c = Quantity::parse("1").unwrap();
        assert_eq!(a.cmp_value(&b), Ordering::Equal);
        assert_eq!(a.cmp_value(&c), Ordering::Less);
        assert_eq!(
            Quantity::parse("1Gi")
                .unwrap()
                .cmp_value(&Quantity::parse("1G").unwrap()),
            Ordering::Greater
        );
        let mut tiny = Quantity::parse("0.0001").unwrap();
        tiny.round_up_milli();
        assert_eq!(tiny.to_string(), "1m");
        let mut micro = Quantity::parse("100u").unwrap();
        micro.round_up_milli();
        assert_eq!(micro.to_string(), "1m");
        let mut kept = Quantity::parse("250m").unwrap();
        kept.round_up_milli();
        assert_eq!(kept.to_string(), "250m");
        assert!(Quantity::parse("-1").unwrap().is_negative());
        assert_eq!(from_json(&serde_json::json!(2)).unwrap().to_string(), "2");
        assert_eq!(
            from_json(&serde_json::json!(0.5)).unwrap().to_string(),
            "500m"
        );
    }
}
