//! Who may do what: the permission table of the specification, in one place. Every
//! operation of the store asks [`check`] (or, for lists, [`token_scope`]) before it acts.
//!
//! | operation                         | customer               | customer admin        | operator |
//! |-----------------------------------|------------------------|-----------------------|----------|
//! | generate a user token (for self)  | yes                    | yes                   | no       |
//! | generate a service token          | no                     | yes                   | no       |
//! | view tokens                       | those created for them | every token of the project | no  |
//! | re-sync a token's products        | no                     | any token of the project | no    |
//! | re-generate a token's secret      | their own              | any token of the project | no    |
//! | delete a token                    | their own              | any token of the project | no    |
//! | manage service users              | no                     | yes                   | no       |
//! | read the audit log                | no                     | yes                   | no       |
//! | manage webhooks and their log     | no                     | yes                   | no       |
//! | put and read projects             | no                     | no                    | every project |
//!
//! Something of another project does not exist for the caller (`NotFound`, never
//! `Forbidden`, so that ids do not leak), and neither does a token a customer may not see.
//! Operators belong to no project and see no token: everything of a project is refused to
//! them as a whole (`Forbidden`), before any lookup.

use crate::{Actor, StoreError};
use tollgate_model::Role;

/// Who asks: a member of a project in their role, or an operator of the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Member(Role),
    Operator,
}

impl From<Role> for Party {
    fn from(role: Role) -> Party {
        Party::Member(role)
    }
}

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
    /// Register, read and delete webhooks, read their delivery log, send a delivery again.
    ManageWebhooks,
    /// Put and read projects and their subscriptions.
    ManageProjects,
}

impl Operation {
    pub const ALL: [Operation; 10] = [
        Operation::GenerateUserToken,
        Operation::GenerateServiceToken,
        Operation::ViewToken,
        Operation::ResyncToken,
        Operation::RegenerateSecret,
        Operation::DeleteToken,
        Operation::ManageServiceUsers,
        Operation::ReadAuditLog,
        Operation::ManageWebhooks,
        Operation::ManageProjects,
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

/// The table: may `who` do `op` to `target`?
pub fn decide(who: impl Into<Party>, op: Operation, target: Target) -> Decision {
    use Decision::*;
    use Operation::*;
    use Target::*;
    let role = match (who.into(), op) {
        (Party::Operator, ManageProjects) => return Allow,
        (Party::Operator, _) => return Forbid(OPERATORS_SEE_NO_TOKEN),
        (Party::Member(_), ManageProjects) => return Forbid("only operators of the vendor can manage projects"),
        (Party::Member(role), _) => role,
    };
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
        (ManageWebhooks, Project) if admin => Allow,
        (ManageWebhooks, Project) => Forbid("only customer admins can manage webhooks"),
        // A token a customer may not see does not exist for them.
        (ViewToken | ResyncToken | RegenerateSecret | DeleteToken, Others) if !admin => Hide,
        (ViewToken | RegenerateSecret | DeleteToken, Own | Others) => Allow,
        (ResyncToken, Own | Others) if admin => Allow,
        (ResyncToken, Own) => Forbid("only customer admins can re-sync a token's products"),
        // Operations on a project asked of a token, or the other way round: nothing there.
        (_, Project | Own | Others) => Hide,
    }
}

/// Why an operator is refused everything of a project.
pub const OPERATORS_SEE_NO_TOKEN: &str =
    "operators manage projects and subscriptions (/api/v1/projects) and see nothing inside a project";

/// [`decide`] for `who`, as the store's error.
pub fn allowed(who: impl Into<Party>, op: Operation, target: Target) -> Result<(), StoreError> {
    match decide(who, op, target) {
        Decision::Allow => Ok(()),
        Decision::Forbid(why) => Err(StoreError::Forbidden(why)),
        Decision::Hide => Err(StoreError::NotFound),
    }
}

/// [`decide`] for `actor`, as the store's error.
pub fn check(actor: &Actor, op: Operation, target: Target) -> Result<(), StoreError> {
    allowed(actor.role, op, target)
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
        for op in Operation::ALL.into_iter().filter(|op| *op != ManageProjects) {
            for role in [Customer, CustomerAdmin] {
                assert_eq!(decide(role, op, OtherProject), Hide, "{op:?} {role:?}");
            }
        }
    }

    #[test]
    fn operators_manage_projects_and_nothing_inside_them() {
        for target in [Project, Own, Others, OtherProject] {
            for op in Operation::ALL {
                let expected = if op == ManageProjects {
                    Allow
                } else {
                    Forbid(OPERATORS_SEE_NO_TOKEN)
                };
                assert_eq!(decide(Party::Operator, op, target), expected, "{op:?} {target:?}");
            }
        }
        for role in [Customer, CustomerAdmin] {
            assert!(matches!(decide(role, ManageProjects, Project), Forbid(_)));
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
