//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
//! turned into the JSON the same client would have sent.
//!
//! Since 1.31 client-go's typed clients (every `kubectl create <generator>`, `auth can-i`,
//! `auth whoami`, `create token`, eviction) POST protobuf. The body is the magic `k8s\0`
//! followed by a `runtime.Unknown` message: field 1 `TypeMeta {1 apiVersion, 2 kind}`, field 2
//! the raw bytes of the object's own message, fields 3/4 `contentEncoding`/`contentType`.
//!
//! Decoding is generic: `protobuf/table.rs`, generated from the `k8s-pb` sources and the
//! `k8s-openapi` schemas by the test in `protobuf/generator.rs` (which fails when the table is
//! out of date), lists for every message reachable from the kinds of [`crate::typed`] each
//! field's tag, JSON name, cardinality and type. The wire format (varints, length-delimited
//! values, fixed 32/64-bit values, packed or unpacked repeated scalars, maps as repeated
//! entries) is walked with that table; unknown fields are skipped, as Go does.
//!
//! Go's encoder writes every non-pointer field, zero or not, so a zero scalar on the wire
//! usually means "unset": it is dropped, as Go's `omitempty` JSON encoding would drop it,
//! unless the field is required by the schema or is one of the Go pointer fields (where
//! `replicas: 0` differs from no replicas) that the table marks to keep. Embedded Go structs
//! (`json:",inline"`, e.g. `Volume.volumeSource`) are fields of their own in protobuf and are
//! merged into the parent's JSON object.
//!
//! Well-known messages have their own JSON forms: `IntOrString` (number or string),
//! `Quantity` (string), `Time` (RFC 3339 seconds; an empty message is the zero time, JSON
//! null), `MicroTime` (RFC 3339 microseconds), `Duration` (Go duration string),
//! `RawExtension` and `FieldsV1` (embedded JSON, or a nested protobuf object) and `ExtraValue`
//! (list of strings); `bytes` become base64 strings.

use base64::Engine;
use serde_json::{Map, Number, Value};

#[cfg(test)]
mod generator;
#[rustfmt::skip]
mod table;

/// The magic prefix of every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8] = b"k8s\0";

/// Nesting limit for messages (and raw extensions holding protobuf) to bound recursion.
const MAX_DEPTH: usize = 100;

/// A message of the table: its protobuf name (the `k8s-pb` module path) and fields by tag.
pub(crate) struct Message {
    /// The message's full name, e.g. `api.core.v1.ConfigMap`.
    pub(crate) name: &'static str,
    /// Fields in ascending tag order.
    pub(crate) fields: &'static [Field],
}

/// One field of a [`Message`].
pub(crate) struct Field {
    /// The protobuf field number.
    pub(crate) tag: u32,
    /// The JSON property name.
    pub(crate) json: &'static str,
    /// Single value, list or map.
    pub(crate) card: Card,
    /// The value type (of the elements for lists, of the values for maps).
    pub(crate) ty: Ty,
    /// Whether a zero scalar is kept (required fields and Go pointer fields).
    pub(crate) keep_zero: bool,
}

/// How many values a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Card {
    /// One value (proto2 `optional`).
    One,
    /// A list (`repeated`), packed or not.
    Many,
    /// A map with string keys (`map<string, ty>`), a JSON object.
    Map,
}

