//! Shared rate-limit budgets: slices granted within a rule's budget,
//! counted until one window past their lease, shrunk to the calls made,
//! learned pauses, and concurrent asks from two processes.

use crate::harness::Db;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use weft_store::{BudgetAsk, Store};

const WINDOW: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(1);

fn at(t: OffsetDateTime, ms: i64) -> OffsetDateTime {
    t + time::Duration::milliseconds(ms)
}

fn ask(key: &str, want: u32, now: OffsetDateTime) -> BudgetAsk<'_> {
    BudgetAsk { key, requests: 10, window: WINDOW, want, lease: LEASE, now, release: None }
}

pub async fn slices_stay_within_the_budget_until_a_window_past_their_lease(db: Db) {
    let s = &*db.store;
    let t = crate::queue::now();
    let a = s.take_budget(ask("p/slack/10per60s", 4, t)).await.unwrap();
    assert_eq!((a.granted, a.expires_at, a.retry_at), (4, at(t, 1_000), None));
    assert!(a.id.is_some());
    let b = s.take_budget(ask("p/slack/10per60s", 4, at(t, 500))).await.unwrap();
    assert_eq!(b.granted, 4);
    let c = s.take_budget(ask("p/slack/10per60s", 4, at(t, 900))).await.unwrap();
    assert_eq!(c.granted, 2, "only what is left");
    // Spent: the first grant counts until a window past its lease.
    let d = s.take_budget(ask("p/slack/10per60s", 1, at(t, 30_000))).await.unwrap();
    assert_eq!((d.granted, d.id), (0, None));
    assert_eq!(d.retry_at, Some(at(t, 61_000)), "a's lease ends at 1 s, its window at 61 s");
    // Another key has its own budget.
    assert_eq!(s.take_budget(ask("p/slack/conn/10per60s", 10, t)).await.unwrap().granted, 10);
    // Expiry, not the grant's time, is counted: at 60.9 s a (expiring at
    // 1 s) still counts; just past 61 s it does not.
    assert_eq!(s.take_budget(ask("p/slack/10per60s", 1, at(t, 60_999))).await.unwrap().granted, 0);
    let e = s.take_budget(ask("p/slack/10per60s", 9, at(t, 61_001))).await.unwrap();
    assert_eq!(e.granted, 4, "a's four came free, b's and c's still count");
    // Input is checked.
    assert!(s.take_budget(ask("", 1, t)).await.is_err(), "a key");
    assert!(s.take_budget(ask("k", 0, t)).await.is_err(), "at least one call");
    assert!(s.take_budget(BudgetAsk { requests: 0, ..ask("k", 1, t) }).await.is_err());
}

pub async fn a_released_slice_shrinks_to_the_calls_made(db: Db) {
    let s = &*db.store;
    let t = crate::queue::now();
    let a = s.take_budget(ask("k", 8, t)).await.unwrap();
    assert_eq!(a.granted, 8);
    assert_eq!(s.take_budget(ask("k", 5, at(t, 100))).await.unwrap().granted, 2);
    // a made 3 calls: 5 come back with the next ask.
    let b = s.take_budget(BudgetAsk { release: Some((a.id.unwrap(), 3)), ..ask("k", 6, at(t, 1_200)) }).await.unwrap();
    assert_eq!(b.granted, 5);
    // A release never grows a grant.
    let c = s.take_budget(BudgetAsk { release: Some((b.id.unwrap(), 50)), ..ask("k", 6, at(t, 2_300)) }).await.unwrap();
    assert_eq!(c.granted, 0);
    // Another key's grant is not released by this one's id.
    let other = s.take_budget(ask("other", 10, t)).await.unwrap();
    let d = s.take_budget(BudgetAsk { release: Some((other.id.unwrap(), 0)), ..ask("k", 1, at(t, 2_400)) }).await;
    assert_eq!(d.unwrap().granted, 0);
    assert_eq!(s.take_budget(ask("other", 1, at(t, 100))).await.unwrap().granted, 0, "other's grant kept");
}

