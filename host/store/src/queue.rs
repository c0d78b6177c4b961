//! The queue: where workflow steps wait, are claimed by a worker and
//! complete. Empty on purpose: the workflow issue fills it. This says what
//! goes here and how, so it arrives like every other concern (see "How a
//! concern is stored" in the crate docs).
//!
//! # What comes
//!
//! As `DESIGN.md` ("Storage and queue") sets it out:
//!
//! - one row per runnable step, with its project, execution and step, the
//!   attempt, the state, when it may run, the lease (token, expiry, hard
//!   deadline), how many crash restarts it has had and its idempotency key;
//! - a `QueueStore` trait here, a supertrait of `Store`, re-exported from
//!   the crate root and listed in `prelude`: enqueue (in the same
//!   transaction that stores the previous step's result, so a resumed
//!   execution never re-runs a completed step), claim with a lease,
//!   heartbeat, complete or fail fenced on the lease token, park a
//!   rate-limited step until its provider's window resets (no retry and no
//!   concurrency slot consumed), and the reaper's pass that re-queues
//!   expired leases and fails a step after 3 crash restarts;
//! - the per-project count of executing steps, changed in the same
//!   transaction as the step's state; work over the limit waits.
//!
//! # How
//!
//! - Types and trait in this file; the rows, the shared statements and the
//!   implementation for both stores in `queue/sql.rs` inside
//!   `for_both_backends!`; `NNNN_queue.sql` in both migration folders; a
//!   `queue` group in the conformance suite.
//! - Claiming is where the backends differ, so it is an inherent method on
//!   each store: PostgreSQL claims with `FOR UPDATE SKIP LOCKED` in a CTE,
//!   because several processes share one database; SQLite claims inside
//!   the single writer's `begin_write()`, whose `BEGIN IMMEDIATE` already
//!   makes claims serial. Heartbeats, completion and the reaper are single
//!   `UPDATE`s fenced on the lease token and are shared.
//! - Times (`run_after`, lease expiry, deadline) are `rows::Ts`, so they
//!   compare in SQL on both backends; methods take `now` from the caller,
//!   as `CredentialStore::credentials_expiring` does, so tests own the clock.
//! - Leadership of the scheduler and reapers on PostgreSQL is a one-key
//!   advisory lock of a fixed id. PostgreSQL keeps one-key and two-key
//!   advisory locks apart: the two-key form, with a first key naming the
//!   concern, is for a concern's locks on things that have no row to lock.
//!   `NOTIFY` is a wake-up hint only, polling the fallback.
//! - The budgets (≥ 2,000 steps/s one at a time and ≥ 10,000 batched on
//!   PostgreSQL, ≥ 5,000 durable steps/s on SQLite) are measured with the
//!   plain pattern first; a backend-specific trick such as
//!   `tasks/sql/sqlite_insert.rs` needs a measurement that asks for it.
