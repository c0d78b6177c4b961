//! Leadership of a duty: one holder at a time, renewed by it, taken over
//! once its lease ran out with the mark it left, given up on resign.

use crate::harness::Db;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;
use weft_store::Store;

const HOLD: Duration = Duration::from_secs(5);

fn at(t: OffsetDateTime, ms: i64) -> OffsetDateTime {
    t + time::Duration::milliseconds(ms)
}

pub async fn one_holder_at_a_time_and_the_mark_survives_it(db: Db) {
    let s = &*db.store;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let t = crate::queue::now();
    let lead = s.lead("scheduler", a, t, HOLD, None).await.unwrap().expect("free: a takes it");
    assert_eq!((lead.until, lead.mark, lead.lapsed), (at(t, 5_000), None, None));
    assert_eq!(s.lead("scheduler", b, at(t, 1_000), HOLD, None).await.unwrap(), None, "a holds it");
    // Another duty is another row.
    assert!(s.lead("other", b, t, HOLD, None).await.unwrap().is_some());
    // a renews, moving its mark; without a mark the old one stays.
    let lead = s.lead("scheduler", a, at(t, 2_000), HOLD, Some(at(t, 1_500))).await.unwrap().unwrap();
    assert_eq!((lead.until, lead.mark, lead.lapsed), (at(t, 7_000), Some(at(t, 1_500)), None));
    let lead = s.lead("scheduler", a, at(t, 3_000), HOLD, None).await.unwrap().unwrap();
    assert_eq!(lead.mark, Some(at(t, 1_500)));
    // Not renewed: b takes it once the lease ran out, and finds a's mark.
    assert_eq!(s.lead("scheduler", b, at(t, 7_999), HOLD, None).await.unwrap(), None);
    let lead = s.lead("scheduler", b, at(t, 8_001), HOLD, None).await.unwrap().expect("a's lease ran out");
    assert_eq!((lead.until, lead.mark), (at(t, 13_001), Some(at(t, 1_500))));
    assert_eq!(lead.lapsed, Some(at(t, 8_000)), "when a's lease ran out");
    // a, back, no longer holds it; b resigns and a takes it at once.
    assert_eq!(s.lead("scheduler", a, at(t, 8_500), HOLD, Some(at(t, 8_000))).await.unwrap(), None);
    s.resign("scheduler", a, at(t, 8_600)).await.unwrap();
    assert_eq!(s.lead("scheduler", a, at(t, 8_700), HOLD, None).await.unwrap(), None, "only the holder resigns");
    s.resign("scheduler", b, at(t, 9_000)).await.unwrap();
    let lead = s.lead("scheduler", a, at(t, 9_001), HOLD, None).await.unwrap().expect("b resigned");
    assert_eq!(lead.mark, Some(at(t, 1_500)), "the mark outlives its holders");
    assert_eq!(lead.lapsed, Some(at(t, 9_000)), "b's resignation");
    let lead = s.lead("scheduler", a, at(t, 9_500), HOLD, None).await.unwrap().unwrap();
    assert_eq!(lead.lapsed, Some(at(t, 9_000)), "a renewal keeps it");
    assert!(s.lead("", a, t, HOLD, None).await.is_err(), "a duty has a name");
}

/// Many processes ask at once: exactly one holds the duty.
pub async fn concurrent_candidates_elect_one(db: Db) {
    let other = db.reopen().await;
    let t = crate::queue::now();
    for round in 0..5 {
        let name = format!("duty-{round}");
        let stores: Vec<Arc<dyn Store>> =
            (0..6).map(|i| if i % 2 == 0 { db.store.clone() } else { other.clone() }).collect();
        let start = Arc::new(tokio::sync::Barrier::new(stores.len()));
        let asks: Vec<_> = stores
            .into_iter()
            .map(|s| {
                let (start, name) = (start.clone(), name.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    s.lead(&name, Uuid::new_v4(), t, HOLD, None).await.expect("lead").is_some()
                })
            })
            .collect();
        let mut held = 0;
        for a in asks {
            held += usize::from(a.await.unwrap());
        }
        assert_eq!(held, 1, "round {round}");
    }
    other.close().await;
}
