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
    /// The trusted proxies and the one header they name the client in.
    pub client_addresses: crate::client_address::ClientAddresses,
    /// The portal's client at the identity provider, when the portal can sign in with it.
    pub oidc_client: Option<PortalClient>,
    pub webhooks: Webhooks,
    /// This node's housekeeping (retention), while the server runs.
    pub housekeeper: std::sync::Arc<crate::housekeeping::Housekeeper>,
}

/// Webhooks on this node.
pub struct Webhooks {
    /// This node's sender, unless it leaves delivering to other nodes.
    pub sender: Option<std::sync::Arc<crate::webhooks::Sender>>,
    /// Whether webhook URLs may point at private addresses.
    pub allow_private: bool,
}

/// The portal as a public client of the identity provider.
pub struct PortalClient {
    pub client_id: String,
    pub scopes: String,
}

impl AppState {
    /// The address of the connection's other end.
    pub fn peer_ip(req: &actix_web::HttpRequest) -> std::net::IpAddr {
        req.peer_addr()
            .map(|a| a.ip())
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
    }

    /// The request's client: the peer, or what a trusted proxy forwarded in its header.
    pub fn client(&self, req: &actix_web::HttpRequest) -> crate::client_address::Client {
        self.client_addresses.client(Self::peer_ip(req), req.headers())
    }
}
