//! The Tollgate portal: a client-side rendered Leptos app that calls only the REST API,
//! through `tollgate-client`.

mod components;
mod dialogs;
mod oidc;
mod pages;

use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_client::{Client, ClientError};
use tollgate_model::{ErrorCode, Me, OidcOptions, Role, SignInOptions};

/// The signed-in user, as the server says they are. The bearer token lives beside it
/// (renewals replace it while pages keep their session).
#[derive(Clone, PartialEq)]
pub struct Session {
    pub me: Me,
}

impl Session {
    pub fn client(&self) -> Client {
        Client::new("").with_bearer(&bearer().unwrap_or_default())
    }

    pub fn is_admin(&self) -> bool {
        self.me.role == Role::CustomerAdmin
    }
}

const BEARER_KEY: &str = "tollgate.bearer";

/// The bearer token of this tab's session (session storage: never local storage).
fn bearer() -> Option<String> {
    oidc::get(BEARER_KEY)
}

fn keep_bearer(token: Option<&str>) {
    match token {
        Some(t) => oidc::set(BEARER_KEY, t),
        None => oidc::remove(BEARER_KEY),
    }
}

thread_local! {
    /// Ends the session with a message for the sign-in page.
    static END_SESSION: std::cell::Cell<Option<Callback<String>>> = const { std::cell::Cell::new(None) };
    /// Bumped by every sign-in and sign-out: a renewal scheduled before is void.
    static GENERATION: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Ends the session: back to sign-in, with `message`.
fn end_session(message: String) {
    if let Some(end) = END_SESSION.get() {
        end.run(message);
    }
}

/// Why a refused or expired session ended, when that is what `error` says.
fn ended(error: &ClientError) -> Option<String> {
    matches!(
        error.code(),
        Some(ErrorCode::Unauthenticated | ErrorCode::SessionExpired)
    )
    .then(|| format!("Your session has ended ({error}). Sign in again."))
}

/// A call's error as the page shows it. A refused or expired session ends here: the user
/// goes back to sign-in with the reason, never to a page of errors.
pub fn shown(error: &ClientError) -> String {
    if let Some(why) = ended(error) {
        end_session(why);
    }
    error.to_string()
}

/// Renews the identity provider's session shortly before it expires: with the refresh token
/// where the provider gave one, else by a new sign-in that returns to this page.
fn schedule_renewal(options: OidcOptions) {
    let Some(expires_at) = oidc::expires_at() else { return };
    let remaining = expires_at.saturating_sub(js_sys::Date::now() as u64);
    let generation = GENERATION.get();
    oidc::schedule(remaining - (remaining / 5).min(60_000), move || {
        if GENERATION.get() != generation {
            return;
        }
        spawn_local(async move {
            match oidc::refresh(&options).await {
                Some(Ok(tokens)) if GENERATION.get() == generation => {
                    keep_bearer(Some(&tokens.access));
                    schedule_renewal(options);
                }
                Some(Ok(_)) => {}
                Some(Err(why)) => end_session(format!("Your session has ended: {why} Sign in again.")),
                None => {
                    if let Err(why) = oidc::start(&options, &oidc::here()).await {
                        end_session(why);
                    }
                }
            }
        });
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Tokens,
    ServiceUsers,
    Audit,
    Webhooks,
}

impl Page {
    pub fn path(self) -> &'static str {
        match self {
            Page::Tokens => "/tokens",
            Page::ServiceUsers => "/service-users",
            Page::Audit => "/audit",
            Page::Webhooks => "/webhooks",
        }
    }

    /// The page of the address bar (the server answers every page path with the app).
    pub fn current() -> Page {
        let path = web_sys::window()
            .and_then(|w| w.location().pathname().ok())
            .unwrap_or_default();
        match path.as_str() {
            "/service-users" => Page::ServiceUsers,
            "/audit" => Page::Audit,
            "/webhooks" => Page::Webhooks,
            _ => Page::Tokens,
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let session: RwSignal<Option<Session>> = RwSignal::new(None);
    let options: RwSignal<Option<SignInOptions>> = RwSignal::new(None);
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let restoring = RwSignal::new(true);
    let end = move |message: Option<String>| {
        GENERATION.set(GENERATION.get() + 1);
        keep_bearer(None);
        oidc::forget();
        session.set(None);
        notice.set(message);
    };
    END_SESSION.set(Some(Callback::new(move |message: String| end(Some(message)))));
    spawn_local(async move {
        let anonymous = Client::new("");
        match anonymous.sign_in_options_value().await.map(|v| oidc::options(&v)) {
            Ok(found) if found.demo || found.oidc.is_some() => options.set(Some(found)),
            Ok(_) => notice.set(Some(
                "Sign-in is not available: this server has no portal client at its identity provider (TOLLGATE_OIDC_CLIENT_ID)."
                    .into(),
            )),
            Err(e) => notice.set(Some(format!("Sign-in is not available: {e}"))),
        }
        let provider = options.get_untracked().and_then(|o| o.oidc);
        if let Some(provider) = &provider {
            match oidc::complete(provider).await {
                Some(Ok(tokens)) => keep_bearer(Some(&tokens.access)),
                Some(Err(why)) => notice.set(Some(why)),
                None => {}
            }
        }
        if let Some(token) = bearer() {
            match anonymous.with_bearer(&token).me().await {
                Ok(me) => {
                    GENERATION.set(GENERATION.get() + 1);
                    session.set(Some(Session { me }));
                    if let Some(provider) = provider {
                        schedule_renewal(provider);
                    }
                }
                Err(e) => end(Some(ended(&e).unwrap_or_else(|| format!("Sign-in failed: {e}")))),
            }
        }
        restoring.set(false);
    });
    let signed_in = Callback::new(move |(token, me): (String, Me)| {
        GENERATION.set(GENERATION.get() + 1);
        keep_bearer(Some(&token));
        notice.set(None);
        session.set(Some(Session { me }));
    });
    let sign_out = Callback::new(move |_: ()| {
        // The provider's session ends too, where it offers that.
        let leave = options
            .get_untracked()
            .and_then(|o| o.oidc)
            .and_then(|o| oidc::end_session_url(&o));
        end(None);
        if let Some(url) = leave {
            oidc::go(&url);
        }
    });
    view! {
        {move || {
            if restoring.get() {
                view! { <p class="loading" role="status">"Loading…"</p> }.into_any()
            } else {
                match session.get() {
                    None => view! { <pages::SignIn options=options.get() notice=notice.get() on_signed_in=signed_in /> }.into_any(),
                    Some(s) => view! { <pages::Shell session=s on_sign_out=sign_out /> }.into_any(),
                }
            }
        }}
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
