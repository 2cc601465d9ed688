//! What a verified bearer token's claims say: who the caller is (a project member with a role,
//! or an operator), read through the configured claim names, role values and the operators'
//! own trust; names and emails cleaned of characters that reorder or hide text.

use crate::error::{unauthenticated, ApiError};
use serde_json::Value;
use tollgate_model::Role;
use tollgate_store::policy::Party;
use tollgate_store::{Operator, UserClaims};

/// Which claims carry what, which values of the role claim mean which role, and which tokens
/// are operators'. A claim name is looked up as it is first (`https://example.com/roles`),
/// then as a path of dotted parts (`realm_access.roles`). The role claim may be a string or a
/// list of strings (`groups`, `roles`); when several values map to roles, the wider wins
/// (customer admin, then customer).
///
/// The operator role never comes from the role claim, which a customer's provider may let it
/// fill (a group it names itself): only from [`Operators`], a trust that customers cannot reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMap {
    pub project: String,
    pub role: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<(String, Role)>,
    pub operators: Operators,
}

/// Whose bearer tokens are operators': listed subjects (a person's `sub`, or a client-
/// credentials client's, whose `sub` is its client id), or tokens for an audience of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operators {
    pub subjects: Vec<String>,
    pub audience: Option<String>,
}

/// The role values when none are configured.
pub const DEFAULT_ROLE_VALUES: &str = "customer=customer,customer_admin=customer_admin";

impl Default for ClaimMap {
    fn default() -> ClaimMap {
        ClaimMap {
            project: "project".into(),
            role: "role".into(),
            name: "name".into(),
            email: "email".into(),
            roles: ClaimMap::parse_roles(DEFAULT_ROLE_VALUES).expect("the default role values parse"),
            operators: Operators::default(),
        }
    }
}

impl ClaimMap {
    /// `role=value` pairs separated by commas, e.g.
    /// `customer_admin=tollgate-admins,customer=tollgate-users`; a role may have several values.
    pub fn parse_roles(text: &str) -> Result<Vec<(String, Role)>, String> {
        let mut roles = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (role, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not `role=value`"))?;
            let role = match role.trim() {
                "operator" => {
                    return Err(
                        "`operator` is not read from the role claim, which a customer's identity provider \
                                may let it fill: name operators with TOLLGATE_OPERATOR_SUBJECTS or \
                                TOLLGATE_OPERATOR_AUDIENCE"
                            .into(),
                    )
                }
                other => {
                    Role::parse(other).ok_or_else(|| format!("`{other}` is not a role (customer or customer_admin)"))?
                }
            };
            let value = value.trim();
            if value.is_empty() {
                return Err(format!("`{pair}` gives no claim value"));
            }
            roles.push((value.to_owned(), role));
        }
        if roles.is_empty() {
            return Err("no role values given".into());
        }
        Ok(roles)
    }

    /// The widest role that the values of the role claim map to.
    fn role_of(&self, claim: Option<&Value>) -> Option<Role> {
        let values: Vec<&str> = match claim? {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        self.roles
            .iter()
            .filter(|(value, _)| values.contains(&value.as_str()))
            .map(|(_, role)| *role)
            .max_by_key(|r| matches!(r, Role::CustomerAdmin))
    }

    /// Whether a token of `sub` for these audiences is an operator's.
    fn is_operator(&self, sub: &str, audiences: Option<&Value>) -> bool {
        let names_audience = |wanted: &str| match audiences {
            Some(Value::String(one)) => one == wanted,
            Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(wanted)),
            _ => false,
        };
        self.operators.subjects.iter().any(|s| s == sub)
            || self.operators.audience.as_deref().is_some_and(names_audience)
    }
}

/// A display name or email from the provider, without the characters that reorder or hide
/// text (Unicode's format characters, Cf: bidirectional controls, zero-width characters, soft
/// hyphens; and the line and paragraph separators, Zl and Zp), before it is stored or shown.
pub fn clean_text(text: &str) -> String {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    text.chars()
        .filter(|c| {
            !matches!(
                c.general_category(),
                GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
            )
        })
        .collect()
}

/// A claim by its configured name: the name itself, else a path of dotted parts.
fn claim<'a>(claims: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(found) = claims.get(name) {
        return Some(found);
    }
    name.split('.').try_fold(claims, |at, part| at.get(part))
}

/// A text claim; a list of exactly one text (as group mappers send it) counts as that text.
fn text_claim(claims: &Value, name: &str) -> Option<String> {
    match claim(claims, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) if a.len() == 1 => a[0].as_str().map(str::to_owned),
        _ => None,
    }
}

impl ClaimMap {
    /// Who the token of `sub` with these (verified) claims says the caller is, or why it
    /// is refused.
    pub fn identity(&self, sub: String, all: &Value) -> Result<Identity, ApiError> {
        let map = self;
        if sub.is_empty() || sub.len() > 255 {
            return Err(unauthenticated("the bearer token's `sub` claim is empty or too long"));
        }
        let operator = map.is_operator(&sub, all.get("aud"));
        let project = text_claim(all, &map.project).filter(|p| !p.is_empty());
        let party = match (operator, &project) {
            (true, Some(_)) => {
                return Err(unauthenticated(&format!(
                    "the bearer token is an operator's (TOLLGATE_OPERATOR_SUBJECTS or TOLLGATE_OPERATOR_AUDIENCE) \
                     and also names a project (`{}`): ambiguous, refused",
                    map.project
                )))
            }
            (true, None) => Party::Operator,
            (false, _) => match claim(all, &map.role) {
                None => {
                    return Err(unauthenticated(&format!(
                        "the bearer token lacks the `{}` claim",
                        map.role
                    )))
                }
                Some(values) => Party::Member(map.role_of(Some(values)).ok_or_else(|| {
                    unauthenticated(&format!(
                        "the bearer token's `{}` claim maps to no role of Tollgate (see TOLLGATE_ROLE_VALUES)",
                        map.role
                    ))
                })?),
            },
        };
        let name = text_claim(all, &map.name).map(|n| clean_text(&n));
        let email = text_claim(all, &map.email).map(|e| clean_text(&e));
        let project = match party {
            Party::Operator => None,
            Party::Member(_) => Some(
                project
                    .ok_or_else(|| unauthenticated(&format!("the bearer token lacks the `{}` claim", map.project)))?,
            ),
        };
        let texts = [Some(&sub), name.as_ref(), email.as_ref(), project.as_ref()];
        if texts
            .into_iter()
            .flatten()
            .any(|t| t.len() > 1024 || t.chars().any(char::is_control))
        {
            return Err(unauthenticated(
                "the bearer token's claims contain control characters or are too long",
            ));
        }
        let name = name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| sub.clone());
        let identity = match (party, project) {
            (Party::Member(role), Some(project_key)) => Identity::Member(UserClaims {
                id: sub,
                name,
                email: email.unwrap_or_default(),
                project_key,
                role,
            }),
            _ => Identity::Operator(Operator { id: sub, name }),
        };
        Ok(identity)
    }
}

/// Who a valid bearer token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Member(UserClaims),
    Operator(Operator),
}
