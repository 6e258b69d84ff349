//! How the text of a setting (a flag or its environment variable) becomes a typed value: clap value parsers, shared by
//! `eris serve`'s settings ([`crate::config`], [`crate::misarch::settings`], [`crate::auth::settings`]).
//!
//! Each parser trims the text and, when it cannot use it, stops eris with a message that names the variable and the
//! flag, the value, and what was expected: `ERIS_WORKER_LEASE_SECS (--worker-lease-secs): '1' is not a whole number
//! of seconds from 2 to 3600`. An empty variable counts as unset (see `main`), so such a message is always about a
//! value someone wrote.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Arg, Command, ValueEnum};
use secrecy::SecretString;
use url::Url;

/// A parser of `T` whose errors name the setting and say what it expects.
#[derive(Clone)]
pub struct Setting<T> {
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
    possible: fn() -> Vec<PossibleValue>,
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Setting<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        (self.parse)(text.trim()).ok_or_else(|| {
            let name = match arg {
                Some(arg) => match (arg.get_env(), arg.get_long()) {
                    (Some(env), Some(long)) => format!("{} (--{long})", env.to_string_lossy()),
                    (None, Some(long)) => format!("--{long}"),
                    _ => arg.get_id().to_string(),
                },
                None => "a setting".to_owned(),
            };
            clap::Error::raw(ErrorKind::ValueValidation, format!("{name}: '{text}' {}\n", (self.expected)()))
                .with_cmd(cmd)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let possible = (self.possible)();
        (!possible.is_empty()).then(|| Box::new(possible.into_iter()) as Box<dyn Iterator<Item = PossibleValue>>)
    }
}

fn none() -> Vec<PossibleValue> {
    Vec::new()
}

/// A whole number of seconds from `MIN` to `MAX`.
pub fn seconds<const MIN: u64, const MAX: u64>() -> Setting<Duration> {
    Setting {
        parse: |text| text.parse::<u64>().ok().filter(|secs| (MIN..=MAX).contains(secs)).map(Duration::from_secs),
        expected: || format!("is not a whole number of seconds from {MIN} to {MAX}"),
        possible: none,
    }
}

/// A number of bytes from `MIN` to `MAX`.
pub fn bytes<const MIN: usize, const MAX: usize>() -> Setting<usize> {
    Setting {
        parse: |text| text.parse::<usize>().ok().filter(|bytes| (MIN..=MAX).contains(bytes)),
        expected: || format!("is not a number of bytes from {MIN} to {MAX}"),
        possible: none,
    }
}

/// A whole number from `MIN` to `MAX` (days, trials, …).
pub fn whole<const MIN: u32, const MAX: u32>() -> Setting<u32> {
    Setting {
        parse: |text| text.parse::<u32>().ok().filter(|count| (MIN..=MAX).contains(count)),
        expected: || format!("is not a whole number from {MIN} to {MAX}"),
        possible: none,
    }
}

/// A number of connections from `MIN` to `MAX`.
pub fn connections<const MIN: u32, const MAX: u32>() -> Setting<u32> {
    Setting {
        parse: |text| text.parse::<u32>().ok().filter(|count| (MIN..=MAX).contains(count)),
        expected: || format!("is not a whole number of connections from {MIN} to {MAX}"),
        possible: none,
    }
}

/// An address and port to listen on.
pub fn socket_address() -> Setting<SocketAddr> {
    Setting {
        parse: |text| text.parse().ok(),
        expected: || "is not an address and port such as 127.0.0.1:8080".to_owned(),
        possible: none,
    }
}

/// An `http://` or `https://` URL with a host.
pub fn http_url() -> Setting<Url> {
    Setting {
        parse: |text| {
            Url::parse(text).ok().filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        },
        expected: || "is not an http:// or https:// URL".to_owned(),
        possible: none,
    }
}

/// Text that is not empty, such as a name.
pub fn text() -> Setting<String> {
    Setting {
        parse: |text| (!text.is_empty()).then(|| text.to_owned()),
        expected: || "is empty".to_owned(),
        possible: none,
    }
}

/// A credential: never shown in logs, `Debug` output or error messages once parsed.
pub fn secret() -> Setting<SecretString> {
    Setting {
        parse: |text| (!text.is_empty()).then(|| SecretString::from(text.to_owned())),
        expected: || "is empty".to_owned(),
        possible: none,
    }
}

/// One of an enum's values (`ValueEnum`), by name.
pub fn one_of<E: ValueEnum + Clone + Send + Sync + 'static>() -> Setting<E> {
    Setting {
        parse: |text| E::from_str(text, true).ok(),
        expected: || {
            let names: Vec<String> = E::value_variants()
                .iter()
                .filter_map(|variant| variant.to_possible_value().map(|value| format!("'{}'", value.get_name())))
                .collect();
            match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("is not {} or {last}", rest.join(", ")),
                _ => format!("is not {}", names.concat()),
            }
        },
        possible: || E::value_variants().iter().filter_map(ValueEnum::to_possible_value).collect(),
    }
}