/// The type of a value on the wire and in JSON.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    /// `string`.
    Str,
    /// `bytes`, base64 in JSON.
    Bytes,
    /// `bool`.
    Bool,
    /// `int32`.
    I32,
    /// `int64`.
    I64,
    /// `double` (no field of today's kinds has one; the generator emits it when one does).
    #[allow(dead_code)]
    F64,
    /// An ordinary message, a JSON object.
    Msg(&'static Message),
    /// An embedded Go struct (`json:",inline"`, e.g. `Volume.volumeSource`): its fields are
    /// written into the parent's JSON object.
    Inline(&'static Message),
    /// `intstr.IntOrString {1 type, 2 intVal, 3 strVal}`: a JSON number or string.
    IntOrString,
    /// `resource.Quantity {1 string}`: a JSON string.
    Quantity,
    /// `metav1.Time {1 seconds, 2 nanos}`: RFC 3339 with seconds (Go drops the nanos).
    Time,
    /// `metav1.MicroTime {1 seconds, 2 nanos}`: RFC 3339 with microseconds.
    MicroTime,
    /// `metav1.Duration {1 duration}` in nanoseconds: a Go duration string (`1h2m3s`); no field
    /// of today's kinds has one.
    #[allow(dead_code)]
    Duration,
    /// `runtime.RawExtension` / `metav1.FieldsV1 {1 raw}`: the raw bytes are JSON (or a
    /// nested protobuf object).
    RawJson,
    /// `ExtraValue {1 repeated items}`: a JSON list of strings.
    StringList,
}

/// A table entry (keeps the generated table short).
const fn f(tag: u32, json: &'static str, card: Card, ty: Ty, keep_zero: bool) -> Field {
    Field {
        tag,
        json,
        card,
        ty,
        keep_zero,
    }
}

impl Message {
    fn field(&self, tag: u32) -> Option<&'static Field> {
        self.fields
            .binary_search_by_key(&tag, |f| f.tag)
            .ok()
            .map(|i| &self.fields[i])
    }
}

/// The message of a kind, by the `apiVersion` and `kind` of the envelope. `DeleteOptions`
/// is registered in every group version, as upstream.
fn message_of(api_version: &str, kind: &str) -> Option<&'static Message> {
    if kind == "DeleteOptions" {
        return Some(&table::META_V1_DELETE_OPTIONS);
    }
    table::KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, m)| *m)
}

/// Decodes a protobuf request body (`k8s\0` + `runtime.Unknown`) into the object's JSON,
/// with `apiVersion` and `kind` from the envelope. Malformed input is an error, never a panic.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    decode_depth(body, 0).map_err(|e| {
        format!(
            "the body of the request was not valid protobuf: {}",
            e.strip_prefix('.').unwrap_or(&e)
        )
    })
}

fn decode_depth(body: &[u8], depth: usize) -> Result<Value, String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| "missing the k8s\\0 prefix".to_owned())?;
    let env = Envelope::parse(rest)?;
    if !env.content_encoding.is_empty() {
        return Err(format!(
            "unsupported contentEncoding {:?}",
            env.content_encoding
        ));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(env.api_version.clone()));
    obj.insert("kind".into(), Value::String(env.kind.clone()));
    match env.content_type.as_str() {
        "" | "application/vnd.kubernetes.protobuf" => {
            let msg = message_of(&env.api_version, &env.kind).ok_or_else(|| {
                format!(
                    "no protobuf decoding for kind {:?} of apiVersion {:?}",
                    env.kind, env.api_version
                )
            })?;
            let mut fields = Map::new();
            decode_message(env.raw, msg, &mut fields, depth)?;
            obj.extend(fields);
        }
        "application/json" => match serde_json::from_slice(env.raw) {
            Ok(Value::Object(fields)) => {
                for (k, v) in fields {
                    obj.entry(k).or_insert(v);
                }
            }
            Ok(_) => return Err("the embedded JSON is not an object".into()),
            Err(e) => return Err(format!("the embedded JSON is invalid: {e}")),
        },
        other => return Err(format!("unsupported contentType {other:?}")),
    }
    Ok(Value::Object(obj))
}

