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