/// Makes every argument whose variable is set to nothing but spaces behave as if the variable were unset, so its
/// default applies: Compose files and ConfigMaps often list every variable, some of them empty.
pub fn empty_variables_unset(mut command: Command) -> Command {
    let empty: Vec<_> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_env().and_then(std::env::var_os).is_some_and(|value| value.to_string_lossy().trim().is_empty())
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in empty {
        command = command.mut_arg(id, |arg| arg.env(None::<&'static str>));
    }
    let subcommands: Vec<String> = command.get_subcommands().map(|sub| sub.get_name().to_owned()).collect();
    for name in subcommands {
        command = command.mut_subcommand(name, empty_variables_unset);
    }
    command
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
    enum Mode {
        Token,
        Jwt,
        None,
    }

    #[derive(Debug, Parser)]
    struct Settings {
        #[arg(long, env = "ERIS_TEST_ONLY_LEASE_SECS", value_parser = seconds::<2, 3600>(), default_value = "15")]
        lease: Duration,
        #[arg(long, value_parser = bytes::<1024, 2048>())]
        body: Option<usize>,
        #[arg(long, value_parser = http_url())]
        url: Option<Url>,
        #[arg(long, value_parser = one_of::<Mode>())]
        mode: Option<Mode>,
    }

    fn error(args: &[&str]) -> String {
        Settings::try_parse_from(std::iter::once("eris").chain(args.iter().copied())).unwrap_err().to_string()
    }

    #[test]
    fn values_are_typed_and_trimmed() {
        let settings =
            Settings::try_parse_from(["eris", "--lease", " 20 ", "--url", "http://grafana:3000", "--mode", "JWT"])
                .unwrap();
        assert_eq!(settings.lease, Duration::from_secs(20));
        assert_eq!(settings.url.unwrap().as_str(), "http://grafana:3000/");
        assert_eq!(settings.mode, Some(Mode::Jwt));
        assert_eq!(Settings::try_parse_from(["eris"]).unwrap().lease, Duration::from_secs(15));
    }

    #[test]
    fn errors_name_the_variable_the_value_and_what_is_expected() {
        assert_eq!(
            error(&["--lease", "1"]),
            "error: ERIS_TEST_ONLY_LEASE_SECS (--lease): '1' is not a whole number of seconds from 2 to 3600\n"
        );
        assert!(error(&["--body", "lots"]).contains("--body: 'lots' is not a number of bytes from 1024 to 2048"));
        assert!(error(&["--url", "grafana:3000"]).contains("'grafana:3000' is not an http:// or https:// URL"));
        assert!(
            error(&["--mode", "open"]).contains("'open' is not 'token', 'jwt' or 'none'"),
            "{}",
            error(&["--mode", "open"])
        );
    }
}
