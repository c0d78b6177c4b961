//! ActionKit logs: batches that round-trip every field, each filter,
//! pages, the retention purge, and one project never seeing another's.

use crate::harness::{Db, project};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use weft_store::{ActionCallKind, ActionCallSource, ActionLog, ActionLogQuery, ActionLogStatus, ProjectId};

fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// Entry `n` of `project`: users u0..u2, runs of two integrations and
/// listings, every third one an error carrying its parameters.
fn entry(project: ProjectId, n: i64) -> ActionLog {
    let error = n % 3 == 0;
    let run = n % 4 != 0;
    let integration = if n % 2 == 0 { "slack" } else { "github" };
    ActionLog {
        id: uuid::Uuid::new_v4(),
        project_id: project,
        created_at: start() + Duration::seconds(n) + Duration::microseconds(n % 1000),
        trace_id: format!("trace-{n}"),
        request_id: format!("req-{n}"),
        user_id: format!("u{}", n % 3),
        kind: if run { ActionCallKind::Run } else { ActionCallKind::List },
        source: [ActionCallSource::Api, ActionCallSource::Sdk, ActionCallSource::Mcp][(n % 3) as usize],
        integration: run.then(|| integration.to_owned()),
        action: run.then(|| format!("{}_ACTION_{}", integration.to_uppercase(), n % 2)),
        status: if error { ActionLogStatus::Error } else { ActionLogStatus::Success },
        http_status: if error { 400 } else { 200 },
        error_code: error.then(|| "INVALID_PARAMETERS".to_owned()),
        error_message: error.then(|| format!("bad \"parameter\" é {n}")),
        duration_us: 1_000 + n as u64,
        parameters: error.then(|| json!({ "n": n, "text": "quoted \" and é" })),
    }
}

fn query() -> ActionLogQuery {
    ActionLogQuery { limit: 100, ..Default::default() }
}

pub async fn entries_round_trip_newest_first(db: Db) {
    let s = db.store;
    let a = project(&*s, "A").await;
    let batch: Vec<_> = (0..30).map(|n| entry(a.id, n)).collect();
    s.insert_action_logs(&batch).await.expect("insert");
    s.insert_action_logs(&batch[..5]).await.expect("a repeated batch is ignored, not an error");
    s.insert_action_logs(&[]).await.expect("empty");
    let all = s.list_action_logs(a.id, &query()).await.unwrap();
    assert_eq!(all.len(), 30);
    assert_eq!(all[0], batch[29], "newest first, every field round-trips");
    assert_eq!(all[2], batch[27], "an error entry with its parameters too");
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    // A NUL (a caller can send one as an action name) is stored on both
    // backends, as U+FFFD; an overlong message is cut.
    let mut odd = entry(a.id, 100);
    odd.action = Some("A\0B".into());
    odd.error_message = Some("x".repeat(5000));
    odd.parameters = Some(json!({ "k\0": "v\0" }));
    s.insert_action_logs(std::slice::from_ref(&odd)).await.expect("odd text is stored");
    let got = &s.list_action_logs(a.id, &ActionLogQuery { limit: 1, ..query() }).await.unwrap()[0];
    assert_eq!(got.action.as_deref(), Some("A\u{FFFD}B"));
    assert_eq!(got.error_message.as_ref().unwrap().len(), weft_store::MAX_ACTION_LOG_MESSAGE_LEN);
    assert_eq!(got.parameters, Some(json!({ "k\u{FFFD}": "v\u{FFFD}" })));
    // An entry that breaks a check refuses its batch.
    let bad = ActionLog { trace_id: String::new(), ..entry(a.id, 200) };
    let refused = s.insert_action_logs(&[entry(a.id, 201), bad]).await;
    assert!(matches!(refused, Err(weft_store::Error::Invalid(_))), "{refused:?}");
    assert_eq!(s.list_action_logs(a.id, &query()).await.unwrap().len(), 31, "nothing of it stored");
}

