//! What every handler shares.

use crate::auth::Verifier;
use crate::demo::DemoIssuer;
use tollgate_store::Store;

pub struct AppState {
    pub store: Store,
    pub verifier: Verifier,
    /// Present in demo mode only.
    pub demo: Option<DemoIssuer>,
    pub registry_host: String,
    pub gateway: crate::gateway::Gateway,
}
