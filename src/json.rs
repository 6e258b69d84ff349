//! JSON stored as text columns.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

pub fn to_text(value: &impl Serialize) -> String {
    // Serializing maps, vectors and plain structs to a string cannot fail.
    serde_json::to_string(value).expect("a JSON value serializes")
}

pub fn from_text<T: DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}

pub fn from_optional_text<T: DeserializeOwned>(text: Option<&str>) -> Result<Option<T>> {
    text.map(from_text).transpose()
}

/// The format of the API views kept in rows (`trials.api_view`, `experiments.api_view`), written before each view.
/// Raise it whenever what the API shows of a trial or an experiment changes (a field added, masking widened):
/// a view of another format is then built anew when it is read, and kept in the new format.
pub(crate) const VIEW_FORMAT: &str = "v5:";

/// The text to keep for the API view `json`.
pub(crate) fn seal_view(json: &str) -> String {
    format!("{VIEW_FORMAT}{json}")
}

/// The API view in a kept text, if it is of the present format.
pub(crate) fn open_view(kept: &str) -> Option<&str> {
    kept.strip_prefix(VIEW_FORMAT)
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// For PATCH: each field the patch gives (`Some`) replaces the same field of the target. The patch is taken apart
/// exhaustively, so a field added to the patch type and forgotten here does not compile.
macro_rules! apply_patch {
    ($patch:expr => $target:expr; $patch_type:ident { $($field:ident),+ $(,)? }) => {{
        let $patch_type { $($field),+ } = $patch;
        $(if let Some(value) = $field {
            $target.$field = value;
        })+
    }};
}
pub(crate) use apply_patch;
