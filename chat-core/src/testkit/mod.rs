//! The conformance suites every backend runs, and their harness.
//!
//! - [`ports`]: the store-port suite, each case calling a store's ports
//!   directly (ordering under concurrency, idempotent client ids, keyset
//!   paging, search, unread counts, read marks, the change log, sessions).
//! - [`service`]: the service suite, every use case of [`Chat`](crate::Chat)
//!   over a store (validation, authorization, limits, delivery). It runs in
//!   full on every store: the memory store, SQLite and PostgreSQL.
//! - [`bus`], [`presence`], [`limits`]: the suites of the bus, presence and
//!   rate-limiter ports, run by the in-process and the Redis implementations.
//!
//! Each case is a plain `pub async fn` that takes a fresh backend. A backend
//! crate stamps every case into its own `#[tokio::test]` with one macro:
//!
//! ```ignore
//! async fn fresh_store() -> std::sync::Arc<dyn chat_core::Store> { /* a new, empty store */ }
//! chat_core::store_conformance_suite!(fresh_store);
//!
//! async fn fresh_bus() -> std::sync::Arc<dyn chat_core::Bus> { /* a new bus */ }
//! chat_core::bus_conformance_suite!(fresh_bus);
//! ```
//!
//! A factory may return any [`Fresh`] instead of the `Arc`: a guard that
//! cleans up (drops a database schema) when the test ends, pass or fail, or
//! that says the backend is not reachable and the case is skipped.
//!
//! Adding a case here (and to the macro's list) makes every backend run it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod bus;
pub mod groups;
mod harness;
pub mod lifecycle;
pub mod limits;
pub mod moderation;
pub mod ports;
pub mod presence;
pub mod service;

pub use harness::{
    CountingHasher, Harness, ManualClock, PASSWORD, generous_limits, next_delivery, next_event,
};

use std::sync::Arc;

/// What a backend factory returns: the backend to test, or `None` to skip
/// the case (the factory says why). Whatever implements it lives until the
/// case ends, so its `Drop` can clean up.
pub trait Fresh<T: ?Sized> {
    /// The backend, or `None` to skip.
    fn get(&self) -> Option<Arc<T>>;
}

impl<T: ?Sized> Fresh<T> for Arc<T> {
    fn get(&self) -> Option<Arc<T>> {
        Some(Arc::clone(self))
    }
}

/// `None`: the backend is not reachable, and the case is skipped (the
/// factory says why).
impl<T: ?Sized> Fresh<T> for Option<Arc<T>> {
    fn get(&self) -> Option<Arc<T>> {
        self.clone()
    }
}

/// Stamps every case of the store-port suite and of the service suite into
/// a `#[tokio::test]` that runs it on a store from `$fresh` (an
/// `async fn() -> Arc<dyn Store>`).
#[macro_export]
macro_rules! store_conformance_suite {
    ($fresh:path) => {
        $crate::store_port_suite!($fresh);
        $crate::service_suite!($fresh);
        $crate::group_suite!($fresh);
        $crate::lifecycle_suite!($fresh);
    };
}

/// Stamps every case of the message-lifecycle suite ([`lifecycle`]).
#[macro_export]
macro_rules! lifecycle_suite {
    ($fresh:path) => {
        $crate::__conformance_cases!(lifecycle, $fresh;
            replies_quote_their_parent_as_it_is_now,
            senders_edit_their_own_messages_within_the_window,
            deletes_leave_a_tombstone_that_nothing_finds_or_counts,
            group_admins_delete_anyones_message_and_members_their_own,
            changes_to_messages_reach_live_streams_and_resuming_clients_once,
            group_members_hear_changes_while_they_may_read,
            edits_are_asked_of_the_policy_and_count_as_sends,
            later_members_never_see_an_older_message_through_a_quote_or_an_edit,
            reactions_are_one_emoji_each_counted_per_reader_and_replayed,
            a_block_stops_direct_messages_typing_and_group_adds,
            mentions_name_members_only_and_count_until_read,
            everyone_is_called_by_admins_only_and_here_reaches_those_online,
            threads_have_a_timeline_and_a_summary_on_their_root,
        );
        $crate::__conformance_cases!(moderation, $fresh;
            only_administrators_moderate_and_the_operator_makes_them,
            a_disabled_account_loses_its_sessions_and_streams_until_enabled,
            administrators_delete_any_message_and_the_log_pages,
            reports_queue_for_administrators_who_resolve_them,
            group_admins_ban_for_a_time_and_set_slow_mode,
        );
    };
}

/// Stamps every case of the group suite ([`groups`]).
#[macro_export]
macro_rules! group_suite {
    ($fresh:path) => {
        $crate::__conformance_cases!(groups, $fresh;
            a_group_is_made_with_its_owner_the_members_who_consent_and_invitations,
            a_stranger_gets_not_found_whether_or_not_the_group_exists,
            roles_decide_who_renames_adds_removes_and_hands_over,
            the_member_cap_and_the_title_are_checked,
            a_removed_member_keeps_what_came_before_and_hears_nothing_after,
            history_is_visible_from_joining_or_whole_as_the_group_chose,
            group_messages_are_idempotent_and_in_the_inbox_with_unread_counts,
            members_hear_the_group_live_until_they_leave,
            concurrent_adds_removes_and_sends_end_consistent,
            a_muted_member_reads_but_does_not_send_until_the_mute_ends,
            discoverable_groups_are_found_by_title_and_joined_by_anyone,
            a_sender_learns_how_many_have_read_not_who,
            group_history_pages_from_the_newest_within_what_a_member_may_read,
            invitations_are_declined_removal_sticks_and_the_last_to_leave_ends_the_group,
            adds_and_joins_count_as_sends,
        );
    };
}