/// The `runtime.Unknown` envelope.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Envelope<'a> {
    fn parse(buf: &'a [u8]) -> Result<Self, String> {
        let mut env = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            content_encoding: String::new(),
            content_type: String::new(),
        };
        let mut r = Reader::new(buf);
        while !r.done() {
            let (tag, wt) = r.key()?;
            match tag {
                1 => {
                    let mut t = Reader::new(r.bytes_of(wt)?);
                    while !t.done() {
                        let (tag, wt) = t.key()?;
                        match tag {
                            1 => env.api_version = t.string_of(wt)?,
                            2 => env.kind = t.string_of(wt)?,
                            _ => t.skip(wt)?,
                        }
                    }
                }
                2 => env.raw = r.bytes_of(wt)?,
                3 => env.content_encoding = r.string_of(wt)?,
                4 => env.content_type = r.string_of(wt)?,
                _ => r.skip(wt)?,
            }
        }
        if env.kind.is_empty() {
            return Err("the envelope names no kind".into());
        }
        Ok(env)
    }
}

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A cursor over protobuf bytes; every read checks bounds.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err("truncated varint".into());
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err("varint overflows 64 bits".into());
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint overflows 64 bits".into())
    }

    /// A field key: (field number, wire type).
    fn key(&mut self) -> Result<(u32, u8), String> {
        let key = self.varint()?;
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Err(format!("invalid field number {tag}"));
        }
        Ok((tag as u32, (key & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| "truncated data".to_owned())?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| "length out of range".to_owned())?;
        self.take(n)
    }

    fn expect(wt: u8, want: u8) -> Result<(), String> {
        if wt == want {
            Ok(())
        } else {
            Err(format!("wrong wire type {wt} (expected {want})"))
        }
    }

    fn bytes_of(&mut self, wt: u8) -> Result<&'a [u8], String> {
        Self::expect(wt, LEN)?;
        self.len_delimited()
    }

    fn string_of(&mut self, wt: u8) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.bytes_of(wt)?).into_owned())
    }

    fn varint_of(&mut self, wt: u8) -> Result<u64, String> {
        Self::expect(wt, VARINT)?;
        self.varint()
    }

    /// Skips a value of an unknown field.
    fn skip(&mut self, wt: u8) -> Result<(), String> {
        match wt {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.len_delimited().map(drop),
            FIXED32 => self.take(4).map(drop),
            3 | 4 => Err("groups are not supported".into()),
            _ => Err(format!("invalid wire type {wt}")),
        }
    }
}

/// Decodes `buf` as `msg` into `out` (merging into what is there, as protobuf does when a
/// message field occurs twice).
fn decode_message(
    buf: &[u8],
    msg: &'static Message,
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("messages nested too deeply (at {})", msg.name));
    }
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match msg.field(tag) {
            None => r.skip(wt)?,
            // Errors name the JSON path of the field (`.spec.template: ...`).
            Some(f) => decode_field(&mut r, f, wt, out, depth).map_err(|e| {
                if f.json.is_empty() {
                    e
                } else if e.starts_with('.') {
                    format!(".{}{e}", f.json)
                } else {
                    format!(".{}: {e}", f.json)
                }
            })?,
        }
    }
    Ok(())
}

