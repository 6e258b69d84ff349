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
