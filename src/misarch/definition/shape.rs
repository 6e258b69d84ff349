//! The shape of `misarch`, read by serde from the JSON the API received: a deserializer over a JSON value whose
//! errors are typed ([`ShapeError`]), so that each can name its field (through `serde_path_to_error`) and say what
//! was wrong in the words of the rest of the definition's errors.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};
use serde_path_to_error::{Path, Segment};

use super::{DefinitionError, ROOT, error};

/// Reads `misarch` into `T`; a mismatch names the field from the experiment root.
pub(super) fn read<T: DeserializeOwned>(misarch: &Map<String, Value>) -> Result<T, DefinitionError> {
    let root = Value::Object(misarch.clone());
    serde_path_to_error::deserialize(Json(&root)).map_err(|failure| {
        let path = failure.path().clone();
        describe(&root, &path, failure.into_inner())
    })
}

/// The JSON types, as the messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Null,
    Boolean,
    Number,
    Integer,
    String,
    Array,
    Object,
}

impl Kind {
    pub(super) fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Null => "null",
            Kind::Boolean => "a boolean",
            Kind::Number => "a number",
            Kind::Integer => "an integer",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        })
    }
}

/// What serde found wrong with the shape, at the path `serde_path_to_error` tracked.
#[derive(Debug, thiserror::Error)]
pub(super) enum ShapeError {
    /// A member that must be there; the path is its parent's.
    #[error("is required")]
    Missing { field: &'static str },
    /// The path is the unknown member's own.
    #[error("unknown field; expected only {}", .expected.join(", "))]
    Unknown { field: String, expected: &'static [&'static str] },
    #[error("is required and must not be null")]
    Null,
    #[error("must be {expected}, found {found}")]
    WrongType { expected: Kind, found: Kind },
    /// A number written as a JSON string, e.g. `"2000"` (MiSArch's `execution.json` has its thresholds so).
    #[error("must be a JSON number, not a string: write {} instead of \"{text}\"", .text.trim())]
    NumericString { text: String },
    #[error("{number} is not a whole number")]
    NotWhole { number: String },
    #[error("{number} is out of range {min} to {max}")]
    OutOfRange { number: String, min: i128, max: i128 },
    #[error("\"{value}\" is not one of {}", .expected.join(", "))]
    UnknownVariant { value: String, expected: &'static [&'static str] },
    /// A type's own rule, e.g. an unknown goal metric.
    #[error("{0}")]
    Invalid(String),
}

impl de::Error for ShapeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        ShapeError::Invalid(message.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        ShapeError::Missing { field }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        ShapeError::Unknown { field: field.to_owned(), expected }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        ShapeError::UnknownVariant { value: variant.to_owned(), expected }
    }
}

/// The error with its field: `misarch.goals[0].threshold` and the like.
fn describe(root: &Value, path: &Path, shape: ShapeError) -> DefinitionError {
    let mut field = ROOT.to_owned();
    for segment in path {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => field.push_str(&format!(".{key}")),
            Segment::Unknown => field.push_str(".?"),
        }
    }
    match shape {
        ShapeError::Missing { field: member } => error(format!("{field}.{member}"), "is required"),
        ShapeError::Unknown { field: key, expected } => {
            let parent = parent_object(root, path);
            let others: Vec<&str> = parent
                .map(|object| {
                    object.keys().map(String::as_str).filter(|k| *k != key && !expected.contains(k)).collect()
                })
                .unwrap_or_default();
            let mut message = match unknown_field_hint(&pattern(&field), &key) {
                Some(hint) => format!("unknown field: {hint}"),
                None => ShapeError::Unknown { field: key.clone(), expected }.to_string(),
            };
            if !others.is_empty() {
                message.push_str(&format!(" (also unknown: {})", others.join(", ")));
            }
            // The path ends with the unknown key already (serde_path_to_error tracks map keys as it reads them).
            error(field, message)
        }
        ShapeError::WrongType { expected: Kind::Array, found: Kind::Object } => {
            error(field, "must be an array, found an object; wrap it in [ ]")
        }
        other => error(field, other.to_string()),
    }
}

/// The object holding the member at `path` (which ends with that member).
fn parent_object<'a>(root: &'a Value, path: &Path) -> Option<&'a Map<String, Value>> {
    let segments: Vec<&Segment> = path.iter().collect();
    let mut value = root;
    for segment in &segments[..segments.len().saturating_sub(1)] {
        value = match segment {
            Segment::Seq { index } => value.get(index)?,
            Segment::Map { key } => value.get(key)?,
            _ => return None,
        };
    }
    value.as_object()
}

/// The field path with its indices left out, `misarch.gatling[].fileName`, to look hints up by.
fn pattern(field: &str) -> String {
    let mut pattern = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => {
                in_index = true;
                pattern.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            c => pattern.push(c),
        }
    }
    pattern
}

