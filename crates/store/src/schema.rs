//! The diesel schema; the same tables in SQLite and PostgreSQL (see `migrations/`).

diesel::table! {
    projects (id) {
        id -> Text,
        key -> Text,
        name -> Text,
        subscription_end_date -> Date,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        max_token_days -> Nullable<Integer>,
        max_service_token_days -> Nullable<Integer>,
    }
}

diesel::table! {
    products (code) {
        code -> Text,
        name -> Text,
    }
}

diesel::table! {
    subscription_products (project_id, product_code) {
        project_id -> Text,
        product_code -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        project_id -> Text,
        name -> Text,
        email -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    service_users (id) {
        id -> Text,
        project_id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tokens (id) {
        id -> Text,
        project_id -> Text,
        kind -> Text,
        name -> Text,
        name_key -> Text,
        user_id -> Nullable<Text>,
        service_user_id -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        registry_username -> Text,
        secret_digest -> Text,
        secret_last4 -> Text,
        secret_regenerated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        revocation_reason -> Nullable<Text>,
        expires_on -> Nullable<Date>,
        secret_key -> Nullable<BigInt>,
    }
}

diesel::table! {
    token_last_use (token_id) {
        token_id -> Text,
        used_at -> Timestamp,
        used_from -> Nullable<Text>,
    }
}

diesel::table! {
    token_usage (token_id, day) {
        token_id -> Text,
        day -> Date,
        pulls -> BigInt,
    }
}

diesel::table! {
    token_products (token_id, product_code) {
        token_id -> Text,
        product_code -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        project_id -> Text,
        occurred_at -> Timestamp,
        actor_id -> Text,
        actor_name -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        target_name -> Text,
        request_id -> Text,
        client_address -> Nullable<Text>,
        details -> Nullable<Text>,
    }
}

diesel::table! {
    retired_secrets (digest) {
        digest -> Text,
        reason -> Text,
        retired_at -> Timestamp,
        registry_username -> Nullable<Text>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        project_id -> Text,
        url -> Text,
        events -> Text,
        description -> Nullable<Text>,
        signing_secret -> Text,
        created_by -> Text,
        created_by_name -> Text,
        created_at -> Timestamp,
        previous_signing_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> Timestamp,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_duration_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    lifecycle_notices (subject, notice, last_day) {
        subject -> Text,
        notice -> Text,
        last_day -> Date,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        owner -> Text,
        until_at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(subscription_products -> products (product_code));
diesel::joinable!(token_products -> products (product_code));

diesel::allow_tables_to_appear_in_same_query!(
    projects,
    products,
    subscription_products,
    users,
    service_users,
    tokens,
    token_products,
    audit_events,
    retired_secrets,
    webhooks,
    webhook_deliveries,
    lifecycle_notices,
    leases,
    token_usage,
    token_last_use,
);
