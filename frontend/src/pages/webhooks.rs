//! Webhooks (customer admins): register with the events wanted, the signing secret shown once,
//! delete, and each webhook's delivery log with "Send again".

use crate::components::{local_time, CopyButton, ErrorMessage, Modal};
use crate::Session;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_model::{CreateWebhook, CreatedWebhook, DeliveryState, EventType, Webhook, WebhookDelivery};

/// The project's webhooks and, for the one chosen, its delivery log.
#[component]
pub fn WebhooksPage(session: Session) -> impl IntoView {
    let client = session.client();
    let url = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<EventType>::new());
    let message = RwSignal::new(None::<String>);
    let created = RwSignal::new(None::<CreatedWebhook>);
    let log_of = RwSignal::new(None::<Webhook>);
    // Loaded into a signal rather than a resource: a resource and its <Transition> per type
    // cost the bundle about ten kilobytes each.
    let hooks = RwSignal::new(None::<Result<Vec<Webhook>, String>>);
    let list_client = client.clone();
    let load = Callback::new(move |()| {
        let client = list_client.clone();
        spawn_local(async move { hooks.set(Some(client.webhooks().await.map_err(|e| crate::shown(&e)))) });
    });
    load.run(());
    let create_client = client.clone();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = create_client.clone();
        let body = CreateWebhook {
            url: url.get(),
            events: chosen.get(),
            description: None,
        };
        spawn_local(async move {
            match client.create_webhook(&body).await {
                Ok(c) => {
                    message.set(None);
                    url.set(String::new());
                    chosen.set(Vec::new());
                    created.set(Some(c));
                }
                Err(e) => message.set(Some(crate::shown(&e))),
            }
            load.run(());
        });
    };
    let delete_client = client.clone();
    let remove = move |hook: Webhook| {
        let client = delete_client.clone();
        spawn_local(async move {
            match client.delete_webhook(&hook.id).await {
                Ok(()) => {
                    message.set(Some(format!("Webhook to {} deleted.", hook.url)));
                    if log_of.with_untracked(|l| l.as_ref().is_some_and(|l| l.id == hook.id)) {
                        log_of.set(None);
                    }
                }
                Err(e) => message.set(Some(crate::shown(&e))),
            }
            load.run(());
        });
    };
    let toggle = move |event: EventType, on: bool| {
        chosen.update(|c| {
            c.retain(|e| *e != event);
            if on {
                c.push(event);
            }
        })
    };
    let form = view! {
            <form class="stacked" on:submit=create>
                <label for="wh-url">"Payload URL"</label>
                <input id="wh-url" type="url" required placeholder="https://hooks.example.com/tollgate" prop:value=move || url.get()
                    on:input=move |ev| url.set(event_target_value(&ev)) />
                <fieldset>
                    <legend>"Events"</legend>
                    {EventType::ALL.into_iter().enumerate().map(|(i, event)| {
                        let id = format!("wh-event-{i}");
                        view! {
                            <div class="check">
                                <input type="checkbox" id=id.clone() prop:checked=move || chosen.with(|c| c.contains(&event))
                                    on:change=move |ev| toggle(event, event_target_checked(&ev)) />
                                <label for=id><code>{event.as_str()}</code></label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <button type="submit" class="primary">"Add webhook"</button>
            </form>
    };
    let list = view! {
                {move || match hooks.get() {
                    None => view! { <p role="status">"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <ErrorMessage message=e /> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="empty">"No webhooks yet."</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <table>
                            <caption class="sr-only">"Webhooks"</caption>
                            <thead><tr><th scope="col">"URL"</th><th scope="col">"Events"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|h| {
                                    let (shown, gone) = (h.clone(), h.clone());
                                    let remove = remove.clone();
                                    let events = h.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ");
                                    view! {
                                        <tr>
                                            <th scope="row"><code>{h.url.clone()}</code></th>
                                            <td>{events}</td>
                                            <td class="actions">
                                                <button type="button" aria-label=format!("Deliveries to {}", h.url)
                                                    on:click=move |_| log_of.set(Some(shown.clone()))>"Deliveries"</button>
                                                <button type="button" class="danger" aria-label=format!("Delete the webhook to {}", h.url)
                                                    on:click=move |_| remove(gone.clone())>"Delete"</button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }}
    };
    view! {
        <section aria-labelledby="wh-title">
            <h1 id="wh-title">"Webhooks"</h1>
            <p>"Tollgate sends the project's events to these URLs, signed as Standard Webhooks. Failed deliveries are retried for about a day. "
               <code>"token.expiring"</code>" and "<code>"subscription.expiring"</code>" come 30, 7 and 1 days before the end."</p>
            {form}
            {move || message.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
            {list}
            {move || log_of.get().map(|hook| view! { <DeliveryLog session=session.clone() hook=hook /> })}
        </section>
        {move || created.get().map(|c| view! {
            <Modal title="Webhook added" on_close=Callback::new(move |_| created.set(None))>
                <p>"Verify each delivery's "<code>"webhook-signature"</code>" with this signing secret. "
                   <strong>"It is shown only now."</strong></p>
                <p class="secret"><code>{c.signing_secret.clone()}</code></p>
                <CopyButton text=c.signing_secret.clone() label="signing secret" />
                <div class="buttons">
                    <button type="button" class="primary" on:click=move |_| created.set(None)>"Done"</button>
                </div>
            </Modal>
        })}
    }
}

/// A webhook's deliveries, newest first, with "Send again".
#[component]
fn DeliveryLog(session: Session, hook: Webhook) -> impl IntoView {
    let client = session.client();
    let notice = RwSignal::new(None::<String>);
    let deliveries = RwSignal::new(None::<Result<Vec<WebhookDelivery>, String>>);
    let (list_client, id) = (client.clone(), hook.id.clone());
    let load = Callback::new(move |()| {
        let (client, id) = (list_client.clone(), id.clone());
        spawn_local(async move {
            let page = client.webhook_deliveries(&id, None, Some(25)).await;
            deliveries.set(Some(page.map(|p| p.items).map_err(|e| crate::shown(&e))));
        });
    });
    load.run(());
    let hook_id = hook.id.clone();
    let again = move |delivery: String| {
        let (client, hook_id) = (client.clone(), hook_id.clone());
        spawn_local(async move {
            match client.redeliver(&hook_id, &delivery).await {
                Ok(_) => notice.set(Some("Sent again.".into())),
                Err(e) => notice.set(Some(crate::shown(&e))),
            }
            load.run(());
        });
    };
    view! {
        <section aria-labelledby="log-title">
            <h2 id="log-title">{format!("Deliveries to {}", hook.url)}</h2>
            {move || notice.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
                {move || match deliveries.get() {
                    None => view! { <p role="status">"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <ErrorMessage message=e /> }.into_any(),
                    Some(Ok(items)) if items.is_empty() => view! { <p class="empty">"Nothing sent yet."</p> }.into_any(),
                    Some(Ok(items)) => view! {
                        <table>
                            <caption class="sr-only">"Delivery log"</caption>
                            <thead><tr>
                                <th scope="col">"Time"</th><th scope="col">"Event"</th><th scope="col">"State"</th>
                                <th scope="col">"Answer"</th><th scope="col">"Duration"</th><th scope="col">"Next try"</th>
                                <th scope="col"><span class="sr-only">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {items.into_iter().map(|d| {
                                    let again = again.clone();
                                    let delivery = d.id.clone();
                                    let answer = match (d.response_status, &d.error) {
                                        (Some(status), _) => format!("HTTP {status}"),
                                        (None, Some(error)) => error.clone(),
                                        (None, None) => "–".into(),
                                    };
                                    let (class, state) = match d.state {
                                        DeliveryState::Delivered => ("badge ok", "Delivered"),
                                        DeliveryState::Pending => ("badge warn", "Retrying"),
                                        DeliveryState::Failed => ("badge bad", "Failed"),
                                    };
                                    let state = if d.state == DeliveryState::Pending && d.attempts == 0 { "Pending" } else { state };
                                    view! {
                                        <tr>
                                            <td>{local_time(d.created_at)}</td>
                                            <td><code>{d.event_type.as_str()}</code></td>
                                            <td><span class=class>{state}</span>{format!(" ({} attempt{})", d.attempts, if d.attempts == 1 { "" } else { "s" })}</td>
                                            <td>{answer}</td>
                                            <td>{d.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "–".into())}</td>
                                            <td>{d.next_attempt_at.map(local_time).unwrap_or_else(|| "–".into())}</td>
                                            <td><button type="button" aria-label=format!("Send again: the {} delivery", d.event_type.as_str())
                                                on:click=move |_| again(delivery.clone())>"Send again"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }}
        </section>
    }
}