fn decode_field(
    r: &mut Reader<'_>,
    f: &'static Field,
    wt: u8,
    out: &mut Map<String, Value>,
    depth: usize,
) -> Result<(), String> {
    match f.card {
        Card::One => {
            if let Ty::Inline(m) = f.ty {
                return decode_message(r.bytes_of(wt)?, m, out, depth + 1);
            }
            if let Ty::Msg(m) = f.ty {
                let buf = r.bytes_of(wt)?;
                let entry = out
                    .entry(f.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = entry {
                    return decode_message(buf, m, map, depth + 1);
                }
                let mut map = Map::new();
                decode_message(buf, m, &mut map, depth + 1)?;
                *entry = Value::Object(map);
                return Ok(());
            }
            let v = value(r, f.ty, wt, depth)?;
            // The last occurrence wins; a dropped zero unsets the field.
            if f.keep_zero || !is_zero_scalar(f.ty, &v) {
                out.insert(f.json.to_owned(), v);
            } else {
                out.remove(f.json);
            }
        }
        Card::Many => {
            let mut items = Vec::new();
            let packable = matches!(f.ty, Ty::Bool | Ty::I32 | Ty::I64 | Ty::F64);
            if packable && wt == LEN {
                let mut p = Reader::new(r.len_delimited()?);
                let elem_wt = if matches!(f.ty, Ty::F64) {
                    FIXED64
                } else {
                    VARINT
                };
                while !p.done() {
                    items.push(value(&mut p, f.ty, elem_wt, depth)?);
                }
            } else {
                items.push(value(r, f.ty, wt, depth)?);
            }
            let entry = out
                .entry(f.json)
                .or_insert_with(|| Value::Array(Vec::new()));
            match entry {
                Value::Array(a) => a.extend(items),
                other => *other = Value::Array(items),
            }
        }
        Card::Map => {
            let mut e = Reader::new(r.bytes_of(wt)?);
            let mut key = String::new();
            let mut val = None;
            while !e.done() {
                let (tag, wt) = e.key()?;
                match tag {
                    1 => key = e.string_of(wt)?,
                    2 => val = Some(value(&mut e, f.ty, wt, depth)?),
                    _ => e.skip(wt)?,
                }
            }
            let val = match val {
                Some(v) => v,
                None => zero_of(f.ty),
            };
            let entry = out
                .entry(f.json)
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(m) = entry {
                m.insert(key, val);
            }
        }
    }
    Ok(())
}

/// Whether a decoded single value is the zero value Go's `omitempty` would drop.
fn is_zero_scalar(ty: Ty, v: &Value) -> bool {
    match ty {
        Ty::Str | Ty::Bytes => v.as_str() == Some(""),
        Ty::Bool => v == &Value::Bool(false),
        Ty::I32 | Ty::I64 => v.as_i64() == Some(0),
        Ty::F64 => v.as_f64() == Some(0.0),
        _ => false,
    }
}

/// The JSON of a value missing from a map entry (protobuf's default).
fn zero_of(ty: Ty) -> Value {
    match ty {
        Ty::Str | Ty::Bytes => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::I32 | Ty::I64 | Ty::F64 | Ty::IntOrString => Value::from(0),
        Ty::Quantity => Value::String("0".into()),
        Ty::Msg(_) | Ty::Inline(_) => Value::Object(Map::new()),
        Ty::StringList => Value::Array(Vec::new()),
        Ty::Time | Ty::MicroTime | Ty::RawJson => Value::Null,
        Ty::Duration => Value::String("0s".into()),
    }
}

/// Decodes one value of type `ty`.
fn value(r: &mut Reader<'_>, ty: Ty, wt: u8, depth: usize) -> Result<Value, String> {
    let v = match ty {
        Ty::Str => Value::String(r.string_of(wt)?),
        Ty::Bytes => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(r.bytes_of(wt)?))
        }
        Ty::Bool => Value::Bool(r.varint_of(wt)? != 0),
        // Go's int32 conversion keeps the low 32 bits of the (sign-extended) varint.
        Ty::I32 => Value::from(r.varint_of(wt)? as i32),
        Ty::I64 => Value::from(r.varint_of(wt)? as i64),
        Ty::F64 => {
            Reader::expect(wt, FIXED64)?;
            let b: [u8; 8] = r.take(8)?.try_into().expect("took 8 bytes");
            let f = f64::from_le_bytes(b);
            Value::Number(Number::from_f64(f).ok_or_else(|| format!("{f} is not a JSON number"))?)
        }
        Ty::Msg(m) | Ty::Inline(m) => {
            let mut map = Map::new();
            decode_message(r.bytes_of(wt)?, m, &mut map, depth + 1)?;
            Value::Object(map)
        }
        Ty::IntOrString => int_or_string(r.bytes_of(wt)?)?,
        Ty::Quantity => {
            let mut s = "0".to_owned();
            let mut q = Reader::new(r.bytes_of(wt)?);
            while !q.done() {
                match q.key()? {
                    (1, wt) => s = q.string_of(wt)?,
                    (_, wt) => q.skip(wt)?,
                }
            }
            Value::String(s)
        }
        Ty::Time | Ty::MicroTime => {
            let buf = r.bytes_of(wt)?;
            // Go: an empty message is the zero time, which its JSON encoding writes as null
            // (`creationTimestamp: null` in every object kubectl sends).
            if buf.is_empty() {
                return Ok(Value::Null);
            }
            Value::String(time(buf, matches!(ty, Ty::MicroTime))?)
        }
        Ty::Duration => {
            let mut ns = 0i64;
            let mut d = Reader::new(r.bytes_of(wt)?);
            while !d.done() {
                match d.key()? {
                    (1, wt) => ns = d.varint_of(wt)? as i64,
                    (_, wt) => d.skip(wt)?,
                }
            }
            Value::String(go_duration(ns))
        }
        Ty::RawJson => {
            let mut raw: &[u8] = &[];
            let mut x = Reader::new(r.bytes_of(wt)?);
            while !x.done() {
                match x.key()? {
                    (1, wt) => raw = x.bytes_of(wt)?,
                    (_, wt) => x.skip(wt)?,
                }
            }
            // Go writes a nil raw message as JSON null.
            if raw.is_empty() {
                return Ok(Value::Null);
            }
            if raw.starts_with(MAGIC) {
                decode_depth(raw, depth + 1)?
            } else {
                serde_json::from_slice(raw).map_err(|e| format!("invalid embedded JSON: {e}"))?
            }
        }
        Ty::StringList => {
            let mut items = Vec::new();
            let mut x = Reader::new(r.bytes_of(wt)?);
            while !x.done() {
                match x.key()? {
                    (1, wt) => items.push(Value::String(x.string_of(wt)?)),
                    (_, wt) => x.skip(wt)?,
                }
            }
            Value::Array(items)
        }
    };
    Ok(v)
}

