//! Diesel table definitions, shared by both backends. Portable SQL types only (see `migrations/`).

diesel::table! {
    experiments (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        metadata -> Text,
        parameters -> Text,
        pre_steps -> Text,
        steps -> Text,
        post_steps -> Text,
        misarch -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revision -> BigInt,
        archived_at -> Nullable<Timestamp>,
        notify -> Text,
        api_view -> Nullable<Text>,
        collect -> Text,
        analysis -> Text,
        guards -> Text,
    }
}

diesel::table! {
    schedules (id) {
        id -> Text,
        experiment_id -> Text,
        metadata -> Text,
        parameters -> Text,
        ticket -> Text,
        recurrence_pattern -> Text,
        timezone -> Text,
        recurrence_count -> Nullable<BigInt>,
        recurrence_left -> Nullable<BigInt>,
        paused -> Bool,
        misfire_policy -> Text,
        concurrency_policy -> Text,
        next_run_at -> Nullable<Timestamp>,
        last_run_at -> Nullable<Timestamp>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        missed_fires -> BigInt,
        skipped_fires -> BigInt,
        fire_error -> Nullable<Text>,
        fire_retry_at -> Nullable<Timestamp>,
        run_windows -> Nullable<Text>,
    }
}

diesel::table! {
    trials (id) {
        id -> Text,
        experiment_id -> Text,
        schedule_id -> Nullable<Text>,
        experiment_revision -> BigInt,
        experiment_snapshot -> Text,
        metadata -> Text,
        parameters -> Text,
        ticket -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        scheduled_for -> Timestamp,
        created_at -> Timestamp,
        executed_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        heartbeat_at -> Nullable<Timestamp>,
        initiated_by -> Text,
        initiated_from -> Text,
        trial_record -> Text,
        metrics -> Nullable<Text>,
        goals -> Nullable<Text>,
        violations -> Nullable<Text>,
        grafana_url -> Nullable<Text>,
        report -> Nullable<Text>,
        claimed_by -> Nullable<Text>,
        api_view -> Nullable<Text>,
        sweep_id -> Nullable<Text>,
        sweep_point -> Nullable<BigInt>,
        sweep_repetition -> Nullable<BigInt>,
        regressions -> Nullable<Text>,
        held -> Bool,
        dry_run -> Bool,
    }
}

diesel::table! {
    sweeps (id) {
        id -> Text,
        experiment_id -> Text,
        axes -> Nullable<Text>,
        points -> Text,
        repetitions -> BigInt,
        run_order -> Text,
        metadata -> Text,
        initiated_from -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        stopped_at -> Nullable<Timestamp>,
        stopped_by -> Nullable<Text>,
    }
}

diesel::table! {
    worker_leases (name) {
        name -> Text,
        holder -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        trial_id -> Text,
        event -> Text,
        url -> Text,
        format -> Text,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        last_status_code -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    misarch_runs (trial_id) {
        trial_id -> Text,
        test_uuid -> Text,
        test_version -> Text,
        expected_clients -> Text,
        registered_clients -> Text,
        state -> Text,
        started_at -> Nullable<Timestamp>,
        steady_state_metrics -> Nullable<Text>,
        steady_state_received_at -> Nullable<Timestamp>,
        metrics_received_at -> Nullable<Timestamp>,
        upload_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    gatling_reports (trial_id) {
        trial_id -> Text,
        index_html -> Text,
        stats_js -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        scope -> Text,
        token_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        created_at -> Timestamp,
        actor -> Text,
        action -> Text,
        method -> Text,
        path -> Text,
        target_id -> Nullable<Text>,
        body_sha256 -> Nullable<Text>,
        status -> BigInt,
        outcome -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    misarch_versions (test_uuid, test_version) {
        test_uuid -> Text,
        test_version -> Text,
        version_number -> BigInt,
        experiment_id -> Text,
        execution_config -> Text,
        gatling_config -> Text,
        chaos_toolkit_config -> Text,
        misarch_config -> Text,
        start_error -> Nullable<Text>,
        start_error_at -> Nullable<Timestamp>,
        told_through -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(schedules -> experiments (experiment_id));
diesel::joinable!(misarch_versions -> experiments (experiment_id));
diesel::joinable!(misarch_runs -> trials (trial_id));
diesel::joinable!(gatling_reports -> trials (trial_id));
diesel::joinable!(trials -> experiments (experiment_id));
diesel::table! {
    emergency_stops (id) {
        id -> Text,
        reason -> Text,
        engaged_by -> Text,
        engaged_at -> Timestamp,
        released_by -> Nullable<Text>,
        released_at -> Nullable<Timestamp>,
        active -> Nullable<BigInt>,
        trials_stopped -> BigInt,
    }
}

diesel::table! {
    blackouts (id) {
        id -> Text,
        reason -> Text,
        starts_at -> Nullable<Timestamp>,
        ends_at -> Nullable<Timestamp>,
        timezone -> Nullable<Text>,
        windows -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sweeps -> experiments (experiment_id));
diesel::allow_tables_to_appear_in_same_query!(
    experiments,
    schedules,
    trials,
    worker_leases,
    webhook_deliveries,
    misarch_runs,
    gatling_reports,
    api_tokens,
    audit_log,
    misarch_versions,
    sweeps,
    emergency_stops,
    blackouts
);
