//! The storage conformance suite: every case runs once on SQLite (a fresh
//! file) and once on PostgreSQL (a fresh database on the local server).
//!
//! Test names are `<backend>::<group>::<case>`, so `cargo test -p weft-store
//! postgres::` runs one backend. PostgreSQL must be reachable (see
//! `harness.rs`): its tests fail, not skip, when it is not.

mod harness;

mod action_logs;
mod config;
mod credentials;
mod destinations;
mod integrations;
mod keys;
mod leaders;
mod lifecycle;
mod plugin_state;
mod projects;
mod queue;
mod queue_follow;
mod queue_limits;
mod queue_replay;
mod rate_budgets;
mod sqlite_only;
mod tasks;
mod triggers;
mod users;
mod vault;
mod workflows;

/// Generates one test per case and backend.
macro_rules! conformance {
    ($($group:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        mod sqlite {
            $(mod $group {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::run_sqlite(crate::$group::$case).await;
                })*
            })*
        }
        mod postgres {
            $(mod $group {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::run_postgres(crate::$group::$case).await;
                })*
            })*
        }
    };
}

conformance! {
    projects: [
        create_get_list,
        rename,
        delete_cascades,
        release_groups,
        invalid_input,
    ],
    keys: [
        signing_keys,
        signing_key_kid_conflict_and_tenancy,
        api_keys,
        api_key_hash_conflict,
        api_key_revocation_is_immediate,
        api_key_tenancy,
        operator_key,
    ],
    users: [
        upsert_seen_creates_then_touches,
        upsert_seen_concurrent_creates_one_row,
        merge_metadata_semantics,
        merge_metadata_concurrent_keys_all_survive,
        disable_and_enable,
        list_pagination,
        user_tenancy,
    ],
    integrations: [
        lifecycle,
        patch_semantics,
        type_conflict,
        integration_tenancy,
        invalid_input,
        custom_definitions,
    ],
    config: [
        secret_names,
        app_events,
        config_tenancy,
    ],
    credentials: [
        insert_get_list,
        config_replacement,
        refresh_lease,
        update_secrets_cas,
        refresh_failures,
        reconnect_replaces,
        expiring_sweep,
        connect_states,
        events,
        integration_secrets,
        cascade,
    ],
    vault: [
        vault_canary,
        rotation,
    ],
    tasks: [
        batches_and_order,
    ],
    plugin_state: [
        scoping,
        ttl_expiry,
        purge_expired,
        quota,
        concurrent_new_keys_respect_the_quota,
        overwrite,
        delete,
        large_binary_values,
        invalid_input,
    ],
    queue: [
        start_claim_complete,
        stale_completions_are_refused,
        the_reaper_fails_a_step_past_its_restarts,
        successors_are_queued_once,
        fan_out_joins_after_the_last_instance,
        a_failure_ends_the_execution,
        retries_wait_and_keep_their_key,
        heartbeats_stop_at_the_deadline,
        concurrent_claims_take_each_step_once,
        queue_tenancy,
        history_links_steps_and_counts_tasks,
        executions_are_listed_with_filters_and_pages,
        nested_fan_outs_join_inside_out,
        once_keys_start_one_execution,
        text_with_nul_characters_is_stored,
        old_executions_are_purged,
        completions_commit_together_each_fenced,
        a_batch_that_fails_is_stored_one_completion_at_a_time,
        completions_of_one_execution_apply_in_order,
        completions_of_one_execution_count_together,
    ],
    queue_follow: [
        a_followed_successor_runs_without_a_claim,
        followed_successors_commit_together,
        a_followed_successor_of_a_dead_worker_is_reaped,
        nothing_is_followed_once_the_execution_ended,
        only_a_lone_successor_is_followed,
        a_stale_and_a_live_completion_of_one_step_in_one_batch,
    ],
    leaders: [
        one_holder_at_a_time_and_the_mark_survives_it,
        concurrent_candidates_elect_one,
    ],
    rate_budgets: [
        slices_stay_within_the_budget_until_a_window_past_their_lease,
        a_released_slice_shrinks_to_the_calls_made,
        learned_pauses_are_kept_until_they_pass,
        idle_keys_are_purged_only_once_nothing_of_them_counts,
        concurrent_asks_never_over_grant,
    ],
    queue_limits: [
        a_claim_takes_at_most_a_limited_projects_free_slots,
        concurrent_claims_stay_within_the_limit,
    ],
    queue_replay: [
        an_instance_end_queues_the_next_item,
        a_failed_execution_resumes_at_its_failed_step,
        a_failure_inside_a_fan_out_is_not_resumed,
        a_paused_step_waits_without_using_an_attempt,
    ],
    workflows: [
        drafts_and_versions,
        concurrent_versions_take_consecutive_numbers,
        triggers_find_deployed_workflows,
        enablements,
        workflow_tenancy,
        invalid_workflows,
    ],
    triggers: [
        routing_keys,
        subscriptions,
        subscription_tenancy,
        shared_subscriptions,
        events_are_deduplicated_and_routed,
        polls_are_claimed_once,
        deliveries_are_stored_and_marked_in_batches,
    ],
    action_logs: [
        entries_round_trip_newest_first,
        filters_and_pages,
        old_entries_are_purged,
        action_log_tenancy,
    ],
    destinations: [
        lifecycle,
        failed_executions_write_events_only_for_projects_with_destinations,
        events_are_dispatched_once_to_subscribed_destinations,
        attempts_retry_then_disable_after_failures_in_a_row,
        destination_tenancy,
        the_outbox_forgets_what_it_is_done_with,
    ],
    lifecycle: [
        migrate_is_idempotent,
        data_survives_reopen,
        backend_is_reported,
    ],
}
