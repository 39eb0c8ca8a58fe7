//! Resource quantities (`10Gi`, `500m`, `1e3`) in their canonical form, as upstream's
//! `Quantity.String()` prints them: `1000` is `1k`, `1.5Gi` is `1536Mi`, `0.5` is `500m`.

use serde_json::Value;

/// How a quantity was written, which decides how it is printed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    /// Powers of 1024: `Ki`, `Mi`, ...
    BinarySi,
    /// Powers of 1000: `m`, `k`, `M`, ...
    DecimalSi,
    /// `e<n>` exponents.
    DecimalExponent,
}

/// A parsed quantity: `mantissa * 10^scale`, rounded up to nano precision.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Quantity {
    mantissa: i128,
    scale: i32,
    format: Format,
}

const DECIMAL_SUFFIXES: [(&str, i32); 9] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

const BINARY_SUFFIXES: [(&str, u32); 6] = [
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

fn parse(s: &str) -> Option<Quantity> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_len = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    if digits.len() > 30 || fraction.contains('.') {
        return None;
    }
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut scale = -i32::try_from(fraction.len()).ok()?;
    let format = if suffix.is_empty() {
        Format::DecimalSi
    } else if let Some((_, exp)) = DECIMAL_SUFFIXES.iter().find(|(n, _)| *n == suffix) {
        scale += exp;
        Format::DecimalSi
    } else if let Some((_, pow)) = BINARY_SUFFIXES.iter().find(|(n, _)| *n == suffix) {
        mantissa = mantissa.checked_mul(1i128 << pow)?;
        Format::BinarySi
    } else if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
        scale += exp.parse::<i32>().ok()?;
        Format::DecimalExponent
    } else {
        return None;
    };
    // Upstream keeps nano precision, rounding anything finer up.
    if scale < -9 {
        let divisor = 10i128.checked_pow(u32::try_from(-9 - scale).ok()?)?;
        let rounded_up = mantissa % divisor != 0;
        mantissa = mantissa / divisor + i128::from(rounded_up);
        scale = -9;
    }
    if negative {
        mantissa = -mantissa;
    }
    Some(Quantity {
        mantissa,
        scale,
        format,
    })
}

/// Divides out `base` while it divides evenly, returning the rest and how many times it did.
fn remove_factors(mut value: i128, base: i128) -> (i128, i32) {
    let mut times = 0;
    while value != 0 && value % base == 0 {
        value /= base;
        times += 1;
    }
    (value, times)
}

impl Quantity {
    /// The value as a whole number, when it is one.
    fn integer(&self) -> Option<i128> {
        if self.scale >= 0 {
            self.mantissa
                .checked_mul(10i128.checked_pow(u32::try_from(self.scale).ok()?)?)
        } else {
            let divisor = 10i128.checked_pow(u32::try_from(-self.scale).ok()?)?;
            (self.mantissa % divisor == 0).then(|| self.mantissa / divisor)
        }
    }

    fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".into();
        }
        if self.format == Format::BinarySi
            && let Some(n) = self.integer().filter(|n| n.abs() >= 1024)
        {
            let (amount, times) = remove_factors(n, 1024);
            let suffix = match times {
                0 => "",
                t => BINARY_SUFFIXES
                    .get(usize::try_from(t - 1).unwrap_or(usize::MAX))
                    .map_or("", |(s, _)| s),
            };
            return format!("{amount}{suffix}");
        }
        let (mut amount, times) = remove_factors(self.mantissa, 10);
        let mut exponent = self.scale + times;
        // Exponents are shown in multiples of three.
        let down = exponent.rem_euclid(3);
        amount *= 10i128.pow(down.unsigned_abs());
        exponent -= down;
        let suffix = if self.format == Format::DecimalExponent {
            if exponent == 0 {
                String::new()
            } else {
                format!("e{exponent}")
            }
        } else if exponent == 0 {
            String::new()
        } else {
            DECIMAL_SUFFIXES
                .iter()
                .find(|(_, e)| *e == exponent)
                .map_or_else(|| format!("e{exponent}"), |(s, _)| (*s).to_owned())
        };
        format!("{amount}{suffix}")
    }
}

/// The canonical form of a quantity written as `s`; `s` itself when it does not parse.
pub(super) fn canonical(s: &str) -> String {
    parse(s).map_or_else(|| s.to_owned(), |q| q.canonical())
}

/// A quantity field printed canonically: `0` when absent (a zero `Quantity`), numbers as
/// written in JSON are quantities too.
pub(super) fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => canonical(s),
        Some(Value::Number(n)) => canonical(&n.to_string()),
        _ => "0".into(),
    }
}

/// An optional quantity field: `<nil>` when absent, as Go prints a nil `*Quantity`.
pub(super) fn optional_quantity(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".into(),
        some => quantity(some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_print_in_canonical_form() {
        for (input, want) in [
            ("10Gi", "10Gi"),
            ("1.5Gi", "1536Mi"),
            ("2048Ki", "2Mi"),
            ("512Ki", "512Ki"),
            ("0.5Ki", "512"),
            ("1Ki", "1Ki"),
            ("1000", "1k"),
            ("1024", "1024"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("1500M", "1500M"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-2k", "-2k"),
            ("0.0000000001", "1n"),
            ("12.5", "12500m"),
            ("abc", "abc"),
        ] {
            assert_eq!(canonical(input), want, "{input}");
        }
        assert_eq!(quantity(Some(&json!(2))), "2");
        assert_eq!(quantity(None), "0");
        assert_eq!(optional_quantity(None), "<nil>");
    }
}
