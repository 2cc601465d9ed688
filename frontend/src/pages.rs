//! The screens: sign-in, the shell with its navigation, tokens, service users, audit log.

use crate::components::{local_date, local_day, local_time, CopyButton, ErrorMessage, Modal};
use crate::{Page, Session};
use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_client::Client;
use tollgate_model::{
    CreateServiceUser, CreateToken, IssuedToken, Name, PrincipalKind, Role, Token, TokenKind, TokenListQuery,
    TokenSort, TokenStatus,
};

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Customer => "Customer",
        Role::CustomerAdmin => "Customer admin",
    }
}

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

/// The signed-in frame: demo banner, user, navigation and the current page.
#[component]
pub fn Shell(session: Session, on_sign_out: Callback<()>) -> impl IntoView {
    let admin = session.is_admin();
    let page = RwSignal::new(match Page::current() {
        Page::ServiceUsers | Page::Audit if !admin => Page::Tokens,
        p => p,
    });
    // Each page has its address: links can be shared, and Back and Forward work.
    let on_popstate = leptos::prelude::window_event_listener(leptos::ev::popstate, move |_| page.set(Page::current()));
    on_cleanup(move || on_popstate.remove());
    let go = move |target: Page| {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(target.path()));
        }
        page.set(target);
    };
    let nav = move |target: Page, label: &'static str| {
        view! {
            <button
                type="button"
                class="nav"
                aria-current=move || if page.get() == target { Some("page") } else { None }
                on:click=move |_| go(target)
            >
                {label}
            </button>
        }
    };
    let me = session.me.clone();
    let s = session.clone();
    view! {
        {me.demo_mode.then(|| view! { <p class="banner" role="note">"Demo mode: sessions come from the built-in demo identity provider."</p> })}
        <header>
            <span class="brand">"Tollgate"</span>
            <nav aria-label="Main">
                {nav(Page::Tokens, "Registry tokens")}
                {admin.then(|| nav(Page::ServiceUsers, "Service users"))}
                {admin.then(|| nav(Page::Audit, "Audit log"))}
            </nav>
            <span class="who">{format!("{} · {} · {}", me.name, role_label(me.role), me.project.name)}</span>
            <button type="button" on:click=move |_| on_sign_out.run(())>"Sign out"</button>
        </header>
        <main>
            {move || match page.get() {
                Page::Tokens => view! { <TokensPage session=s.clone() /> }.into_any(),
                Page::ServiceUsers => view! { <ServiceUsersPage session=s.clone() /> }.into_any(),
                Page::Audit => view! { <AuditPage session=s.clone() /> }.into_any(),
            }}
        </main>
    }
}

#[derive(Clone)]
enum Dialog {
    Generate,
    Secret(IssuedToken),
    Regenerate(Token),
    Delete(Token),
}

/// What the sort menu says for an order.
fn sort_label(sort: TokenSort) -> &'static str {
    match sort {
        TokenSort::NewestFirst => "Newest first",
        TokenSort::OldestFirst => "Oldest first",
        TokenSort::NameAscending => "Name A–Z",
        TokenSort::NameDescending => "Name Z–A",
    }
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
                Err(e) => notice.set(Some(e.to_string())),
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
                    <select on:change=move |ev| {
                        if let Some(s) = TokenSort::from_api_name(&event_target_value(&ev)) { sort.set(s); restart(); }
                    }>
                        {TokenSort::ALL.map(|s| view! { <option value=s.api_name()>{sort_label(s)}</option> }).to_vec()}
                    </select>
                </label>
            </form>
            <Transition fallback=|| view! { <p role="status">"Loading tokens…"</p> }>
                {move || tokens.get().map(|result| match result {
                    Err(e) => view! { <ErrorMessage message=e.to_string() /> }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <p class="empty">"No tokens yet. Generate one to pull images with docker or Kubernetes."</p>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone();
                        let rows = page.items.into_iter().map(|t| {
                            let (regen, del, sync_id) = (t.clone(), t.clone(), t.id.clone());
                            let resync = resync.clone();
                            let products = t.products.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join(", ");
                            view! {
                                <tr>
                                    <th scope="row">{t.name.clone()}</th>
                                    {admin.then(|| view! { <td>{match t.kind { TokenKind::User => "User", TokenKind::Service => "Service" }}</td> })}
                                    {admin.then(|| view! { <td>{t.created_for.name.clone()}{(t.created_for.kind == PrincipalKind::ServiceUser).then_some(" (service user)")}</td> })}
                                    {admin.then(|| view! { <td>{t.created_by.name.clone()}</td> })}
                                    <td>{local_date(t.subscription_end_date)}</td>
                                    <td>
                                        {products}
                                        {t.out_of_sync.then(|| view! { <span class="badge warn">"Out of sync"</span> })}
                                    </td>
                                    <td>{local_day(t.created_at)}</td>
                                    <td>{match t.status { TokenStatus::Active => view! { <span class="badge ok">"Active"</span> }, TokenStatus::Expired => view! { <span class="badge bad">"Expired"</span> } }}</td>
                                    <td class="actions">
                                        {(admin && t.out_of_sync).then(|| {
                                            let label = format!("Re-sync products of {}", t.name);
                                            view! { <button type="button" aria-label=label on:click=move |_| resync(sync_id.clone())>"Re-sync"</button> }
                                        })}
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
            }
        })}
    }
}

