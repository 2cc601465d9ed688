//! The project's audit log (customer admins).

use crate::components::{local_time, ErrorMessage};
use crate::Session;
use leptos::prelude::*;

/// The project's audit log, newest first, paginated.
#[component]
pub fn AuditPage(session: Session) -> impl IntoView {
    let client = session.client();
    let cursors = RwSignal::new(vec![None::<String>]);
    let events = LocalResource::new(move || {
        let cursor = cursors.with(|c| c.last().cloned().flatten());
        let client = client.clone();
        async move { client.audit_events(cursor.as_deref(), Some(25)).await }
    });
    view! {
        <section aria-labelledby="audit-title">
            <h1 id="audit-title">"Audit log"</h1>
            <Transition fallback=|| view! { <p role="status">"Loading…"</p> }>
                {move || events.get().map(|r| match r {
                    Err(e) => view! { <ErrorMessage message=crate::shown(&e) /> }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone();
                        view! {
                            <table>
                                <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th><th scope="col">"Target"</th></tr></thead>
                                <tbody>
                                    {page.items.into_iter().map(|e| {
                                        let action = e.action.as_str();
                                        view! {
                                            <tr>
                                                <td>{local_time(e.occurred_at)}</td>
                                                <td>{e.actor.name.clone()}</td>
                                                <td><code>{action}</code></td>
                                                <td>{e.target.name.clone()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <nav class="pager" aria-label="Pages">
                                <button type="button" disabled=move || cursors.with(|c| c.len() <= 1)
                                    on:click=move |_| cursors.update(|c| { c.pop(); })>"Newer"</button>
                                <button type="button" disabled=next.is_none()
                                    on:click=move |_| { let n = next.clone(); cursors.update(|c| c.push(n)); }>"Older"</button>
                            </nav>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}
