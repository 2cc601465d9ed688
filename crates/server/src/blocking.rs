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
        let asked = std::time::Instant::now();
        let turn = store
            .turns()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closing".into()))?;
        store.waited_for_turn(asked.elapsed());
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

#[cfg(test)]
mod tests {
    use super::store_call;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A request whose patience runs out while it waits for a database turn answers 503,
    /// leaves the queue and never runs its call (it changes nothing); the turns all come back,
    /// and the next request is served at once.
    #[actix_web::test]
    async fn a_request_that_gives_up_waiting_for_a_turn_leaves_the_queue_and_does_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = tollgate_store::Store::open(&dir.path().join("t.db").to_string_lossy(), 1).unwrap();
        assert_eq!(store.turns().available_permits(), 1);
        // The only turn, held for 600 ms.
        let busy = {
            let store = store.clone();
            actix_web::rt::spawn(async move {
                store_call(&store, Duration::from_secs(5), |_| {
                    std::thread::sleep(Duration::from_millis(600));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(store.turns().available_permits(), 0);
        let ran = Arc::new(AtomicBool::new(false));
        let gave_up = {
            let ran = ran.clone();
            store_call(&store, Duration::from_millis(100), move |_| {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await
        };
        let Err(refused) = gave_up else {
            panic!("the waiting request did not give up");
        };
        assert_eq!(actix_web::ResponseError::status_code(&refused).as_u16(), 503);
        busy.await.unwrap().unwrap();
        // Had the request stayed in the queue, the freed turn would have gone to it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!ran.load(Ordering::SeqCst), "the request that gave up ran its call");
        assert_eq!(store.turns().available_permits(), 1);
        let next = store_call(&store, Duration::from_millis(500), |_| Ok(7)).await;
        assert_eq!(next.ok(), Some(7));
    }
}
