//! Reading a step's `where` into an action's typed arguments, as written or as rendered.
//!
//! Each action's arguments are one serde struct, generic over the [`Stage`] they are read at. [`Rendered`]
//! arguments are the values themselves. [`Written`] ones may hold a `{{ parameter }}` template wherever a value
//! goes: such a value is left to the trial that renders it, and every other value is checked by the same
//! `Deserialize` as at run time.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::Value;

use super::{ArgumentError, JsonObject};
use crate::template;

/// When a step's arguments are read: when the experiment is written, or when the trial runs.
pub trait Stage {
    /// How an argument of type `T` is held at this stage.
    type Value<T: DeserializeOwned>: DeserializeOwned;
}

/// Arguments as the experiment gives them: checked, with templates left for later.
pub enum Written {}

/// Arguments after the trial's parameters were rendered into them: the values, ready to run.
pub enum Rendered {}

impl Stage for Written {
    type Value<T: DeserializeOwned> = Checked<T>;
}

impl Stage for Rendered {
    type Value<T: DeserializeOwned> = T;
}

/// A written value that is either a template (see [`template::is_template`]) or a valid `T`; nothing of it is
/// kept, since only the rendered value is ever run.
pub struct Checked<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor(PhantomData))
    }
}

/// Hands every value but a template on to `T`'s own `Deserialize`. Objects and arrays are passed on as the
/// deserializer's own map and sequence, so an error deep inside (`headers.X-Count`) keeps its path.
struct CheckedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for CheckedVisitor<T> {
    type Value = Checked<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or a {{ parameter }} template")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        if template::is_template(text) { Ok(Checked(PhantomData)) } else { scalar(Value::from(text)) }
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        scalar(Value::from(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        scalar(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        scalar(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        scalar(Value::from(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        scalar(Value::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|_| Checked(PhantomData))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::deserialize(SeqAccessDeserializer::new(seq)).map(|_| Checked(PhantomData))
    }
}

/// A single value checked as the JSON value it is, so the message is the one the rendered value would get.
fn scalar<'de, T: Deserialize<'de>, E: de::Error>(value: Value) -> Result<Checked<T>, E> {
    T::deserialize(value).map(|_| Checked(PhantomData)).map_err(E::custom)
}

/// Reads the `where` of `action` into its arguments `A`.
///
/// An unknown argument is reported by name before anything else, so a typo (`tmeout`) is named as such rather
/// than as whatever else is wrong.
pub fn parse<A: DeserializeOwned>(action: &'static str, given: &JsonObject) -> Result<A, ArgumentError> {
    let known = names_of::<A>();
    if let Some(unknown) = given.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(ArgumentError::Unknown { action, argument: unknown.clone(), known });
    }
    serde_path_to_error::deserialize(&Value::Object(given.clone())).map_err(|error| {
        let field = error.path().to_string();
        let reason = error.into_inner().to_string();
        // serde names a missing field only in its message, at the parent's path: the arguments themselves.
        match reason.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            Some(argument) if field == "." => ArgumentError::Missing { action, argument: argument.to_owned() },
            _ => ArgumentError::Invalid { field, reason },
        }
    })
}

/// The field names of `A`, as its derived `Deserialize` hands them to `deserialize_struct`.
fn names_of<A: DeserializeOwned>() -> &'static [&'static str] {
    let mut names: &'static [&'static str] = &[];
    // The introspecting deserializer always ends in an error, once it has the names.
    let _ = A::deserialize(StructFields(&mut names));
    names
}

struct StructFields<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for StructFields<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("arguments are a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("only the field names were asked for"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit unit_struct
        newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// A number of seconds, more than 0 (or from 0 when `zero_allowed`) and at most `max`.
pub fn seconds<'de, D: Deserializer<'de>>(deserializer: D, zero_allowed: bool, max: f64) -> Result<Duration, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let in_range = |seconds: &f64| if zero_allowed { *seconds >= 0.0 } else { *seconds > 0.0 } && *seconds <= max;
    let range = if zero_allowed { format!("from 0 to {max}") } else { format!("greater than 0 and at most {max}") };
    value
        .as_f64()
        .filter(in_range)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| de::Error::custom(format!("must be a number of seconds {range}, got {value}")))
}
