//! Storage calls from async handlers: on the blocking pool, and never waited on for longer
//! than the caller can afford, so that a hung database link makes a node answer `503`
//! instead of hanging.

use crate::error::ApiError;
use std::time::Duration;
use tollgate_store::{Store, StoreError};

/// How long a portal or API request waits for the database.
pub const API_PATIENCE: Duration = Duration::from_secs(5);
/// How long the registry gateway's checks wait: under a second, so that the gateway can ask
/// another node in time.
pub const GATEWAY_PATIENCE: Duration = Duration::from_millis(800);

/// Runs `f` with the store on the blocking pool; `503 unavailable` when it takes longer than
/// `patience` (the call itself finishes in the background: a write may still commit).
pub async fn store_call<T: Send + 'static>(
    store: &Store,
    patience: Duration,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    let call = async move {
        // In arrival order (see `Store::turns`); the turn is given back when the call ends,
        // even one that finishes after its caller gave up.
        let turn = store
            .turns()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closing".into()))?;
        actix_web::web::block(move || {
            let _turn = turn;
            f(&store)
        })
        .await
        .map_err(ApiError::from)?
        .map_err(ApiError::from)
    };
    match tokio::time::timeout(patience, call).await {
        Ok(done) => done,
        Err(_) => Err(too_slow(patience)),
    }
}

/// `503 unavailable`: the database did not answer within `patience`.
pub fn too_slow(patience: Duration) -> ApiError {
    StoreError::Unavailable(format!(
        "the database did not answer within {} ms",
        patience.as_millis()
    ))
    .into()
}
