//! The token table with the role's columns, filters, sorting, paging and row actions.

use crate::components::{local_date, local_day, ErrorMessage};
use crate::dialogs::{DeleteDialog, GenerateDialog, RegenerateDialog, SecretDialog, UsageDialog};
use crate::Session;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_model::{IssuedToken, PrincipalKind, Token, TokenKind, TokenListQuery, TokenSort, TokenStatus};

#[derive(Clone)]
enum Dialog {
    Generate,
    Secret(IssuedToken),
    Regenerate(Token),
    Delete(Token),
    Usage(Token),
}

/// Whether a token has gone 90 days or more without a use (since it was made, if never used).
fn unused_for_90_days(t: &Token) -> bool {
    let since = t.last_used_at.unwrap_or(t.created_at).date_naive();
    crate::components::today().is_some_and(|today| (today - since).num_days() >= 90)
}

/// The token table with the role's columns, filters, sorting, paging and row actions.
#[component]
pub fn TokensPage(session: Session) -> impl IntoView {
    let admin = session.is_admin();
    let client = session.client();
    let status = RwSignal::new(String::new());
    let kind = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let sort = RwSignal::new(TokenSort::default());
    let cursors = RwSignal::new(vec![None::<String>]);
    let reload = RwSignal::new(0u32);
    let dialog = RwSignal::new(None::<Dialog>);
    let notice = RwSignal::new(None::<String>);

    let list_client = client.clone();
    let tokens = LocalResource::new(move || {
        reload.track();
        let query = TokenListQuery {
            status: match status.get().as_str() {
                "active" => Some(TokenStatus::Active),
                "expired" => Some(TokenStatus::Expired),
                "revoked" => Some(TokenStatus::Revoked),
                _ => None,
            },
            kind: match kind.get().as_str() {
                "user" => Some(TokenKind::User),
                "service" => Some(TokenKind::Service),
                _ => None,
            },
            created_for: None,
            q: Some(search.get()).filter(|q| !q.trim().is_empty()),
            sort: Some(sort.get()),
            cursor: cursors.with(|c| c.last().cloned().flatten()),
            limit: Some(25),
        };
        let client = list_client.clone();
        async move { client.list_tokens(&query).await }
    });
    let restart = move || cursors.set(vec![None]);

    let act_client = client.clone();
    let resync = move |id: String| {
        let client = act_client.clone();
        spawn_local(async move {
            match client.sync_products(&id).await {
                Ok(t) => notice.set(Some(format!("Products of “{}” re-synced.", t.name))),
                Err(e) => notice.set(Some(crate::shown(&e))),
            }
            reload.update(|n| *n += 1);
        });
    };

    view! {
        <section aria-labelledby="tokens-title">
            <div class="title-row">
                <h1 id="tokens-title">"Registry tokens"</h1>
                <button type="button" class="primary" on:click=move |_| dialog.set(Some(Dialog::Generate))>"Generate token"</button>
            </div>
            {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
            <form class="filters" on:submit=move |ev| ev.prevent_default()>
                <label>"Search by name"
                    <input type="search" prop:value=move || search.get()
                        on:input=move |ev| { search.set(event_target_value(&ev)); restart(); } />
                </label>
                <label>"Status"
                    <select on:change=move |ev| { status.set(event_target_value(&ev)); restart(); }>
                        <option value="">"All"</option>
                        <option value="active">"Active"</option>
                        <option value="expired">"Expired"</option>
                        <option value="revoked">"Revoked"</option>
                    </select>
                </label>
                {admin.then(|| view! {
                    <label>"Type"
                        <select on:change=move |ev| { kind.set(event_target_value(&ev)); restart(); }>
                            <option value="">"All"</option>
                            <option value="user">"User"</option>
                            <option value="service">"Service"</option>
                        </select>
                    </label>
                })}
                <label>"Sort"
                    // The options in the order of `TokenSort::ALL`: the selected index is the order.
                    <select on:change=move |ev| {
                        let index = event_target::<web_sys::HtmlSelectElement>(&ev).selected_index();
                        if let Some((s, _)) = usize::try_from(index).ok().and_then(|i| TokenSort::ALL.get(i)) {
                            sort.set(*s);
                            restart();
                        }
                    }>
                        <option>"Newest first"</option>
                        <option>"Oldest first"</option>
                        <option>"Name A–Z"</option>
                        <option>"Name Z–A"</option>
                    </select>
                </label>
            </form>
            <Transition fallback=|| view! { <p role="status">"Loading tokens…"</p> }>
                {move || tokens.get().map(|result| match result {
                    Err(e) => view! { <ErrorMessage message=crate::shown(&e) /> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <p class="empty">"No tokens yet. Generate one to pull images with docker or Kubernetes."</p>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone();
                        let rows = page.items.into_iter().map(|t| {
                            let (regen, del, used, sync_id) = (t.clone(), t.clone(), t.clone(), t.id.clone());
                            let unused = unused_for_90_days(&t);
                            let resync = resync.clone();
                            let products = t.products.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join(", ");
                            view! {
                                <tr>
                                    <th scope="row">{t.name.clone()}</th>
                                    {admin.then(|| view! { <td>{match t.kind { TokenKind::User => "User", TokenKind::Service => "Service" }}</td> })}
                                    {admin.then(|| view! { <td>{t.created_for.name.clone()}{(t.created_for.kind == PrincipalKind::ServiceUser).then_some(" (service user)")}</td> })}
                                    {admin.then(|| view! { <td>{t.created_by.name.clone()}</td> })}
                                    <td>
                                        {local_date(t.subscription_end_date)}
                                        // The token's own end, when it comes first.
                                        {t.expires_on.filter(|d| *d < t.subscription_end_date).map(|d| view! {
                                            <br /><small>{format!("token ends {}", local_date(d))}</small>
                                        })}
                                    </td>
                                    <td>
                                        {products}
                                        {t.out_of_sync.then(|| view! { <span class="badge warn">"Out of sync"</span> })}
                                    </td>
                                    <td>{local_day(t.created_at)}</td>
                                    <td>{match t.status {
                                        TokenStatus::Active => {
                                            // "expires in N days" from 30 days before a token's end.
                                            let last_day = t.last_day();
                                            let soon = crate::components::today()
                                                .map(|today| (last_day - today).num_days())
                                                .filter(|days| (0..=30).contains(days));
                                            view! {
                                                <span class="badge ok">"Active"</span>
                                                {soon.map(|days| view! { <br /><small>{format!("expires {}", crate::components::in_days(days))}</small> })}
                                            }.into_any()
                                        }
                                        TokenStatus::Expired => view! { <span class="badge bad">"Expired"</span> }.into_any(),
                                        // Why, where the owner looks: re-generating ends it.
                                        TokenStatus::Revoked => view! {
                                            <span class="badge bad" title=t.revocation_reason.clone().unwrap_or_default()>"Revoked: re-generate"</span>
                                        }.into_any(),
                                    }}
                                    {unused.then(|| view! { <br /><span class="badge warn">"Unused for 90+ days"</span> })}</td>
                                    <td class="actions">
                                        {(admin && t.out_of_sync).then(|| {
                                            let label = format!("Re-sync products of {}", t.name);
                                            view! { <button type="button" aria-label=label on:click=move |_| resync(sync_id.clone())>"Re-sync"</button> }
                                        })}
                                        <button type="button" aria-label=format!("Usage of {}", t.name)
                                            on:click=move |_| dialog.set(Some(Dialog::Usage(used.clone())))>"Usage"</button>
                                        <button type="button" aria-label=format!("Re-generate the secret of {}", t.name)
                                            on:click=move |_| dialog.set(Some(Dialog::Regenerate(regen.clone())))>"Re-generate"</button>
                                        <button type="button" class="danger" aria-label=format!("Delete {}", t.name)
                                            on:click=move |_| dialog.set(Some(Dialog::Delete(del.clone())))>"Delete"</button>
                                    </td>
                                </tr>
                            }
                        }).collect_view();
                        view! {
                            <div class="table-wrap">
                                <table>
                                    <caption class="sr-only">"Registry tokens"</caption>
                                    <thead><tr>
                                        <th scope="col">"Token name"</th>
                                        {admin.then(|| view! { <th scope="col">"Type"</th><th scope="col">"Created for"</th><th scope="col">"Created by"</th> })}
                                        <th scope="col">"Subscription end date"</th>
                                        <th scope="col">"Products"</th>
                                        <th scope="col">"Created on"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col"><span class="sr-only">"Actions"</span></th>
                                    </tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            </div>
                            <nav class="pager" aria-label="Pages">
                                <button type="button" disabled=move || cursors.with(|c| c.len() <= 1)
                                    on:click=move |_| cursors.update(|c| { c.pop(); })>"Previous page"</button>
                                <button type="button" disabled=next.is_none()
                                    on:click=move |_| { let n = next.clone(); cursors.update(|c| c.push(n)); }>"Next page"</button>
                            </nav>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
        {move || dialog.get().map(|d| {
            let close = Callback::new(move |_| dialog.set(None));
            let done = Callback::new(move |issued: IssuedToken| {
                reload.update(|n| *n += 1);
                dialog.set(Some(Dialog::Secret(issued)));
            });
            let removed = Callback::new(move |name: String| {
                notice.set(Some(format!("Token “{name}” deleted.")));
                reload.update(|n| *n += 1);
                dialog.set(None);
            });
            match d {
                Dialog::Generate => view! { <GenerateDialog session=session.clone() on_close=close on_issued=done /> }.into_any(),
                Dialog::Secret(issued) => view! { <SecretDialog issued=issued on_close=close /> }.into_any(),
                Dialog::Regenerate(t) => view! { <RegenerateDialog client=client.clone() token=t on_close=close on_issued=done /> }.into_any(),
                Dialog::Delete(t) => view! { <DeleteDialog client=client.clone() token=t on_close=close on_deleted=removed /> }.into_any(),
                Dialog::Usage(t) => view! { <UsageDialog client=client.clone() token=t on_close=close /> }.into_any(),
            }
        })}
    }
}
