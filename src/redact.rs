//! Secrets never shown: values under keys that look secret are masked in records, responses and logs.
//!
//! Matching is a plain case-insensitive "contains" so the rule is easy to predict: `token_count` and `author` are
//! masked too. Masking a harmless value costs little; showing a credential cannot be undone.
//!
//! This is the one place of the rule and its walks: [`redact`] makes the masked view the API shows, [`restore`]
//! turns a masked view sent back (PUT, PATCH) into the stored values again, and [`SecretTexts`] masks secret values
//! seen verbatim in free text (error messages, logs).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub const MASK: &str = "*****";

const SECRET_PARTS: [&str; 12] = [
    "auth",
    "token",
    "password",
    "passwd",
    "cookie",
    "secret",
    "api-key",
    "api_key",
    "apikey",
    "private-key",
    "private_key",
    "credential",
];

/// Shorter strings are left alone in free text: masking every "on" or "1" would garble logs without protecting much.
const MIN_TEXT_SECRET_CHARS: usize = 4;

/// Keys that look secret, case-insensitively containing: auth, token, password, passwd, cookie, secret, api-key,
/// api_key, apikey, private-key/private_key, credential.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_PARTS.iter().any(|part| key.contains(part))
}

/// A copy of `value` where every value under a secret-looking key (any type, however deep) becomes MASK; arrays and
/// other objects are walked.
pub fn redact(value: &Value) -> Value {
    let mut copy = value.clone();
    redact_in_place(&mut copy);
    copy
}

/// Redacts in place.
pub fn redact_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => redact_object(map),
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

/// Redacts a JSON object (a schedule's `parameters`, say) in place.
pub fn redact_object(map: &mut Map<String, Value>) {
    for (key, item) in map.iter_mut() {
        if is_secret_key(key) {
            *item = Value::String(MASK.to_string());
        } else {
            redact_in_place(item);
        }
    }
}

/// The masked view of a whole document (an experiment's definition, say): [`redact`] through its JSON form. The
/// document's own field names must not look secret, so that the masked view still has its type.
pub fn masked<T: Serialize + DeserializeOwned>(document: &T) -> Result<T> {
    let value = serde_json::to_value(document).map_err(|e| Error::internal(format!("cannot mask a document: {e}")))?;
    serde_json::from_value(redact(&value)).map_err(|e| Error::internal(format!("a masked document is unreadable: {e}")))
}

/// The code of the error for a MASK sent where no stored value can be kept.
pub const MASKED_WITHOUT_VALUE: &str = "masked_secret_without_value";

/// Undoes the masking of a view sent back: every value that is exactly MASK under a secret-looking key (directly,
/// or anywhere below one) takes the value `stored` has at the same path: objects by key, arrays by index. Anything
/// else in `incoming` is kept as sent.
///
/// `path` names `incoming` in the request (`parameters`; empty for a whole body); the paths in errors continue it
/// as elsewhere: `steps[1].where.headers.Authorization`. A MASK with no stored value at its path (a new key, an
/// array that moved, or nothing stored at all: `stored` None) is refused with `masked_secret_without_value`.
pub fn restore(incoming: &mut Value, stored: Option<&Value>, path: &str) -> Result<()> {
    restore_value(incoming, stored, false, path)
}

/// [`restore`] for a JSON object field, such as a schedule's `parameters`.
pub fn restore_object(
    incoming: &mut Map<String, Value>,
    stored: Option<&Map<String, Value>>,
    path: &str,
) -> Result<()> {
    restore_map(incoming, stored, false, path)
}

/// [`restore`] for a whole document (an experiment's definition) against the stored one, through their JSON forms.
pub fn restored<T: Serialize + DeserializeOwned>(incoming: T, stored: Option<&T>) -> Result<T> {
    let to_value =
        |document| serde_json::to_value(document).map_err(|e| Error::internal(format!("cannot read a document: {e}")));
    let mut value = to_value(&incoming)?;
    let stored = stored.map(to_value).transpose()?;
    restore(&mut value, stored.as_ref(), "")?;
    serde_json::from_value(value).map_err(|e| Error::internal(format!("a restored document is unreadable: {e}")))
}

