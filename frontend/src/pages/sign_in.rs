//! The sign-in page: the identity provider's sign-in, or in demo mode a picker of the demo
//! users; and why the last session ended, when it did.

use super::role_label;
use crate::components::ErrorMessage;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_client::Client;
use tollgate_model::{Me, SignInOptions};

/// Sign-in. `notice` says why the user is here again (a session that ended, a refused
/// sign-in).
#[component]
pub fn SignIn(
    options: Option<SignInOptions>,
    notice: Option<String>,
    on_signed_in: Callback<(String, Me)>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let demo = options.as_ref().is_some_and(|o| o.demo);
    let provider = options.and_then(|o| o.oidc).map(|provider| {
        // `https://host/…` → `host`, with char patterns only: a substring searcher would
        // weigh on the bundle.
        let host = provider.issuer.split('/').nth(2).unwrap_or_default().to_owned();
        let go = move |_| {
            let provider = provider.clone();
            spawn_local(async move {
                if let Err(why) = crate::oidc::start(&provider, &crate::oidc::here()).await {
                    error.set(Some(why));
                }
            });
        };
        view! {
            <p>"Sign in with your organisation's account to manage your registry tokens."</p>
            <button type="button" class="primary" on:click=go>"Sign in"</button>
            <p class="hint">{format!("You will sign in at {host}.")}</p>
        }
    });
    view! {
        <main class="sign-in">
            <h1>"Tollgate"</h1>
            {notice.map(|n| view! { <p class="notice" role="alert">{n}</p> })}
            {move || error.get().map(|e| view! { <ErrorMessage message=e /> })}
            {provider}
            {demo.then(|| demo_picker(error, on_signed_in))}
        </main>
    }
}

/// Demo mode: a picker of the demo users (a plain function: a component's props builder
/// would weigh on the bundle).
fn demo_picker(error: RwSignal<Option<String>>, on_signed_in: Callback<(String, Me)>) -> impl IntoView {
    let users = LocalResource::new(|| async { Client::new("").demo_users().await });
    let pick = move |id: String| {
        spawn_local(async move {
            let anonymous = Client::new("");
            let result = async {
                let session = anonymous.demo_session(&id).await?;
                let me = anonymous.with_bearer(&session.access_token).me().await?;
                Ok::<_, tollgate_client::ClientError>((session.access_token, me))
            }
            .await;
            match result {
                Ok(signed_in) => on_signed_in.run(signed_in),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <p class="banner" role="note">"Demo mode: sign in as one of the demo users."</p>
        <h2>"Sign in as"</h2>
        <Suspense fallback=|| view! { <p role="status">"Loading the demo users…"</p> }>
            {move || users.get().map(|result| match result {
                Ok(list) => view! {
                    <ul class="users" aria-label="Demo users">
                        {list.into_iter().map(|u| {
                            let id = u.id.clone();
                            view! {
                                <li>
                                    <button type="button" class="user" on:click=move |_| pick(id.clone())>
                                        <strong>{u.name.clone()}</strong>
                                        <span>{role_label(u.role)}</span>
                                        <span>{u.project.name.clone()}</span>
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(e) => view! { <ErrorMessage message=format!("Sign-in is not available: {e}") /> }.into_any(),
            })}
        </Suspense>
    }
}