/// `IntOrString {1 type (0 int, 1 string), 2 intVal, 3 strVal}`.
fn int_or_string(buf: &[u8]) -> Result<Value, String> {
    let (mut kind, mut int, mut s) = (0u64, 0i32, String::new());
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, wt) => kind = r.varint_of(wt)?,
            (2, wt) => int = r.varint_of(wt)? as i32,
            (3, wt) => s = r.string_of(wt)?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok(if kind == 1 {
        Value::String(s)
    } else {
        Value::from(int)
    })
}

/// `Time`/`MicroTime {1 seconds, 2 nanos}` as Go writes them in JSON (UTC; `Time` drops the
/// nanoseconds as Go's protobuf decoding does, `MicroTime` keeps microseconds).
fn time(buf: &[u8], micro: bool) -> Result<String, String> {
    let (mut secs, mut nanos) = (0i64, 0i64);
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, wt) => secs = r.varint_of(wt)? as i64,
            (2, wt) => nanos = i64::from(r.varint_of(wt)? as i32),
            (_, wt) => r.skip(wt)?,
        }
    }
    if !micro {
        nanos = 0;
    }
    // Normalize as Go's time.Unix does for nanoseconds outside [0, 1e9).
    let secs = secs
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or("time out of range")?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    let ts =
        jiff::Timestamp::new(secs, nanos as i32).map_err(|e| format!("time out of range: {e}"))?;
    let fmt = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(ts.strftime(fmt).to_string())
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: ns, µs or ms with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&fraction(u, div));
        out.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let s_ns = u % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&fraction(s_ns, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / div` with the fraction's trailing zeros removed (`1500, 1000` → `1.5`).
fn fraction(v: u64, div: u64) -> String {
    let whole = v / div;
    let rest = v % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let frac = format!("{rest:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests;