fn restore_value(incoming: &mut Value, stored: Option<&Value>, under_secret: bool, path: &str) -> Result<()> {
    match incoming {
        Value::String(text) if under_secret && text == MASK => match stored {
            Some(stored) => *incoming = stored.clone(),
            None => {
                return Err(Error::invalid(
                    MASKED_WITHOUT_VALUE,
                    path,
                    format!(
                        "'{path}' is '{MASK}', the mask eris shows instead of a secret, but no secret is stored at \
                         '{path}' to keep; send the real value"
                    ),
                ));
            }
        },
        Value::Object(map) => restore_map(map, stored.and_then(Value::as_object), under_secret, path)?,
        Value::Array(items) => {
            let stored = stored.and_then(Value::as_array);
            for (index, item) in items.iter_mut().enumerate() {
                let at = stored.and_then(|stored| stored.get(index));
                restore_value(item, at, under_secret, &format!("{path}[{index}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn restore_map(
    incoming: &mut Map<String, Value>,
    stored: Option<&Map<String, Value>>,
    under_secret: bool,
    path: &str,
) -> Result<()> {
    for (key, item) in incoming.iter_mut() {
        let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        let secret = under_secret || is_secret_key(key);
        restore_value(item, stored.and_then(|stored| stored.get(key)), secret, &at)?;
    }
    Ok(())
}

/// For text logs: replaces secret values that appear verbatim in `text` (the string values under secret keys of
/// `secrets_from`, of at least 4 characters) with MASK.
///
/// For a value like "Bearer abc123" the credential after the scheme is masked on its own too, since logs often show
/// the bare token.
pub fn redact_text(text: &str, secrets_from: &Value) -> String {
    SecretTexts::of(&[secrets_from]).redact(text)
}

/// The secret values of a document, to mask where they appear verbatim in free text: see [`redact_text`].
#[derive(Debug, Clone, Default)]
pub struct SecretTexts {
    /// Longest first.
    secrets: Vec<String>,
}

impl SecretTexts {
    /// The string values under secret-looking keys of each of `sources`.
    pub fn of(sources: &[&Value]) -> Self {
        let mut secrets = Vec::new();
        for source in sources {
            collect_secrets(source, false, &mut secrets);
        }
        for secret in secrets.clone() {
            if let Some((_, credential)) = secret.trim().split_once(char::is_whitespace) {
                secrets.push(credential.trim().to_string());
            }
        }
        secrets.retain(|secret| secret.chars().count() >= MIN_TEXT_SECRET_CHARS && !MASK.contains(secret.as_str()));
        // Longest first, so a secret that contains another is masked whole rather than leaving its remainder visible.
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every secret value in it replaced by MASK.
    pub fn redact(&self, text: &str) -> String {
        let mut redacted = text.to_string();
        for secret in &self.secrets {
            if redacted.contains(secret.as_str()) {
                redacted = redacted.replace(secret.as_str(), MASK);
            }
        }
        redacted
    }

    /// [`Self::redact`] on every string in `value`, however deep.
    pub fn redact_strings(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(text) if self.secrets.iter().any(|secret| text.contains(secret.as_str())) => {
                *text = self.redact(text);
            }
            Value::Object(map) => map.values_mut().for_each(|item| self.redact_strings(item)),
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_strings(item)),
            _ => {}
        }
    }
}

fn collect_secrets(value: &Value, under_secret: bool, secrets: &mut Vec<String>) {
    match value {
        Value::String(s) if under_secret => secrets.push(s.clone()),
        Value::Object(map) => {
            for (key, item) in map {
                collect_secrets(item, under_secret || is_secret_key(key), secrets);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_secrets(item, under_secret, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_match_case_insensitively_by_substring() {
        for key in [
            "Authorization",
            "X-Auth-Token",
            "token_count",
            "PASSWORD",
            "db_passwd",
            "Set-Cookie",
            "client_secret",
            "X-Api-Key",
            "api_key",
            "ApiKey",
            "private-key",
            "ssh_private_key",
            "credentials",
            "author",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["status_code", "headers", "user", "api", "key", "private", "pass", "content-type", ""] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn redact_masks_any_value_under_secret_keys() {
        let value = json!({
            "headers": {"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "text/plain"},
            "password": {"nested": 1},
            "token_count": 3,
            "items": [{"secret": null}, {"name": "a"}, "plain"],
            "n": 1
        });
        let expected = json!({
            "headers": {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "text/plain"},
            "password": MASK,
            "token_count": MASK,
            "items": [{"secret": MASK}, {"name": "a"}, "plain"],
            "n": 1
        });
        assert_eq!(redact(&value), expected);
        let mut in_place = value.clone();
        redact_in_place(&mut in_place);
        assert_eq!(in_place, expected);
    }

    #[test]
    fn redact_leaves_non_objects_alone() {
        for value in [json!("token"), json!(1), json!(null), json!(["password"])] {
            assert_eq!(redact(&value), value);
        }
    }

    #[test]
    fn redact_text_masks_secret_values_seen_verbatim() {
        let from = json!({
            "where": {"headers": {"Authorization": "Bearer abc123def", "X-Api-Key": "k"}, "url": "http://h/x"},
            "credentials": {"user": "alice", "pass": ["hunter22"]},
            "token_count": 3
        });
        let text = "GET http://h/x Authorization: Bearer abc123def; token abc123def; login alice/hunter22; k=k; 3";
        let expected = format!("GET http://h/x Authorization: {MASK}; token {MASK}; login {MASK}/{MASK}; k=k; 3");
        assert_eq!(redact_text(text, &from), expected);
    }

    #[test]
    fn redact_text_prefers_the_longest_secret() {
        let from = json!({"token": "abcd", "secret": "abcdefgh"});
        assert_eq!(redact_text("x abcdefgh y abcd", &from), format!("x {MASK} y {MASK}"));
        assert_eq!(redact_text("nothing here", &from), "nothing here");
        assert_eq!(redact_text("unicode ✓ pässwört", &json!({"password": "pässwört"})), format!("unicode ✓ {MASK}"));
    }

    #[test]
    fn redact_text_ignores_short_and_mask_like_values() {
        let from = json!({"token": "abc", "secret": "****", "auth": ""});
        assert_eq!(redact_text("abc **** x", &from), "abc **** x");
    }

    fn restore_error(incoming: Value, stored: Option<Value>, path: &str) -> Error {
        let mut incoming = incoming;
        restore(&mut incoming, stored.as_ref(), path).expect_err("refused")
    }

    #[test]
    fn restore_keeps_the_stored_value_at_the_same_path() {
        let stored = json!({
            "parameters": {"api_token": "s3cr3t", "url": "http://h"},
            "steps": [
                {"where": {"headers": {"Authorization": "Bearer a"}}},
                {"where": {"headers": {"X-Api-Key": {"k": 1}}}}
            ],
            "credentials": {"user": "alice", "pass": "hunter22"}
        });
        let mut incoming = redact(&stored);
        incoming["parameters"]["url"] = json!("http://changed");
        restore(&mut incoming, Some(&stored), "").expect("restored");
        let mut expected = stored.clone();
        expected["parameters"]["url"] = json!("http://changed");
        assert_eq!(incoming, expected, "every mask takes its stored value, of any type; other changes stay");
    }

    #[test]
    fn restore_keeps_real_values_and_masks_under_other_keys() {
        let stored = json!({"token": "old", "note": "x", "items": ["a"]});
        let mut incoming = json!({"token": "new", "note": MASK, "items": [MASK], "password": "typed"});
        let expected = incoming.clone();
        restore(&mut incoming, Some(&stored), "").expect("nothing to restore");
        assert_eq!(incoming, expected, "a new value replaces the secret; a MASK under a harmless key is text");
    }

    #[test]
    fn restore_looks_below_secret_keys_too() {
        let stored = json!({"credentials": {"user": "alice", "pass": "hunter22"}});
        let mut incoming = json!({"credentials": {"user": MASK, "pass": "new-pass"}});
        restore(&mut incoming, Some(&stored), "").expect("restored");
        assert_eq!(incoming, json!({"credentials": {"user": "alice", "pass": "new-pass"}}));
    }

    #[test]
    fn restore_refuses_a_mask_with_nothing_stored_at_its_path() {
        let stored =
            json!({"parameters": {"api_token": "s"}, "steps": [{"where": {"headers": {"Authorization": "a"}}}]});
        let cases = [
            (json!({"parameters": {"api_key": MASK}}), "parameters.api_key"),
            (
                json!({"steps": [{}, {"where": {"headers": {"Authorization": MASK}}}]}),
                "steps[1].where.headers.Authorization",
            ),
            (json!({"steps": {"where": {"headers": {"Authorization": MASK}}}}), "steps.where.headers.Authorization"),
            (json!({"parameters": {"api_token": {"inner": MASK}}}), "parameters.api_token.inner"),
        ];
        for (incoming, field) in cases {
            let error = restore_error(incoming.clone(), Some(stored.clone()), "");
            assert_eq!((error.code, error.field.as_deref()), (MASKED_WITHOUT_VALUE, Some(field)), "{incoming}");
            assert!(error.message.contains("send the real value"), "{}", error.message);
        }
        let error = restore_error(json!({"list": [{"secret": MASK}]}), None, "parameters");
        assert_eq!(error.field.as_deref(), Some("parameters.list[0].secret"), "nothing stored: any mask is refused");
    }

    #[test]
    fn restore_object_and_documents_name_their_fields() {
        let stored = json!({"token": "t"}).as_object().cloned().unwrap();
        let shown = json!({"token": MASK}).as_object().cloned().unwrap();
        let mut incoming = shown.clone();
        restore_object(&mut incoming, Some(&stored), "parameters").expect("restored");
        assert_eq!(incoming, stored);
        let error = restore_object(&mut shown.clone(), None, "ticket").expect_err("refused");
        assert_eq!(error.field.as_deref(), Some("ticket.token"));

        let definition = json!({"headers": {"Cookie": "c=1"}, "n": 1});
        let shown: Value = masked(&definition).expect("masked");
        assert_eq!(shown, json!({"headers": {"Cookie": MASK}, "n": 1}));
        assert_eq!(restored(shown, Some(&definition)).expect("restored"), definition);
    }

    #[test]
    fn secret_texts_mask_every_string_of_a_document() {
        let secrets = SecretTexts::of(&[&json!({"api_token": "s3cr3t-42"}), &json!({"password": "pw-1234"})]);
        let mut record = json!({"logs": ["GET http://h/x?key=s3cr3t-42 answered 503"], "n": 1, "e": {"m": "pw-1234"}});
        secrets.redact_strings(&mut record);
        let expected = json!({"logs": [format!("GET http://h/x?key={MASK} answered 503")], "n": 1, "e": {"m": MASK}});
        assert_eq!(record, expected);
    }
}
