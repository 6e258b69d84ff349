//! Timestamps. eris stores UTC instants with microsecond precision, the finest PostgreSQL keeps, so a value
//! reads back from either backend exactly as it was written (keyset cursors depend on that).

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn to_db(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.trunc_subsecs(6).naive_utc()
}

pub fn from_db(stored: NaiveDateTime) -> DateTime<Utc> {
    stored.and_utc()
}

/// Serializes an instant as chrono's serde does (RFC 3339 in UTC with `Z`, the seconds' fraction in 0, 3, 6 or 9
/// digits), as one string. chrono writes its text a character at a time, each piece escaped by serde_json on its
/// own: in a page of 100 trials that was a tenth of the CPU. For `#[serde(serialize_with = "time::rfc3339")]` on
/// the instants of the resources listed by the hundred.
pub fn rfc3339<S: serde::Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut text = [0_u8; 30];
    match write_rfc3339(instant, &mut text) {
        Some(length) => {
            serializer.serialize_str(std::str::from_utf8(&text[..length]).map_err(serde::ser::Error::custom)?)
        }
        // Years before 0 or after 9999, which chrono writes with a sign.
        None => serde::Serialize::serialize(instant, serializer),
    }
}

/// [`rfc3339`] of an optional instant (`null` when there is none).
pub fn rfc3339_option<S: serde::Serializer>(instant: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match instant {
        Some(instant) => rfc3339(instant, serializer),
        None => serializer.serialize_none(),
    }
}

/// Writes `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z` into `text` and answers its length; `None` for a year
/// outside 0–9999.
fn write_rfc3339(instant: &DateTime<Utc>, text: &mut [u8; 30]) -> Option<usize> {
    use chrono::{Datelike as _, Timelike as _};
    let year = u32::try_from(instant.year()).ok().filter(|year| *year <= 9999)?;
    let mut put = |at: usize, value: u32, digits: usize| {
        for (i, byte) in text[at..at + digits].iter_mut().rev().enumerate() {
            *byte = b'0' + ((value / 10_u32.pow(i as u32)) % 10) as u8;
        }
    };
    put(0, year, 4);
    put(5, instant.month(), 2);
    put(8, instant.day(), 2);
    put(11, instant.hour(), 2);
    put(14, instant.minute(), 2);
    // A leap second is kept in the nanoseconds, past 1e9, as chrono writes it: `:60`.
    let (second, nanosecond) = match instant.nanosecond() {
        leap @ 1_000_000_000.. => (instant.second() + 1, leap - 1_000_000_000),
        nanosecond => (instant.second(), nanosecond),
    };
    put(17, second, 2);
    let digits = match nanosecond {
        0 => 0,
        n if n % 1_000_000 == 0 => 3,
        n if n % 1_000 == 0 => 6,
        _ => 9,
    };
    put(20, nanosecond / 10_u32.pow(9 - digits as u32), digits);
    for (at, separator) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        text[at] = separator;
    }
    let mut length = 19;
    if digits > 0 {
        text[19] = b'.';
        length = 20 + digits;
    }
    text[length] = b'Z';
    Some(length + 1)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[derive(serde::Serialize)]
    struct Written(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);

    /// Byte for byte what chrono's serde writes.
    #[test]
    fn rfc3339_writes_what_chrono_writes() {
        let base = Utc.with_ymd_and_hms(2026, 11, 4, 2, 6, 22).unwrap();
        let mut instants = vec![
            base,
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            now(),
            Utc::now(),
        ];
        for nanos in
            [1, 10, 999, 1_000, 394_842_000, 500_000_000, 123_456_789, 999_999_999, 1_000_000_000, 1_500_000_000]
        {
            instants.push(base + chrono::Duration::nanoseconds(i64::from(nanos)));
        }
        // A leap second.
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_250_000_000);
        instants.push(leap.unwrap().and_utc());
        for instant in instants {
            assert_eq!(
                serde_json::to_string(&Written(instant)).unwrap(),
                serde_json::to_string(&instant).unwrap(),
                "{instant:?}"
            );
        }
    }
}
