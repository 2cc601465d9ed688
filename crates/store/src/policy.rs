//! Who may do what: the permission table of the specification, in one place. Every
//! operation of the store asks [`check`] (or, for lists, [`token_scope`]) before it acts.
//!
//! | operation                         | customer               | customer admin        |
//! |-----------------------------------|------------------------|-----------------------|
//! | generate a user token (for self)  | yes                    | yes                   |
//! | generate a service token          | no                     | yes                   |
//! | view tokens                       | those created for them | every token of the project |
//! | re-sync a token's products        | no                     | any token of the project |
//! | re-generate a token's secret      | their own              | any token of the project |
//! | delete a token                    | their own              | any token of the project |
//! | manage service users              | no                     | yes                   |
//! | read the audit log                | no                     | yes                   |
//!
//! Something of another project does not exist for the caller (`NotFound`, never
//! `Forbidden`, so that ids do not leak), and neither does a token a customer may not see.

use crate::{Actor, StoreError};
use tollgate_model::Role;

/// What an actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GenerateUserToken,
    GenerateServiceToken,
    ViewToken,
    ResyncToken,
    RegenerateSecret,
    DeleteToken,
    ManageServiceUsers,
    ReadAuditLog,
}

impl Operation {
    pub const ALL: [Operation; 8] = [
        Operation::GenerateUserToken,
        Operation::GenerateServiceToken,
        Operation::ViewToken,
        Operation::ResyncToken,
        Operation::RegenerateSecret,
        Operation::DeleteToken,
        Operation::ManageServiceUsers,
        Operation::ReadAuditLog,
    ];
}

/// What the operation is done to, as seen from the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The actor's project as a whole (generating, service users, the audit log).
    Project,
    /// A token created for the actor.
    Own,
    /// A token of the actor's project created for someone else (a user or a service user).
    Others,
    /// Anything of another project.
    OtherProject,
}

/// The answer: go ahead, a refusal the caller may know about, or "no such thing".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Forbid(&'static str),
    Hide,
}

/// The table: may a `role` do `op` to `target`?
pub fn decide(role: Role, op: Operation, target: Target) -> Decision {
    use Decision::*;
    use Operation::*;
    use Target::*;
    let admin = role == Role::CustomerAdmin;
    match (op, target) {
        (_, OtherProject) => Hide,
        (GenerateUserToken, Project) => Allow,
        (GenerateServiceToken, Project) if admin => Allow,
        (GenerateServiceToken, Project) => Forbid("only customer admins can generate service tokens"),
        (ManageServiceUsers, Project) if admin => Allow,
        (ManageServiceUsers, Project) => Forbid("only customer admins can manage service users"),
        (ReadAuditLog, Project) if admin => Allow,
        (ReadAuditLog, Project) => Forbid("only customer admins can read the audit log"),
        // A token a customer may not see does not exist for them.
        (ViewToken | ResyncToken | RegenerateSecret | DeleteToken, Others) if !admin => Hide,
        (ViewToken | RegenerateSecret | DeleteToken, Own | Others) => Allow,
        (ResyncToken, Own | Others) if admin => Allow,
        (ResyncToken, Own) => Forbid("only customer admins can re-sync a token's products"),
        // Operations on a project asked of a token, or the other way round: nothing there.
        (_, Project | Own | Others) => Hide,
    }
}

/// [`decide`] for `actor`, as the store's error.
pub fn check(actor: &Actor, op: Operation, target: Target) -> Result<(), StoreError> {
    match decide(actor.role, op, target) {
        Decision::Allow => Ok(()),
        Decision::Forbid(why) => Err(StoreError::Forbidden(why)),
        Decision::Hide => Err(StoreError::NotFound),
    }
}

/// Which tokens of the project a list shows the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    Project,
    Own,
}

/// The tokens `role` may view: exactly those for which [`decide`] allows `ViewToken`.
pub fn token_scope(role: Role) -> TokenScope {
    match decide(role, Operation::ViewToken, Target::Others) {
        Decision::Allow => TokenScope::Project,
        _ => TokenScope::Own,
    }
}

/// Whose a token of the actor's project is: created for the actor, or for someone else.
pub fn whose(actor: &Actor, created_for_user: Option<&str>) -> Target {
    if created_for_user == Some(actor.user_id.as_str()) {
        Target::Own
    } else {
        Target::Others
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use Operation::*;
    use Role::*;
    use Target::*;

    #[test]
    fn token_lists_show_what_may_be_viewed() {
        assert_eq!(token_scope(Customer), TokenScope::Own);
        assert_eq!(token_scope(CustomerAdmin), TokenScope::Project);
    }

    #[test]
    fn another_project_is_hidden_whatever_the_operation() {
        for op in Operation::ALL {
            for role in [Customer, CustomerAdmin] {
                assert_eq!(decide(role, op, OtherProject), Hide, "{op:?} {role:?}");
            }
        }
    }

    #[test]
    fn a_customer_regenerates_and_deletes_only_their_own() {
        assert_eq!(decide(Customer, RegenerateSecret, Own), Allow);
        assert_eq!(decide(Customer, DeleteToken, Own), Allow);
        assert_eq!(decide(Customer, RegenerateSecret, Others), Hide);
        assert!(matches!(decide(Customer, ResyncToken, Own), Forbid(_)));
    }
}
