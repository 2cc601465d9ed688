//! Opaque cursors for keyset pagination: the sort key and id of the last row of a page.

use crate::{Result, StoreError};
use base64::Engine;

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn encode(parts: &[&str]) -> String {
    ENGINE.encode(parts.join("\n"))
}

/// The `n` parts of a cursor made by `encode`, or `BadCursor`.
pub(crate) fn decode(cursor: &str, n: usize) -> Result<Vec<String>> {
    let bytes = ENGINE.decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)?;
    let parts: Vec<String> = text.split('\n').map(str::to_owned).collect();
    // The last part is always a row id; no part may smuggle control characters into a query.
    if parts.len() != n
        || !parts.last().is_some_and(|id| crate::is_id(id))
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(StoreError::BadCursor);
    }
    Ok(parts)
}

/// A page of a list: `cursor` as a previous page handed it out, `limit` rows.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: i64,
}

/// A newest-first page of rows keyed by their time-ordered id (UUIDv7): `load(after, n)`
/// reads up to `n` rows with ids below `after`; the cursor is the last row's id.
pub(crate) fn newest_first<R, T>(
    query: &PageQuery,
    load: impl FnOnce(Option<&str>, i64) -> Result<Vec<R>>,
    id_of: impl Fn(&R) -> &str,
    convert: impl Fn(R) -> Option<T>,
) -> Result<tollgate_model::Page<T>> {
    let after = match &query.cursor {
        Some(c) => Some(decode(c, 1)?.remove(0)),
        None => None,
    };
    let mut rows = load(after.as_deref(), query.limit + 1)?;
    let more = rows.len() as i64 > query.limit;
    rows.truncate(query.limit.max(0) as usize);
    let next_cursor = if more {
        rows.last().map(|r| encode(&[id_of(r)]))
    } else {
        None
    };
    Ok(tollgate_model::Page {
        items: rows.into_iter().filter_map(convert).collect(),
        next_cursor,
    })
}