pub async fn filters_and_pages(db: Db) {
    let s = db.store;
    let a = project(&*s, "A").await;
    let batch: Vec<_> = (0..30).map(|n| entry(a.id, n)).collect();
    s.insert_action_logs(&batch).await.unwrap();
    let ids = |q: ActionLogQuery| {
        let s = s.clone();
        async move {
            let mut got: Vec<String> =
                s.list_action_logs(a.id, &q).await.unwrap().into_iter().map(|e| e.trace_id).collect();
            got.sort();
            got
        }
    };
    let expect = |keep: &dyn Fn(&ActionLog) -> bool| {
        let mut want: Vec<String> = batch.iter().filter(|e| keep(e)).map(|e| e.trace_id.clone()).collect();
        want.sort();
        want
    };
    assert_eq!(ids(ActionLogQuery { user: Some("u1".into()), ..query() }).await, expect(&|e| e.user_id == "u1"));
    assert_eq!(
        ids(ActionLogQuery { integration: Some("slack".into()), ..query() }).await,
        expect(&|e| e.integration.as_deref() == Some("slack"))
    );
    assert_eq!(
        ids(ActionLogQuery { status: Some(ActionLogStatus::Error), ..query() }).await,
        expect(&|e| e.status == ActionLogStatus::Error)
    );
    assert_eq!(
        ids(ActionLogQuery { action: Some("GITHUB_ACTION_1".into()), ..query() }).await,
        expect(&|e| e.action.as_deref() == Some("GITHUB_ACTION_1"))
    );
    // The trace filter finds an entry by its trace id or its request id.
    assert_eq!(ids(ActionLogQuery { trace: Some("trace-7".into()), ..query() }).await, ["trace-7"]);
    assert_eq!(ids(ActionLogQuery { trace: Some("req-7".into()), ..query() }).await, ["trace-7"]);
    assert!(ids(ActionLogQuery { trace: Some("trace-77".into()), ..query() }).await.is_empty());
    // Since is inclusive, until exclusive.
    let (since, until) = (batch[10].created_at, batch[20].created_at);
    assert_eq!(
        ids(ActionLogQuery { since: Some(since), until: Some(until), ..query() }).await,
        expect(&|e| e.created_at >= since && e.created_at < until)
    );
    // Filters combine.
    assert_eq!(
        ids(ActionLogQuery { user: Some("u0".into()), status: Some(ActionLogStatus::Success), ..query() }).await,
        expect(&|e| e.user_id == "u0" && e.status == ActionLogStatus::Success)
    );
    // Pages: newest first, no overlap, capped.
    let page = |offset, limit| {
        let s = s.clone();
        async move { s.list_action_logs(a.id, &ActionLogQuery { offset, limit, ..query() }).await.unwrap() }
    };
    let (first, second) = (page(0, 10).await, page(10, 10).await);
    assert_eq!(first[0].trace_id, "trace-29");
    assert_eq!(second[0].trace_id, "trace-19");
    assert_eq!(page(0, 10_000).await.len(), 30);
    let many: Vec<_> = (100..250).map(|n| entry(a.id, n)).collect();
    s.insert_action_logs(&many).await.unwrap();
    assert_eq!(page(0, 10_000).await.len(), weft_store::MAX_ACTION_LOGS_PAGE as usize);
}

pub async fn old_entries_are_purged(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    let mut batch: Vec<_> = (0..20).map(|n| entry(a.id, n)).collect();
    batch.extend((0..20).map(|n| entry(b.id, n)));
    s.insert_action_logs(&batch).await.unwrap();
    // Entries 0..10 of both projects are older than the cutoff.
    let cutoff = start() + Duration::seconds(10);
    assert_eq!(s.purge_action_logs(cutoff, 15).await.unwrap(), 15, "at most the limit");
    assert_eq!(s.purge_action_logs(cutoff, 15).await.unwrap(), 5, "then the rest");
    assert_eq!(s.purge_action_logs(cutoff, 15).await.unwrap(), 0);
    for p in [a.id, b.id] {
        let left = s.list_action_logs(p, &query()).await.unwrap();
        assert_eq!(left.len(), 10);
        assert!(left.iter().all(|e| e.created_at >= cutoff));
    }
}

pub async fn action_log_tenancy(db: Db) {
    let s = db.store;
    let (a, b) = (project(&*s, "A").await, project(&*s, "B").await);
    s.insert_action_logs(&(0..6).map(|n| entry(a.id, n)).collect::<Vec<_>>()).await.unwrap();
    s.insert_action_logs(&[entry(b.id, 50)]).await.unwrap();
    let of_b = s.list_action_logs(b.id, &query()).await.unwrap();
    assert_eq!(of_b.iter().map(|e| e.trace_id.as_str()).collect::<Vec<_>>(), ["trace-50"]);
    // A's trace id, user and action looked up in B: nothing.
    for q in [
        ActionLogQuery { trace: Some("trace-1".into()), ..query() },
        ActionLogQuery { user: Some("u1".into()), ..query() },
        ActionLogQuery { action: Some("GITHUB_ACTION_1".into()), ..query() },
    ] {
        assert!(s.list_action_logs(b.id, &q).await.unwrap().is_empty(), "{q:?}");
    }
    let unknown: ProjectId = uuid::Uuid::new_v4().into();
    assert!(s.list_action_logs(unknown, &query()).await.unwrap().is_empty());
}
