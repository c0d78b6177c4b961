//! Two governors (two processes) on one in-memory shared budget that
//! counts grants like the store does.

use super::*;
use crate::governor::{GovernorConfig, Scope, Subject};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The store's algorithm, in memory: grants count until a window past
/// their lease.
#[derive(Default)]
struct MemoryBudget {
    grants: Mutex<Vec<(String, u128, SystemTime, u32)>>,
    pauses: Mutex<Vec<(String, SystemTime)>>,
    asks: AtomicU32,
    down: AtomicBool,
}

#[async_trait]
impl SharedBudget for MemoryBudget {
    async fn take(&self, ask: SliceAsk<'_>) -> Result<SliceGrant, BudgetError> {
        if self.down.load(Ordering::SeqCst) {
            return Err("the database is down".into());
        }
        self.asks.fetch_add(1, Ordering::SeqCst);
        let mut grants = self.grants.lock().unwrap();
        if let Some((id, used)) = ask.release {
            for g in grants.iter_mut().filter(|g| g.0 == ask.key && g.1 == id) {
                g.3 = g.3.min(used);
            }
        }
        grants.retain(|g| g.2 + ask.window > ask.now);
        let spent: u32 = grants.iter().filter(|g| g.0 == ask.key).map(|g| g.3).sum();
        let granted = ask.requests.saturating_sub(spent).min(ask.want);
        if granted == 0 {
            let first = grants.iter().filter(|g| g.0 == ask.key && g.3 > 0).map(|g| g.2).min().unwrap();
            let retry = (first + ask.window).duration_since(ask.now).unwrap_or_default();
            return Ok(SliceGrant { id: None, granted: 0, retry_after: Some(retry) });
        }
        let id = u128::from(self.asks.load(Ordering::SeqCst));
        grants.push((ask.key.to_owned(), id, ask.now + ask.lease, granted));
        Ok(SliceGrant { id: Some(id), granted, retry_after: None })
    }

    async fn pause(&self, key: &str, until: SystemTime) -> Result<(), BudgetError> {
        self.pauses.lock().unwrap().push((key.to_owned(), until));
        Ok(())
    }

    async fn pauses(&self) -> Result<Vec<(String, SystemTime)>, BudgetError> {
        Ok(self.pauses.lock().unwrap().clone())
    }
}

fn subject(conn: &str) -> Subject<'_> {
    Subject { project: "6f1c0c1e-0000-4000-8000-000000000001", integration: "slack", connection: Some(conn) }
}

const APP_40: Rule = Rule { scope: Scope::App, requests: 40, per: Duration::from_secs(60) };

#[tokio::test]
async fn two_processes_never_admit_more_than_the_shared_limit() {
    let budget = Arc::new(MemoryBudget::default());
    let a = Governor::with_shared(GovernorConfig::default(), budget.clone());
    let b = Governor::with_shared(GovernorConfig::default(), budget.clone());
    let mut admitted = 0;
    for i in 0..200 {
        let g = if i % 3 == 0 { &a } else { &b };
        admitted += u32::from(g.admit(&subject(&format!("c{}", i % 7)), &[APP_40]).await.is_ok());
    }
    assert_eq!(admitted, 40, "both processes spend one budget of 40, and all of it");
    let asks = budget.asks.load(Ordering::SeqCst);
    assert!(asks < 40, "slices grow: {asks} asks for 40 calls");
    let wait = a.admit(&subject("c1"), &[APP_40]).await.unwrap_err();
    assert!(wait > Duration::from_secs(60), "the window and its margin: {wait:?}");
}

#[tokio::test]
async fn a_refused_call_gives_its_units_back() {
    let budget = Arc::new(MemoryBudget::default());
    let g = Governor::with_shared(GovernorConfig::default(), budget);
    let per_account = Rule { scope: Scope::Connection, requests: 1, per: Duration::from_secs(60) };
    g.admit(&subject("c1"), &[APP_40, per_account]).await.unwrap();
    // The account's budget is spent; the app's unit taken for this call
    // goes back to the slice, so the app still has 39 to give.
    assert!(g.admit(&subject("c1"), &[APP_40, per_account]).await.is_err());
    let mut admitted = 1;
    for i in 0..60 {
        admitted += u32::from(g.admit(&subject(&format!("d{i}")), &[APP_40]).await.is_ok());
    }
    assert_eq!(admitted, 40);
}

#[tokio::test]
async fn an_unreachable_budget_fails_closed() {
    let budget = Arc::new(MemoryBudget::default());
    let g = Governor::with_shared(GovernorConfig::default(), budget.clone());
    budget.down.store(true, Ordering::SeqCst);
    assert_eq!(g.admit(&subject("c1"), &[APP_40]).await, Err(Duration::from_secs(1)));
    budget.down.store(false, Ordering::SeqCst);
    assert!(g.admit(&subject("c1"), &[APP_40]).await.is_ok());
    // Calls without a declared limit never ask the store.
    budget.down.store(true, Ordering::SeqCst);
    assert!(g.admit(&subject("c1"), &[]).await.is_ok());
}

#[tokio::test]
async fn a_pause_learned_by_one_process_reaches_the_other() {
    let budget = Arc::new(MemoryBudget::default());
    let a = Governor::with_shared(GovernorConfig::default(), budget.clone());
    let b = Governor::with_shared(GovernorConfig::default(), budget.clone());
    a.learn(&subject("c1"), 429, &[("Retry-After".to_owned(), "30".to_owned())][..]);
    // The pause is written in the background.
    while budget.pauses.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    assert!(b.admit(&subject("c1"), &[]).await.is_ok(), "not taken in yet");
    b.sync_pauses().await;
    let wait = b.admit(&subject("c1"), &[]).await.unwrap_err();
    assert!(wait > Duration::from_secs(28) && wait <= Duration::from_secs(30), "{wait:?}");
    assert!(b.admit(&subject("c2"), &[]).await.is_ok(), "another account goes on");
}