pub async fn learned_pauses_are_kept_until_they_pass(db: Db) {
    let s = &*db.store;
    let t = crate::queue::now();
    assert!(s.budget_pauses(t).await.unwrap().is_empty());
    s.pause_budget("p/slack/c1", at(t, 5_000), t).await.unwrap();
    s.pause_budget("p/slack/c1", at(t, 2_000), at(t, 10)).await.unwrap();
    s.pause_budget("p/github", at(t, 1_000), t).await.unwrap();
    let mut pauses = s.budget_pauses(at(t, 500)).await.unwrap();
    pauses.sort();
    assert_eq!(
        pauses,
        vec![("p/github".to_owned(), at(t, 1_000)), ("p/slack/c1".to_owned(), at(t, 5_000))],
        "the later pause stays"
    );
    assert_eq!(s.budget_pauses(at(t, 1_000)).await.unwrap(), vec![("p/slack/c1".to_owned(), at(t, 5_000))]);
    s.pause_budget("p/slack/c1", at(t, 9_000), at(t, 1_000)).await.unwrap();
    assert_eq!(s.budget_pauses(at(t, 6_000)).await.unwrap(), vec![("p/slack/c1".to_owned(), at(t, 9_000))]);
    // A key with a budget and a pause keeps both.
    assert_eq!(s.take_budget(ask("p/slack/c1", 3, at(t, 6_000))).await.unwrap().granted, 3);
    assert_eq!(s.budget_pauses(at(t, 6_000)).await.unwrap().len(), 1);
    assert!(s.pause_budget("", t, t).await.is_err());
}

/// A key is purged only once it no longer matters: every grant a window
/// past its lease, its pause over; a purged key starts anew.
pub async fn idle_keys_are_purged_only_once_nothing_of_them_counts(db: Db) {
    let s = &*db.store;
    let t = crate::queue::now();
    // `busy` spends its budget at t (counts until 61 s); `paused` pauses
    // until 90 s; `short` has a 1 s window (counts until 2 s).
    assert_eq!(s.take_budget(ask("busy", 10, t)).await.unwrap().granted, 10);
    s.pause_budget("paused", at(t, 90_000), t).await.unwrap();
    let short = BudgetAsk { window: Duration::from_secs(1), ..ask("short", 10, t) };
    assert_eq!(s.take_budget(short).await.unwrap().granted, 10);
    assert_eq!(s.purge_idle_budgets(at(t, 1_999)).await.unwrap(), 0, "nothing idle yet");
    assert_eq!(s.purge_idle_budgets(at(t, 2_001)).await.unwrap(), 1, "`short` is idle");
    // The purge took nothing that still counts.
    assert_eq!(s.take_budget(ask("busy", 1, at(t, 30_000))).await.unwrap().granted, 0, "`busy` still spent");
    assert_eq!(s.budget_pauses(at(t, 60_000)).await.unwrap().len(), 1, "`paused` still paused");
    // `busy`'s last ask (at 30 s, nothing granted) keeps it until 91 s.
    assert_eq!(s.purge_idle_budgets(at(t, 89_000)).await.unwrap(), 0);
    assert_eq!(s.purge_idle_budgets(at(t, 91_001)).await.unwrap(), 2, "both are idle");
    assert!(s.budget_pauses(at(t, 91_001)).await.unwrap().is_empty());
    assert_eq!(s.take_budget(ask("busy", 10, at(t, 91_002))).await.unwrap().granted, 10, "made anew");
}

/// Two processes ask for slices of one budget at once: never more than the
/// budget is granted.
pub async fn concurrent_asks_never_over_grant(db: Db) {
    let other = db.reopen().await;
    let t = crate::queue::now();
    let stores: Vec<Arc<dyn Store>> =
        (0..8).map(|i| if i % 2 == 0 { db.store.clone() } else { other.clone() }).collect();
    let start = Arc::new(tokio::sync::Barrier::new(stores.len()));
    let asks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut granted = 0;
                for round in 0..5 {
                    let now = at(t, (i * 10 + round) as i64);
                    granted += s
                        .take_budget(BudgetAsk { requests: 50, want: 3, ..ask("shared", 3, now) })
                        .await
                        .expect("take")
                        .granted;
                }
                granted
            })
        })
        .collect();
    let mut total = 0;
    for a in asks {
        total += a.await.unwrap();
    }
    assert_eq!(total, 50, "8 × 5 asks of 3 want 120; the budget is 50");
    other.close().await;
}
