//! Service users (customer admins): list, create, delete.

use crate::components::{local_day, ErrorMessage};
use crate::Session;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_model::CreateServiceUser;

/// Service users of the project (customer admins): list, create, delete.
#[component]
pub fn ServiceUsersPage(session: Session) -> impl IntoView {
    let client = session.client();
    let reload = RwSignal::new(0u32);
    let name = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let list_client = client.clone();
    let users = LocalResource::new(move || {
        reload.track();
        let client = list_client.clone();
        async move { client.service_users().await }
    });
    let create_client = client.clone();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = create_client.clone();
        let body = CreateServiceUser {
            name: name.get(),
            description: None,
        };
        spawn_local(async move {
            match client.create_service_user(&body).await {
                Ok(s) => {
                    message.set(Some(format!("Service user “{}” created.", s.name)));
                    name.set(String::new());
                }
                Err(e) => message.set(Some(crate::shown(&e))),
            }
            reload.update(|n| *n += 1);
        });
    };
    let remove = move |id: String| {
        let client = client.clone();
        spawn_local(async move {
            match client.delete_service_user(&id).await {
                Ok(()) => message.set(Some("Service user deleted.".into())),
                Err(e) => message.set(Some(crate::shown(&e))),
            }
            reload.update(|n| *n += 1);
        });
    };
    view! {
        <section aria-labelledby="su-title">
            <h1 id="su-title">"Service users"</h1>
            <form class="inline" on:submit=create>
                <label for="su-name">"New service user"</label>
                <input id="su-name" type="text" maxlength="64" required prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev)) />
                <button type="submit" class="primary">"Create"</button>
            </form>
            {move || message.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
            <Transition fallback=|| view! { <p role="status">"Loading…"</p> }>
                {move || users.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=crate::shown(&e) /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No service users yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table>
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Tokens"</th><th scope="col">"Created"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|s| {
                                    let id = s.id.clone();
                                    let remove = remove.clone();
                                    view! {
                                        <tr>
                                            <th scope="row">{s.name.clone()}</th>
                                            <td>{s.token_count}</td>
                                            <td>{local_day(s.created_at)}</td>
                                            <td><button type="button" class="danger" aria-label=format!("Delete service user {}", s.name)
                                                on:click=move |_| remove(id.clone())>"Delete"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
