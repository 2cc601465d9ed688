//! The signed-in frame: header, navigation, sign-out and the current page.

use super::{role_label, AuditPage, ServiceUsersPage, TokensPage, WebhooksPage};
use crate::{Page, Session};
use leptos::prelude::*;

/// Days until the subscription's last day, when that is 30 or fewer (0: today is the last).
fn ending_soon(end_date: chrono::NaiveDate) -> Option<i64> {
    let days = (end_date - crate::components::today()?).num_days();
    (0..=30).contains(&days).then_some(days)
}

/// The signed-in frame: demo banner, user, navigation and the current page.
#[component]
pub fn Shell(session: Session, on_sign_out: Callback<()>) -> impl IntoView {
    let admin = session.is_admin();
    let page = RwSignal::new(match Page::current() {
        Page::ServiceUsers | Page::Audit | Page::Webhooks if !admin => Page::Tokens,
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
        {ending_soon(me.subscription.end_date).map(|days| view! {
            <p class="banner" role="status">{format!(
                "The subscription of {} ends on {} ({}): every token stops working then. Ask your vendor to renew it.",
                me.project.name,
                crate::components::local_date(me.subscription.end_date),
                crate::components::in_days(days),
            )}</p>
        })}
        <header>
            <span class="brand">"Tollgate"</span>
            <nav aria-label="Main">
                {nav(Page::Tokens, "Registry tokens")}
                {admin.then(|| nav(Page::ServiceUsers, "Service users"))}
                {admin.then(|| nav(Page::Webhooks, "Webhooks"))}
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
                Page::Webhooks => view! { <WebhooksPage session=s.clone() /> }.into_any(),
            }}
        </main>
    }
}
