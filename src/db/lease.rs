//! A lease in the database: at most one holder at a time across every eris process sharing it, portable to both
//! backends (one conditional UPDATE, no advisory locks).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::worker_leases;
use crate::error::Result;

/// Takes or renews the lease `name` for `holder` until `expires_at`: succeeds when it is free, expired, or already
/// `holder`'s.
pub fn acquire(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<bool> {
    let updated = diesel::update(worker_leases::table.find(name))
        .filter(
            worker_leases::holder
                .is_null()
                .or(worker_leases::holder.eq(holder))
                .or(worker_leases::expires_at.is_null())
                .or(worker_leases::expires_at.lt(now)),
        )
        .set((worker_leases::holder.eq(holder), worker_leases::expires_at.eq(expires_at)))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Gives the lease up, if `holder` has it, so another process need not wait for it to expire.
pub fn release(conn: &mut DbConnection, name: &str, holder: &str) -> Result<()> {
    diesel::update(worker_leases::table.find(name).filter(worker_leases::holder.eq(holder)))
        .set((worker_leases::holder.eq(None::<String>), worker_leases::expires_at.eq(None::<NaiveDateTime>)))
        .execute(conn)?;
    Ok(())
}

/// Who holds the lease, and until when.
pub fn holder(conn: &mut DbConnection, name: &str) -> Result<(Option<String>, Option<NaiveDateTime>)> {
    Ok(worker_leases::table.find(name).select((worker_leases::holder, worker_leases::expires_at)).first(conn)?)
}