/// Why an unknown key is likely there: a MiSArch field eris sets itself, or a key spelt as in another format.
fn unknown_field_hint(field: &str, key: &str) -> Option<&'static str> {
    let parent = field.strip_suffix(key).and_then(|parent| parent.strip_suffix('.'))?;
    match (parent, key) {
        ("misarch", "testUUID" | "testVersion") => {
            Some("eris assigns testUUID and testVersion to each trial; remove it")
        }
        ("misarch", "threshold" | "metric" | "color") => Some("goal fields belong in the objects of `goals`"),
        ("misarch", "chaostoolkit" | "chaosToolkitConfig") => {
            Some("the Chaos Toolkit experiment goes in `chaosToolkit`")
        }
        ("misarch", "misarchExperimentConfig" | "misarchFailure" | "failures") => {
            Some("the MiSArch failure sets go in `misarchFailures`")
        }
        ("misarch", "gatlingConfig") => Some("the Gatling scenarios go in `gatling`"),
        ("misarch.gatling[]", "workFile" | "encodedWorkFile" | "content") => {
            Some("the work file goes in encodedWorkFileContent")
        }
        ("misarch.gatling[]", "userSteps" | "encodedUserStepsFile") => {
            Some("the user steps go in encodedUserStepsFileContent")
        }
        ("misarch.misarchFailures[]", "failureSets" | "serviceName" | "delayMs") => Some(
            "that is the illustrative format of the executor frontend's MiSArchConfigEditor.md, which the executor does \
             not accept; use {failures:[{name, pubSubDeterioration, …}], pauses:{before, after}}",
        ),
        ("misarch.misarchFailures[].failures[]", "pubsubDeterioration") => {
            Some("the key is \"pubSubDeterioration\" (capital S) in a failure entry")
        }
        ("misarch.misarchFailures[].failures[]", "artificialCpuUsage" | "artificialCPUusage") => {
            Some("the key is \"artificialCPUUsage\"")
        }
        ("misarch.misarchFailures[].failures[]", "serviceName" | "service") => Some("the service goes in \"name\""),
        _ => None,
    }
}

/// A JSON value read as serde asks for it, refusing what serde_json would convert silently and saying so.
#[derive(Clone, Copy)]
struct Json<'a>(&'a Value);

impl<'a> Json<'a> {
    fn mismatch(self, expected: Kind) -> ShapeError {
        match self.0 {
            Value::Null => ShapeError::Null,
            Value::String(text) if matches!(expected, Kind::Number | Kind::Integer) && is_number(text, expected) => {
                ShapeError::NumericString { text: text.clone() }
            }
            other => ShapeError::WrongType { expected, found: Kind::of(other) },
        }
    }

    /// An integer within `min..=max` (the Rust type's range; the definition's rules narrow it where needed).
    fn integer<'de, V: Visitor<'de>>(self, visitor: V, min: i128, max: i128) -> Result<V::Value, ShapeError> {
        let Value::Number(number) = self.0 else {
            return Err(self.mismatch(Kind::Integer));
        };
        // A whole number written with a fraction (`100.0`) is that integer, as the configurator's JSON schemas and the
        // original executor read it; `100.5` is not.
        let whole =
            number.as_f64().filter(|value| value.fract() == 0.0 && value.abs() < 9.0e15).map(|value| value as i128);
        let integer = match (number.as_i64(), number.as_u64(), whole) {
            (Some(integer), _, _) => i128::from(integer),
            (None, Some(integer), _) => i128::from(integer),
            (None, None, Some(integer)) => integer,
            (None, None, None) => return Err(ShapeError::NotWhole { number: number.to_string() }),
        };
        if !(min..=max).contains(&integer) {
            return Err(ShapeError::OutOfRange { number: number.to_string(), min, max });
        }
        match u64::try_from(integer) {
            Ok(unsigned) => visitor.visit_u64(unsigned),
            Err(_) => visitor.visit_i64(integer as i64),
        }
    }
}

fn is_number(text: &str, expected: Kind) -> bool {
    match expected {
        Kind::Integer => text.trim().parse::<i64>().is_ok(),
        _ => text.trim().parse::<f64>().is_ok(),
    }
}

impl<'de> IntoDeserializer<'de, ShapeError> for Json<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! integers {
    ($($method:ident: $type:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
            self.integer(visitor, i128::from(<$type>::MIN), i128::from(<$type>::MAX))
        }
    )*};
}

impl<'de> Deserializer<'de> for Json<'_> {
    type Error = ShapeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(boolean) => visitor.visit_bool(*boolean),
            Value::Number(number) => match (number.as_u64(), number.as_i64(), number.as_f64()) {
                (Some(unsigned), _, _) => visitor.visit_u64(unsigned),
                (None, Some(signed), _) => visitor.visit_i64(signed),
                (None, None, Some(float)) => visitor.visit_f64(float),
                (None, None, None) => Err(ShapeError::NotWhole { number: number.to_string() }),
            },
            Value::String(text) => visitor.visit_str(text),
            Value::Array(items) => self.deserialize_seq_of(items, visitor),
            Value::Object(members) => self.deserialize_map_of(members, visitor),
        }
    }

    integers!(deserialize_u8: u8, deserialize_u16: u16, deserialize_u32: u32, deserialize_u64: u64,
        deserialize_i8: i8, deserialize_i16: i16, deserialize_i32: i32, deserialize_i64: i64);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Number(number) => visitor.visit_f64(number.as_f64().unwrap_or(f64::NAN)),
            _ => Err(self.mismatch(Kind::Number)),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Bool(boolean) => visitor.visit_bool(*boolean),
            _ => Err(self.mismatch(Kind::Boolean)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::String(text) => visitor.visit_str(text),
            _ => Err(self.mismatch(Kind::String)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Array(items) => self.deserialize_seq_of(items, visitor),
            _ => Err(self.mismatch(Kind::Array)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Object(members) => self.deserialize_map_of(members, visitor),
            _ => Err(self.mismatch(Kind::Object)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::String(text) => visitor.visit_enum(text.as_str().into_deserializer()),
            _ => Err(self.mismatch(Kind::String)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct tuple tuple_struct ignored_any
    }
}

impl<'a> Json<'a> {
    fn deserialize_seq_of<'de, V: Visitor<'de>>(self, items: &'a [Value], visitor: V) -> Result<V::Value, ShapeError> {
        let mut seq = de::value::SeqDeserializer::new(items.iter().map(Json));
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_map_of<'de, V: Visitor<'de>>(
        self,
        members: &'a Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        let mut map = de::value::MapDeserializer::new(members.iter().map(|(key, value)| (key.as_str(), Json(value))));
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }
}
