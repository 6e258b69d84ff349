//! Timestamp columns of the rows that lists read by the hundred, read faster on SQLite.
//!
//! SQLite keeps a timestamp as text, which diesel writes as `%F %T%.f` and reads by trying chrono's
//! `parse_from_str` with up to 18 formats, interpreting each format string anew: 13 % of a list page's CPU went to it.
//! [`StoredTime`] parses the one format diesel writes (the seconds' fraction optional) by hand and hands anything
//! else to diesel's own parsing, so every text diesel reads is still read, and read the same. PostgreSQL's
//! timestamps arrive as binary and go to diesel as they are.
//!
//! Used as `#[diesel(deserialize_as = StoredTime)]` (or [`MaybeStoredTime`] for a nullable column) on a model's
//! `NaiveDateTime` field: the models keep their plain types.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::sql_types::{Nullable, Timestamp};

use super::connection::{MultiBackend, MultiRawValue};

/// A `Timestamp` column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct StoredTime(NaiveDateTime);

/// A `Nullable<Timestamp>` column's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct MaybeStoredTime(Option<NaiveDateTime>);

impl From<StoredTime> for NaiveDateTime {
    fn from(time: StoredTime) -> Self {
        time.0
    }
}

impl From<MaybeStoredTime> for Option<NaiveDateTime> {
    fn from(time: MaybeStoredTime) -> Self {
        time.0
    }
}

impl FromSql<Timestamp, MultiBackend> for StoredTime {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        match value {
            MultiRawValue::Sqlite(mut value) => match parse_written(value.read_text()) {
                Some(time) => Ok(Self(time)),
                None => Ok(Self(<NaiveDateTime as FromSql<Timestamp, diesel::sqlite::Sqlite>>::from_sql(value)?)),
            },
            value => Ok(Self(value.from_sql::<NaiveDateTime, Timestamp>()?)),
        }
    }
}

impl FromSql<Nullable<Timestamp>, MultiBackend> for MaybeStoredTime {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        Ok(Self(Some(StoredTime::from_sql(value)?.0)))
    }

    fn from_nullable_sql(value: Option<MultiRawValue<'_>>) -> deserialize::Result<Self> {
        value.map_or(Ok(Self(None)), Self::from_sql)
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1 to 9 digits: what diesel's `%F %T%.f` writes. `None` for
/// anything else (diesel reads it).
fn parse_written(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[10] != b' ' || bytes[13] != b':' {
        return None;
    }
    if bytes[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range]
            .iter()
            .try_fold(0_u32, |value, byte| byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0')))
    };
    let nanoseconds = match &bytes[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            number(20..bytes.len())? * 10_u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?)?;
    // Seconds of 60 (a leap second, which chrono reads) are refused here, and left to diesel.
    let time = NaiveTime::from_hms_nano_opt(number(11..13)?, number(14..16)?, number(17..19)?, nanoseconds)?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the hand-written parser reads, it reads as chrono reads diesel's format; the rest it leaves.
    #[test]
    fn reads_what_diesel_writes_as_chrono_does() {
        let diesel_reads = |text: &str| NaiveDateTime::parse_from_str(text, "%F %T%.f").ok();
        for text in [
            "2026-11-04 02:06:22.394842",
            "2026-11-04 02:06:22",
            "2026-11-04 02:06:22.5",
            "2026-11-04 02:06:22.123456789",
            "1970-01-01 00:00:00.000001",
            "2024-02-29 23:59:59.999999",
        ] {
            assert_eq!(parse_written(text), diesel_reads(text), "{text}");
            assert!(parse_written(text).is_some(), "{text}");
        }
        // Written by diesel from a chrono value: the same value back.
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(parse_written(&now.format("%F %T%.f").to_string()), Some(now));
        for other in [
            "2023-02-29 00:00:00",
            "2026-11-04T02:06:22",
            "2026-11-04 02:06:22Z",
            "2026-11-04 02:06:22+00:00",
            "2026-11-04 02:06:22.",
            "2026-11-04 02:06:22.1234567890",
            "2026-11-04 24:00:00",
            "2016-12-31 23:59:60",
            "2460648.5",
            "",
        ] {
            assert_eq!(parse_written(other), None, "{other}");
        }
    }
}