/// Stamps every case of the store-port suite ([`ports`]).
#[macro_export]
macro_rules! store_port_suite {
    ($fresh:path) => {
        $crate::__conformance_cases!(ports, $fresh;
            users_are_unique_by_name_and_email_and_found_by_either,
            sessions_are_found_by_their_hash_and_expire_by_idleness_or_age,
            a_shared_secret_is_the_first_candidate_for_good,
            a_pair_has_one_direct_conversation_whoever_asks_and_however_often,
            concurrent_batches_take_positions_in_commit_order,
            a_client_id_names_one_message_of_its_sender,
            history_pages_are_keyset_and_chronological,
            search_is_literal_case_folded_and_within_the_conversation,
            the_conversation_list_counts_unread_and_shows_marks_by_recency,
            read_marks_move_forward_and_keep_one_change_per_member,
            the_change_log_merges_messages_and_reads_and_pages_by_position,
        );
    };
}

/// Stamps every case of the service suite ([`service`]).
#[macro_export]
macro_rules! service_suite {
    ($fresh:path) => {
        $crate::__conformance_cases!(service, $fresh;
            signup_validates_every_field,
            duplicate_username_and_email_are_rejected_case_insensitively,
            look_alike_usernames_are_taken,
            login_succeeds_and_fails_alike,
            a_host_brings_its_users_by_its_own_id,
            members_mute_their_conversations_for_themselves,
            the_feed_carries_every_change_of_the_chat_in_commit_order,
            api_keys_are_made_scoped_listed_and_revoked,
            login_failures_do_the_same_hashing_work,
            authenticate_rejects_unknown_and_malformed_tokens,
            sessions_expire_after_idle_and_absolute_timeouts,
            logout_ends_the_session_and_its_subscriptions,
            login_is_rate_limited_per_username_and_per_client,
            default_limits_are_the_documented_ones,
            known_devices_log_in_while_their_account_is_under_attack,
            login_attempts_count_per_client_network,
            signup_is_limited_per_client_and_network_and_refused_before_hashing,
            send_validates_and_stores_nothing_on_error,
            send_is_idempotent_per_client_id,
            send_commits_then_publishes_to_every_device,
            history_pages_are_chronological_with_exact_boundaries,
            search_is_literal_case_insensitive_and_unicode,
            search_results_paginate,
            third_user_sees_nothing_of_a_conversation,
            conversations_are_sorted_by_recency_with_unread_counts,
            read_marks_only_move_forward_and_are_announced,
            since_recovers_everything_after_an_id,
            directory_lists_other_users_by_prefix,
            concurrent_sends_get_unique_increasing_ids,
            concurrent_appends_behave_like_appends_in_order,
            typing_reaches_the_peer_and_is_not_stored,
            conversation_peers_are_those_who_both_spoke,
            presence_reaches_only_peers_who_both_spoke,
            read_marks_reach_the_peer_only_where_both_spoke,
            read_marks_made_while_away_are_in_the_change_log,
            the_change_log_keeps_a_strangers_reading_from_the_sender,
            positions_grow_in_commit_order_and_cursors_name_their_store,
        );
    };
}

/// Stamps every presence case ([`presence`]) into a `#[tokio::test]` that
/// runs it on a backend from `$fresh` (an `async fn() -> Arc<dyn Presence>`).
#[macro_export]
macro_rules! presence_conformance_suite {
    ($fresh:path) => {
        $crate::__conformance_cases!(presence, $fresh;
            the_first_connection_and_the_last_disconnection_are_reported,
            concurrent_connections_are_counted_exactly,
            the_newest_activity_is_kept_per_user,
        );
    };
}

/// Stamps every rate-limiter case ([`limits`]) into a `#[tokio::test]` that
/// runs it on a limiter from `$fresh` (an `async fn() -> Arc<dyn
/// RateLimiter>` enforcing [`limits::suite_limits`]).
#[macro_export]
macro_rules! limiter_conformance_suite {
    ($fresh:path) => {
        $crate::__conformance_cases!(limits, $fresh;
            the_burst_passes_then_the_key_waits,
            once_per_period_then_the_key_waits,
        );
    };
}

/// Stamps every bus conformance case into a `#[tokio::test]` that runs it
/// on a bus from `$fresh` (an `async fn() -> Arc<dyn Bus>`).
#[macro_export]
macro_rules! bus_conformance_suite {
    ($fresh:path) => {
        $crate::__conformance_cases!(bus, $fresh;
            delivers_to_every_subscriber,
            topics_are_isolated,
            conversation_topics_are_carried_apart_from_user_topics,
            order_is_preserved_per_topic,
            publishes_to_several_topics_at_once,
            publishing_without_subscribers_succeeds,
            subscription_is_live_when_subscribe_returns,
            slow_subscriber_is_told_it_lagged,
            dropped_subscription_does_not_disturb_others,
            subscribers_share_one_event,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($suite:ident, $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fresh = $fresh().await;
                let Some(backend) = $crate::testkit::Fresh::get(&fresh) else {
                    return;
                };
                $crate::testkit::$suite::$case(backend).await;
                drop(fresh);
            }
        )*
    };
}
