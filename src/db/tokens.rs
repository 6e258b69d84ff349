//! Queries on API tokens.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::page::{Page, PageRequest, keyset_page};
use super::schema::api_tokens;
use super::{DbConnection, TokenRow};
use crate::error::Result;

pub fn insert(conn: &mut DbConnection, row: &TokenRow) -> Result<()> {
    diesel::insert_into(api_tokens::table).values(row).execute(conn)?;
    Ok(())
}

/// The token whose text hashes to `token_hash`, revoked and expired ones included (the caller decides).
pub fn find_by_hash(conn: &mut DbConnection, token_hash: &str) -> Result<Option<TokenRow>> {
    Ok(api_tokens::table
        .filter(api_tokens::token_hash.eq(token_hash))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<TokenRow>> {
    Ok(api_tokens::table.find(id).select(TokenRow::as_select()).first(conn).optional()?)
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> Result<Option<TokenRow>> {
    Ok(api_tokens::table.filter(api_tokens::name.eq(name)).select(TokenRow::as_select()).first(conn).optional()?)
}

pub fn list(conn: &mut DbConnection, page: &PageRequest) -> Result<Page<TokenRow>> {
    let query = api_tokens::table.select(TokenRow::as_select()).into_boxed();
    Ok(keyset_page!(query, api_tokens, page, conn, TokenRow))
}

/// Revokes the token unless it already is; returns whether this call revoked it.
pub fn revoke(conn: &mut DbConnection, id: &str, by: &str, now: NaiveDateTime) -> Result<bool> {
    let revoked = diesel::update(api_tokens::table)
        .filter(api_tokens::id.eq(id))
        .filter(api_tokens::revoked_at.is_null())
        .set((api_tokens::revoked_at.eq(now), api_tokens::revoked_by.eq(by)))
        .execute(conn)?;
    Ok(revoked == 1)
}
