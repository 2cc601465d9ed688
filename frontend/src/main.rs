//! The Tollgate portal: a client-side rendered Leptos app that calls only the REST API,
//! through `tollgate-client`.

mod components;
mod dialogs;
mod pages;

use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_client::Client;
use tollgate_model::{Me, Role};

/// The signed-in user: their bearer token and who the server says they are.
#[derive(Clone, PartialEq)]
pub struct Session {
    pub bearer: String,
    pub me: Me,
}

impl Session {
    pub fn client(&self) -> Client {
        Client::new("").with_bearer(&self.bearer)
    }

    pub fn is_admin(&self) -> bool {
        self.me.role == Role::CustomerAdmin
    }
}

const BEARER_KEY: &str = "tollgate.bearer";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Tokens,
    ServiceUsers,
    Audit,
}

impl Page {
    pub fn path(self) -> &'static str {
        match self {
            Page::Tokens => "/tokens",
            Page::ServiceUsers => "/service-users",
            Page::Audit => "/audit",
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
            _ => Page::Tokens,
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let session: RwSignal<Option<Session>> = RwSignal::new(None);
    let restoring = RwSignal::new(true);
    match storage().and_then(|s| s.get_item(BEARER_KEY).ok().flatten()) {
        Some(bearer) => spawn_local(async move {
            match Client::new("").with_bearer(&bearer).me().await {
                Ok(me) => session.set(Some(Session { bearer, me })),
                Err(_) => {
                    if let Some(s) = storage() {
                        let _ = s.remove_item(BEARER_KEY);
                    }
                }
            }
            restoring.set(false);
        }),
        None => restoring.set(false),
    }
    let signed_in = Callback::new(move |s: Session| {
        if let Some(store) = storage() {
            let _ = store.set_item(BEARER_KEY, &s.bearer);
        }
        session.set(Some(s));
    });
    let sign_out = Callback::new(move |_: ()| {
        if let Some(store) = storage() {
            let _ = store.remove_item(BEARER_KEY);
        }
        session.set(None);
    });
    view! {
        {move || {
            if restoring.get() {
                view! { <p class="loading" role="status">"Loading…"</p> }.into_any()
            } else {
                match session.get() {
                    None => view! { <pages::SignIn on_signed_in=signed_in /> }.into_any(),
                    Some(s) => view! { <pages::Shell session=s on_sign_out=sign_out /> }.into_any(),
                }
            }
        }}
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
