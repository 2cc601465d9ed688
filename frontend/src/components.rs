//! Building blocks: modal dialogs, copy buttons, error messages, dates in the user's locale.

use leptos::prelude::*;
use wasm_bindgen::JsValue;

/// A modal `<dialog>`: the browser traps focus inside it and closes it on Escape.
#[component]
pub fn Modal(#[prop(into)] title: String, on_close: Callback<()>, children: Children) -> impl IntoView {
    let node: NodeRef<leptos::html::Dialog> = NodeRef::new();
    Effect::new(move |_| {
        if let Some(dialog) = node.get() {
            if !dialog.open() {
                let _ = dialog.show_modal();
            }
        }
    });
    let id = format!("dialog-{}", title.to_lowercase().replace(' ', "-"));
    let labelled_by = id.clone();
    view! {
        <dialog node_ref=node aria-labelledby=labelled_by on:close=move |_| on_close.run(())>
            <h2 id=id>{title}</h2>
            {children()}
        </dialog>
    }
}

/// A button that copies `text` and says so; its name says what it copies.
#[component]
pub fn CopyButton(#[prop(into)] text: String, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button
            type="button"
            class="copy"
            on:click=move |_| {
                if let Some(window) = web_sys::window() {
                    let _ = window.navigator().clipboard().write_text(&text);
                    copied.set(true);
                }
            }
        >
            {move || if copied.get() { "Copied" } else { "Copy" }}
            <span class="sr-only">{format!(" {label}")}</span>
        </button>
    }
}

/// The server's message (or the network's), never a blank screen.
#[component]
pub fn ErrorMessage(#[prop(into)] message: String) -> impl IntoView {
    view! { <p class="error" role="alert">{message}</p> }
}

/// A calendar date in the user's locale (the same day wherever they are).
pub fn local_date(date: chrono::NaiveDate) -> String {
    let millis = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis();
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &"UTC".into());
    js_sys::Date::new(&JsValue::from_f64(millis as f64))
        .to_locale_date_string("default", &options)
        .into()
}

/// Today, in the user's time zone.
pub fn today() -> Option<chrono::NaiveDate> {
    let now = js_sys::Date::new_0();
    chrono::NaiveDate::from_ymd_opt(now.get_full_year() as i32, now.get_month() + 1, now.get_date())
}

/// "today", "tomorrow" or "in N days".
pub fn in_days(days: i64) -> String {
    match days {
        0 => "today".into(),
        1 => "tomorrow".into(),
        n => format!("in {n} days"),
    }
}

/// The day of a moment, in the user's locale and time zone.
pub fn local_day(at: chrono::DateTime<chrono::Utc>) -> String {
    js_sys::Date::new(&JsValue::from_f64(at.timestamp_millis() as f64))
        .to_locale_date_string("default", &JsValue::UNDEFINED)
        .into()
}

/// A moment in the user's locale and time zone.
pub fn local_time(at: chrono::DateTime<chrono::Utc>) -> String {
    js_sys::Date::new(&JsValue::from_f64(at.timestamp_millis() as f64))
        .to_locale_string("default", &JsValue::UNDEFINED)
        .into()
}
