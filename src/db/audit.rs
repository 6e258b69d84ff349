//! Queries on the audit log. There is an insert and reads, and nothing else: the log is append-only (the migration's
//! triggers refuse updates and deletes to anyone).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::page::{Page, PageRequest, keyset_page};
use super::schema::audit_log;
use super::{AuditRow, DbConnection};
use crate::error::Result;

/// Filters of `GET /audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, row: &AuditRow) -> Result<()> {
    diesel::insert_into(audit_log::table).values(row).execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut DbConnection, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditRow>> {
    let mut query = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(target) = &filter.target_id {
        query = query.filter(audit_log::target_id.eq(target.clone()));
    }
    if let Some(outcome) = &filter.outcome {
        query = query.filter(audit_log::outcome.eq(outcome.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_log::created_at.lt(to));
    }
    Ok(keyset_page!(query, audit_log, page, conn, AuditRow))
}
