//! The portal's dialogs: generate a token, the one-time secret, re-generate, delete and usage.

use crate::components::{CopyButton, ErrorMessage, Modal};
use crate::Session;
use leptos::prelude::*;
use leptos::task::spawn_local;
use tollgate_client::Client;
use tollgate_model::{CreateToken, IssuedToken, Name, Token, TokenKind, TokenUsage};

/// Generate a token: a name (checked as the server checks it) and, for admins, its kind.
#[component]
pub fn GenerateDialog(session: Session, on_close: Callback<()>, on_issued: Callback<IssuedToken>) -> impl IntoView {
    let admin = session.is_admin();
    let client = session.client();
    let subscription_end = session.me.subscription.end_date;
    let subscription = session.me.subscription.clone();
    let name = RwSignal::new(String::new());
    // Days from today, or 0: until the subscription ends.
    let lifetime = RwSignal::new(0u64);
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
        // The token's own last day, never past the subscription's.
        let expires_on = match lifetime.get() {
            0 => None,
            days => crate::components::today()
                .and_then(|today| today.checked_add_days(chrono::Days::new(days)))
                .map(|day| day.min(subscription_end)),
        };
        let body = CreateToken {
            name: name.get(),
            kind: kind.get(),
            service_user_id,
            expires_on,
        };
        let client = client.clone();
        busy.set(true);
        spawn_local(async move {
            match client.create_token(&body).await {
                Ok(issued) => on_issued.run(issued),
                Err(e) => server_error.set(Some(crate::shown(&e))),
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
                <label for="token-lifetime">"Expires"</label>
                <select id="token-lifetime" aria-describedby="token-lifetime-help"
                    on:change=move |ev| lifetime.set(event_target_value(&ev).parse().unwrap_or(0))>
                    <option value="0">"When the subscription ends"</option>
                    <option value="30">"In 30 days"</option>
                    <option value="90">"In 90 days"</option>
                    <option value="365">"In a year"</option>
                </select>
                <p id="token-lifetime-help" class="help">{move || {
                    let end = crate::components::local_date(subscription_end);
                    match subscription.max_days(kind.get()) {
                        Some(days) => format!("Never later than the subscription's end, {end}; this project's {} tokens last at most {days} days.",
                            kind.get().as_str()),
                        None => format!("Never later than the subscription's end, {end}."),
                    }
                }}</p>
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
                                Err(e) => view! { <ErrorMessage message=crate::shown(&e) /> }.into_any(),
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
pub fn SecretDialog(issued: IssuedToken, on_close: Callback<()>) -> impl IntoView {
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

/// Confirms a re-generate: the old secret stops working at once.
#[component]
pub fn RegenerateDialog(
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
                Err(e) => error.set(Some(crate::shown(&e))),
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

/// Confirms a delete: permanent, and the secret stops working at once.
#[component]
pub fn DeleteDialog(
    client: Client,
    token: Token,
    on_close: Callback<()>,
    on_deleted: Callback<String>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let (id, name) = (token.id.clone(), token.name.clone());
    let confirm = move |_| {
        let (client, id, name) = (client.clone(), id.clone(), name.clone());
        spawn_local(async move {
            match client.delete_token(&id).await {
                Ok(()) => on_deleted.run(name),
                Err(e) => error.set(Some(crate::shown(&e))),
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

/// A token's usage: its last use and a chart of its pulls per day over 30 days.
#[component]
pub fn UsageDialog(client: Client, token: Token, on_close: Callback<()>) -> impl IntoView {
    let usage = RwSignal::new(None::<Result<TokenUsage, String>>);
    let id = token.id.clone();
    spawn_local(async move { usage.set(Some(client.token_usage(&id).await.map_err(|e| crate::shown(&e)))) });
    view! {
        <Modal title="Token usage" on_close=on_close>
            <p>{format!("How “{}” was used.", token.name)}</p>
                {move || match usage.get() {
                    None => view! { <p role="status">"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <ErrorMessage message=e /> }.into_any(),
                    Some(Ok(u)) => view! {
                        <p data-testid="last-use">{match (u.last_used_at, u.last_used_from.clone()) {
                            (Some(at), Some(from)) => format!("Last used {} from {from}.", crate::components::local_time(at)),
                            (Some(at), None) => format!("Last used {}.", crate::components::local_time(at)),
                            _ => "Never used.".into(),
                        }}</p>
                        <PullsChart usage=u />
                    }.into_any(),
                }}
            <div class="buttons">
                <button type="button" class="primary" on:click=move |_| on_close.run(())>"Done"</button>
            </div>
        </Modal>
    }
}

/// Pulls per day as bars; the image's name says the totals, and each bar its day and count.
#[component]
fn PullsChart(usage: TokenUsage) -> impl IntoView {
    let most = usage.days.iter().map(|d| d.pulls).max().unwrap_or(0).max(1);
    let busiest = usage.days.iter().filter(|d| d.pulls > 0).max_by_key(|d| d.pulls);
    let summary = match busiest {
        Some(day) => format!(
            "Pulls per day over the last 30 days: {} in total, most on {} ({}).",
            usage.total,
            crate::components::local_date(day.day),
            day.pulls
        ),
        None => "No pulls in the last 30 days.".into(),
    };
    view! {
        <figure class="chart">
            // Bars of nine heights (classes: the CSP allows no inline style), today on the right.
            <div class="bars" role="img" aria-label=summary.clone()>
                {usage.days.iter().map(|d| {
                    let level = if d.pulls == 0 { 0 } else { 1 + d.pulls * 7 / most };
                    view! { <span class=format!("bar l{level}") title=format!("{}: {} pulls", crate::components::local_date(d.day), d.pulls)></span> }
                }).collect_view()}
            </div>
            <figcaption data-testid="usage-summary">{summary}</figcaption>
        </figure>
    }
}