/// Generate a token: a name (checked as the server checks it) and, for admins, its kind.
#[component]
fn GenerateDialog(session: Session, on_close: Callback<()>, on_issued: Callback<IssuedToken>) -> impl IntoView {
    let admin = session.is_admin();
    let client = session.client();
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(TokenKind::User);
    let service_user = RwSignal::new(String::new());
    let touched = RwSignal::new(false);
    let server_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let su_client = client.clone();
    let service_users = LocalResource::new(move || {
        let client = su_client.clone();
        async move {
            if admin {
                client.service_users().await.map(Some)
            } else {
                Ok(None)
            }
        }
    });
    let problem = move || Name::parse(&name.get()).err().map(|e| format!("The name {e}."));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        touched.set(true);
        if problem().is_some() || busy.get() {
            return;
        }
        let service_user_id = (kind.get() == TokenKind::Service).then(|| service_user.get());
        if service_user_id.as_ref().is_some_and(String::is_empty) {
            server_error.set(Some("Choose the service user the token is for.".into()));
            return;
        }
        let body = CreateToken {
            name: name.get(),
            kind: kind.get(),
            service_user_id,
        };
        let client = client.clone();
        busy.set(true);
        spawn_local(async move {
            match client.create_token(&body).await {
                Ok(issued) => on_issued.run(issued),
                Err(e) => server_error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <Modal title="Generate token" on_close=on_close>
            <form on:submit=submit novalidate>
                <label for="token-name">"Token name"</label>
                <input id="token-name" type="text" required maxlength="64" autocomplete="off"
                    aria-describedby="token-name-help token-name-error"
                    aria-invalid=move || (touched.get() && problem().is_some()).to_string()
                    prop:value=move || name.get()
                    on:input=move |ev| { name.set(event_target_value(&ev)); server_error.set(None); }
                    on:blur=move |_| touched.set(true) />
                <p id="token-name-help" class="help">"1–64 characters, unique in your project."</p>
                <p id="token-name-error" class="error" role="alert">{move || touched.get().then(problem).flatten()}</p>
                {admin.then(|| view! {
                    <fieldset>
                        <legend>"Token type"</legend>
                        <label><input type="radio" name="kind" checked=true on:change=move |_| kind.set(TokenKind::User) />"User token (for you)"</label>
                        <label><input type="radio" name="kind" on:change=move |_| kind.set(TokenKind::Service) />"Service token (for a service user)"</label>
                    </fieldset>
                    <Show when=move || kind.get() == TokenKind::Service>
                        <label for="service-user">"Service user"</label>
                        <Suspense fallback=|| view! { <p role="status">"Loading service users…"</p> }>
                            {move || service_users.get().map(|r| match r {
                                Ok(Some(list)) => view! {
                                    <select id="service-user" on:change=move |ev| service_user.set(event_target_value(&ev))>
                                        <option value="">"Choose…"</option>
                                        {list.into_iter().map(|s| view! { <option value=s.id.clone()>{s.name.clone()}</option> }).collect_view()}
                                    </select>
                                }.into_any(),
                                Ok(None) => ().into_any(),
                                Err(e) => view! { <ErrorMessage message=e.to_string() /> }.into_any(),
                            })}
                        </Suspense>
                    </Show>
                })}
                {move || server_error.get().map(|e| view! { <ErrorMessage message=e /> })}
                <div class="buttons">
                    <button type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                    <button type="submit" class="primary" disabled=move || busy.get()>"Generate"</button>
                </div>
            </form>
        </Modal>
    }
}

/// The one-time secret, with what it takes to use it.
#[component]
fn SecretDialog(issued: IssuedToken, on_close: Callback<()>) -> impl IntoView {
    let IssuedToken { token, secret, login } = issued;
    view! {
        <Modal title="Your new secret" on_close=on_close>
            <p class="warning" role="alert">"Copy the secret now: it will not be shown again."</p>
            <dl>
                <dt>"Token"</dt><dd>{token.name.clone()}</dd>
                <dt>"Registry username"</dt>
                <dd><code data-testid="registry-username">{login.username.clone()}</code> <CopyButton text=login.username.clone() label="registry username" /></dd>
                <dt>"Secret"</dt>
                <dd><code data-testid="secret">{secret.clone()}</code> <CopyButton text=secret.clone() label="secret" /></dd>
            </dl>
            <h3>"docker login"</h3>
            <pre><code data-testid="docker-login">{login.docker_login.clone()}</code></pre>
            <CopyButton text=login.docker_login.clone() label="docker login command" />
            <h3>"Kubernetes pull secret"</h3>
            <pre><code data-testid="kubectl">{login.kubernetes_pull_secret.clone()}</code></pre>
            <CopyButton text=login.kubernetes_pull_secret.clone() label="kubectl command" />
            <div class="buttons">
                <button type="button" class="primary" on:click=move |_| on_close.run(())>"Done"</button>
            </div>
        </Modal>
    }
}

#[component]
fn RegenerateDialog(
    client: Client,
    token: Token,
    on_close: Callback<()>,
    on_issued: Callback<IssuedToken>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let id = token.id.clone();
    let confirm = move |_| {
        let (client, id) = (client.clone(), id.clone());
        spawn_local(async move {
            match client.regenerate_secret(&id).await {
                Ok(issued) => on_issued.run(issued),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <Modal title="Re-generate secret" on_close=on_close>
            <p>{format!("Re-generate the secret of “{}”? The current secret stops working immediately, everywhere it is used.", token.name)}</p>
            {move || error.get().map(|e| view! { <ErrorMessage message=e /> })}
            <div class="buttons">
                <button type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                <button type="button" class="danger" on:click=confirm>"Re-generate"</button>
            </div>
        </Modal>
    }
}

#[component]
fn DeleteDialog(client: Client, token: Token, on_close: Callback<()>, on_deleted: Callback<String>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let (id, name) = (token.id.clone(), token.name.clone());
    let confirm = move |_| {
        let (client, id, name) = (client.clone(), id.clone(), name.clone());
        spawn_local(async move {
            match client.delete_token(&id).await {
                Ok(()) => on_deleted.run(name),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <Modal title="Delete token" on_close=on_close>
            <p>{format!("Delete “{}” permanently? Pulls with its secret stop working at once. This cannot be undone.", token.name)}</p>
            {move || error.get().map(|e| view! { <ErrorMessage message=e /> })}
            <div class="buttons">
                <button type="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                <button type="button" class="danger" on:click=confirm>"Delete"</button>
            </div>
        </Modal>
    }
}

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
                Err(e) => message.set(Some(e.to_string())),
            }
            reload.update(|n| *n += 1);
        });
    };
    let remove = move |id: String| {
        let client = client.clone();
        spawn_local(async move {
            match client.delete_service_user(&id).await {
                Ok(()) => message.set(Some("Service user deleted.".into())),
                Err(e) => message.set(Some(e.to_string())),
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
                    Err(e) => view! { <ErrorMessage message=e.to_string() /> }.into_any(),
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
                    Err(e) => view! { <ErrorMessage message=e.to_string() /> }.into_any(),
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
