//! Who is calling: the bearer token of a request, verified and resolved to the acting portal
//! user (signed in to the store) or operator, as actix extractors.

use crate::claims::Identity;
use crate::error::{unauthenticated, ApiError};
use crate::state::AppState;
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use tollgate_model::ErrorCode;
use tollgate_store::{Actor, Operator};

fn bearer_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

/// The identity of a request's bearer token.
async fn identify(state: &AppState, bearer: Option<String>) -> Result<Identity, ApiError> {
    let token =
        bearer.ok_or_else(|| unauthenticated("send `Authorization: Bearer <token>` from your identity provider"))?;
    state.verifier.verify(&token).await
}

/// An extractor's work: the request's identity, then what the extractor makes of it.
fn from_identity<T: 'static, F>(
    req: &HttpRequest,
    then: impl FnOnce(web::Data<AppState>, Identity) -> F + 'static,
) -> LocalBoxFuture<'static, Result<T, ApiError>>
where
    F: std::future::Future<Output = Result<T, ApiError>> + 'static,
{
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let bearer = bearer_of(req);
    Box::pin(async move {
        let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
        let identity = identify(&state, bearer).await?;
        then(state, identity).await
    })
}

/// The authenticated portal user of a request (an operator is refused: they see nothing
/// inside a project).
pub struct Caller(pub Actor);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_identity(req, |state, identity| async move {
            let claims = match identity {
                Identity::Member(claims) => claims,
                Identity::Operator(_) => {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        tollgate_store::policy::OPERATORS_SEE_NO_TOKEN,
                    ))
                }
            };
            let actor =
                crate::blocking::store_call(&state.store, crate::blocking::API_PATIENCE, move |s| s.sign_in(&claims))
                    .await?;
            Ok(Caller(actor))
        })
    }
}

/// An operator of the vendor: the caller of `/api/v1/projects`.
pub struct OperatorCaller(pub Operator);

impl FromRequest for OperatorCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<OperatorCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_identity(req, |_, identity| async move {
            match identity {
                Identity::Operator(operator) => Ok(OperatorCaller(operator)),
                Identity::Member(claims) => {
                    use tollgate_store::policy::{allowed, Operation, Target};
                    allowed(claims.role, Operation::ManageProjects, Target::Project)?;
                    Err(ApiError::internal(
                        "the permission table let a project member manage projects",
                    ))
                }
            }
        })
    }
}
