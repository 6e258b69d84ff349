//! Secrets never shown: values under keys that look secret are masked in records, responses and logs.
//!
//! Matching is a plain case-insensitive "contains" so the rule is easy to predict: `token_count` and `author` are
//! masked too. Masking a harmless value costs little; showing a credential cannot be undone.

use serde_json::Value;

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
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if is_secret_key(key) {
                    *item = Value::String(MASK.to_string());
                } else {
                    redact_in_place(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

/// For text logs: replaces secret values that appear verbatim in `text` (the string values under secret keys of
/// `secrets_from`, of at least 4 characters) with MASK.
///
/// For a value like "Bearer abc123" the credential after the scheme is masked on its own too, since logs often show
/// the bare token.
pub fn redact_text(text: &str, secrets_from: &Value) -> String {
    let mut secrets = Vec::new();
    collect_secrets(secrets_from, false, &mut secrets);
    for secret in secrets.clone() {
        if let Some((_, credential)) = secret.trim().split_once(char::is_whitespace) {
            secrets.push(credential.trim().to_string());
        }
    }
    secrets.retain(|secret| secret.chars().count() >= MIN_TEXT_SECRET_CHARS && !MASK.contains(secret.as_str()));
    // Longest first, so a secret that contains another is masked whole rather than leaving its remainder visible.
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    let mut redacted = text.to_string();
    for secret in &secrets {
        if redacted.contains(secret.as_str()) {
            redacted = redacted.replace(secret.as_str(), MASK);
        }
    }
    redacted
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
}
