//! Keyset pagination. Every list is ordered by `(created_at, id)`; a cursor names the last row of the previous page,
//! so a page costs the same however deep it is.

use chrono::NaiveDateTime;

/// Where a page starts and how long it is. Built by the API from `limit` and `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Cursor>,
}

/// The position after which the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: NaiveDateTime,
    pub id: String,
}

/// A page of rows, and the cursor of the next page if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from a query that fetched `limit + 1` rows: the extra row only tells that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&key)
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> crate::error::Result<U>) -> crate::error::Result<Page<U>> {
        Ok(Page { items: self.items.into_iter().map(f).collect::<Result<_, _>>()?, next: self.next })
    }
}

/// Encodes and decodes the opaque cursor text of `?cursor=`: `<microseconds since the epoch>.<id>`.
impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.and_utc().timestamp_micros(), self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        let created_at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
        uuid::Uuid::parse_str(id).ok()?;
        Some(Self { created_at, id: id.to_owned() })
    }
}

/// Applies the keyset condition and order to a boxed query over a table with `created_at` and `id` columns.
macro_rules! keyset {
    ($query:expr, $table:ident, $page:expr) => {{
        let mut query = $query;
        if let Some(cursor) = &$page.after {
            // `created_at >= c` first: a bound both databases start the index range at, so a page deep in a list
            // of a million rows reads no more of the index than the first page.
            query = query.filter($table::created_at.ge(cursor.created_at)).filter(
                $table::created_at
                    .gt(cursor.created_at)
                    .or($table::created_at.eq(cursor.created_at).and($table::id.gt(cursor.id.clone()))),
            );
        }
        query.order(($table::created_at.asc(), $table::id.asc())).limit($page.limit + 1)
    }};
}
pub(crate) use keyset;

/// A page of `$row`s of a boxed query over `$table` ([`keyset`]), its next cursor the last row's key: the one
/// body of every list query.
macro_rules! keyset_page {
    ($query:expr, $table:ident, $page:expr, $conn:expr, $row:ty) => {{
        let rows: Vec<$row> = $crate::db::page::keyset!($query, $table, $page).load($conn)?;
        $crate::db::page::Page::from_rows(rows, $page.limit, |row: &$row| $crate::db::page::Cursor {
            created_at: row.created_at,
            id: row.id.clone(),
        })
    }};
}
pub(crate) use keyset_page;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let cursor = Cursor {
            created_at: chrono::DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap().naive_utc(),
            id: "7b0c6d1e-8f5a-4c39-9d2e-1a2b3c4d5e6f".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn malformed_cursors_are_rejected() {
        for text in ["", "abc", "12.", "12.not-a-uuid", ".7b0c6d1e-8f5a-4c39-9d2e-1a2b3c4d5e6f"] {
            assert_eq!(Cursor::decode(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_full_page_has_a_next_cursor() {
        let key = |n: &i64| Cursor {
            created_at: chrono::DateTime::from_timestamp(*n, 0).unwrap().naive_utc(),
            id: n.to_string(),
        };
        let page = Page::from_rows(vec![1, 2, 3], 2, key);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next.map(|c| c.id), Some("2".into()));
        let last = Page::from_rows(vec![1, 2], 2, key);
        assert!(last.next.is_none());
    }
}
