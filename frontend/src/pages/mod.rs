//! The portal's pages, one file each: sign-in, the signed-in shell, tokens, service users,
//! the audit log and webhooks.

mod audit;
mod service_users;
mod shell;
mod sign_in;
mod tokens;
mod webhooks;

use audit::AuditPage;
use service_users::ServiceUsersPage;
pub use shell::Shell;
pub use sign_in::SignIn;
use tokens::TokensPage;
use webhooks::WebhooksPage;

use tollgate_model::Role;

/// How a role is shown.
fn role_label(role: Role) -> &'static str {
    match role {
        Role::Customer => "Customer",
        Role::CustomerAdmin => "Customer admin",
    }
}
