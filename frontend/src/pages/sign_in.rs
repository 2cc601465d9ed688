//! The sign-in page: in demo mode, a picker of the demo users.

use super::role_label;
use crate::components::ErrorMessage;
use crate::Session;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_client::Client;

/// Sign-in: in demo mode, a picker of the demo users.
#[component]
pub fn SignIn(on_signed_in: Callback<Session>) -> impl IntoView {
    let users = LocalResource::new(|| async { Client::new("").demo_users().await });
    let error = RwSignal::new(None::<String>);
    let pick = move |id: String| {
        spawn_local(async move {
            let anonymous = Client::new("");
            let result = async {
                let session = anonymous.demo_session(&id).await?;
                let me = anonymous.with_bearer(&session.access_token).me().await?;
                Ok::<_, tollgate_client::ClientError>(Session {
                    bearer: session.access_token,
                    me,
                })
            }
            .await;
            match result {
                Ok(session) => on_signed_in.run(session),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <main class="sign-in">
            <h1>"Tollgate"</h1>
            <p class="banner" role="note">"Demo mode: sign in as one of the demo users."</p>
            <h2>"Sign in as"</h2>
            {move || error.get().map(|e| view! { <ErrorMessage message=e /> })}
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
        </main>
    }
}
