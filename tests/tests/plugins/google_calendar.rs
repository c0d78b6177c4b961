//! `google-calendar` (`googleCalendar`): the declared Google OAuth scheme
//! (offline access, revocation) and quotas; the polling triggers at the
//! plugin-host level against the strict Google Calendar mock: a first
//! poll sets the baseline, later polls report exactly the changes since
//! with the persisted cursor (`syncToken` or `updatedMin`), an expired
//! sync token (410) is recovered from, long listings are paged with
//! `pageToken`; `test_connection`; list paging driven by the host.

use serde_json::{Value, json};
use weft_catalog::AuthScheme;
use weft_plugin_host::{ActionCall, CallOptions, PollOutcome};
use weft_tests::mock_providers::{MockServer, google_calendar};
use weft_tests::plugin_cases::Cases;
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost};

const EMAIL: &str = "ada@example.com";

type Mock = MockServer<google_calendar::GoogleCalendar>;

async fn setup() -> (TestHost, String, Mock) {
    let t = TestHost::new();
    let id = t.install("google_calendar").await;
    let mock = google_calendar::start(EMAIL).await;
    mock.with(|g| g.tokens.accept(TOKEN_CANARY, EMAIL));
    (t, id, mock)
}

fn opts(t: &TestHost, id: &str, mock: &Mock) -> CallOptions {
    t.granted(id, CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&mock.base)))
}

async fn poll(t: &TestHost, id: &str, mock: &Mock, trigger: &str, cursor: Option<String>) -> PollOutcome {
    t.host.poll(id, &opts(t, id, mock), trigger, &json!({ "calendarId": "primary" }), cursor).await.unwrap()
}

fn summaries(out: &PollOutcome) -> Vec<&str> {
    out.events.iter().map(|e| e.payload["summary"].as_str().unwrap_or_default()).collect()
}

#[tokio::test]
async fn declares_google_oauth_with_offline_access_and_quotas() {
    let t = TestHost::new();
    let id = t.install("google_calendar").await;
    assert_eq!(id, "googleCalendar");
    let info = t.host.get(&id).unwrap();
    let meta = info.metadata.as_ref().unwrap();
    assert_eq!(meta.base_url, "https://www.googleapis.com/calendar/v3");
    let AuthScheme::Oauth2 { authorize_url, token_url, revoke_url, scopes, extra_authorize_params, .. } = &meta.auth
    else {
        panic!("unexpected auth scheme {:?}", meta.auth);
    };
    assert_eq!(authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
    assert_eq!(token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(revoke_url.as_deref(), Some("https://oauth2.googleapis.com/revoke"));
    assert!(scopes.iter().all(|s| s.starts_with("https://www.googleapis.com/auth/calendar")), "{scopes:?}");
    assert!(extra_authorize_params.contains(&("access_type".into(), "offline".into())));
    assert!(extra_authorize_params.contains(&("prompt".into(), "consent".into())));
    let limits: Vec<(u32, u32)> = meta.rate_limits.iter().map(|r| (r.requests, r.per_seconds)).collect();
    assert_eq!(limits, [(600, 60), (10_000, 60)]);
    assert!(
        info.triggers
            .iter()
            .all(|t| t.kind == "polling" && t.polling.as_ref().is_some_and(|p| p.default_seconds == 60))
    );
}

/// Each trigger: what the user does between two polls, the summaries of the
/// events it must report, and the query parameter its cursor travels in.
struct TriggerCase {
    reports: &'static [&'static str],
    cursor_param: &'static str,
}

/// Every polling trigger: baseline (nothing reported), then exactly its
/// kind of change, then nothing again once the cursor moved on.
#[tokio::test]
async fn every_trigger_reports_the_changes_since_its_cursor() {
    let (t, id, _) = setup().await;
    let declared: Vec<String> = t.host.get(&id).unwrap().triggers.iter().map(|tr| tr.key.clone()).collect();
    let cases = Cases::new("googleCalendar trigger")
        .case("GOOGLE_CALENDAR_NEW_EVENT", TriggerCase { reports: &["Fresh"], cursor_param: "syncToken" })
        .case("GOOGLE_CALENDAR_EVENT_UPDATED", TriggerCase { reports: &["Old, edited"], cursor_param: "updatedMin" })
        .case("GOOGLE_CALENDAR_EVENT_CANCELLED", TriggerCase { reports: &["Doomed"], cursor_param: "syncToken" });
    for (key, case) in cases.cover(&declared) {
        let mock = google_calendar::start(EMAIL).await;
        mock.with(|g| g.tokens.accept(TOKEN_CANARY, EMAIL));
        let (old, doomed) = mock.with(|g| (g.insert_event(EMAIL, "Old"), g.insert_event(EMAIL, "Doomed")));
        let first = poll(&t, &id, &mock, &key, None).await;
        assert!(first.events.is_empty(), "{key}: the first poll is the baseline: {first:?}");
        assert!(first.cursor.is_some(), "{key}");
        mock.with(|g| {
            g.insert_event(EMAIL, "Fresh");
            g.edit_event(EMAIL, &old, "Old, edited");
            g.cancel_event(EMAIL, &doomed);
        });
        let before = mock.count();
        let second = poll(&t, &id, &mock, &key, first.cursor.clone()).await;
        assert_eq!(summaries(&second), case.reports, "{key}");
        assert!(second.events.iter().all(|e| e.trigger == key && e.dedupe_key.is_some() && e.occurred_at_ms.is_some()));
        let calls = mock.calls_since(before);
        assert!(
            calls.iter().all(|c| c.query_value(case.cursor_param).is_some() && c.status == 200),
            "{key}: {calls:?}"
        );
        assert_ne!(second.cursor, first.cursor, "{key}: the cursor moves on");
        let third = poll(&t, &id, &mock, &key, second.cursor.clone()).await;
        assert!(third.events.is_empty(), "{key}: nothing changed since: {third:?}");
    }
}

#[tokio::test]
async fn new_events_survive_an_expired_sync_token() {
    let (t, id, mock) = setup().await;
    mock.with(|g| g.insert_event(EMAIL, "Before"));
    let first = poll(&t, &id, &mock, "GOOGLE_CALENDAR_NEW_EVENT", None).await;
    mock.with(|g| {
        g.expire_sync_tokens();
        g.insert_event(EMAIL, "During the gap");
    });
    let before = mock.count();
    let second = poll(&t, &id, &mock, "GOOGLE_CALENDAR_NEW_EVENT", first.cursor).await;
    assert_eq!(summaries(&second), ["During the gap"]);
    let statuses: Vec<(u16, bool)> =
        mock.calls_since(before).iter().map(|c| (c.status, c.query_value("syncToken").is_some())).collect();
    assert_eq!(statuses, [(410, true), (200, false)], "a full listing replaces the expired token");
    mock.with(|g| g.insert_event(EMAIL, "After"));
    let third = poll(&t, &id, &mock, "GOOGLE_CALENDAR_NEW_EVENT", second.cursor).await;
    assert_eq!(summaries(&third), ["After"]);
}

#[tokio::test]
async fn a_long_baseline_is_read_page_by_page() {
    let (t, id, mock) = setup().await;
    mock.with(|g| {
        for n in 0..260 {
            g.insert_event(EMAIL, &format!("Event {n}"));
        }
    });
    let first = poll(&t, &id, &mock, "GOOGLE_CALENDAR_NEW_EVENT", None).await;
    assert!(first.events.is_empty());
    let tokens: Vec<Option<String>> =
        mock.calls().iter().map(|c| c.query_value("pageToken").map(str::to_owned)).collect();
    assert_eq!(tokens.len(), 2, "250 per page: {tokens:?}");
    assert!(tokens[0].is_none() && tokens[1].is_some());
    let cursor: Value = serde_json::from_str(first.cursor.as_deref().unwrap()).unwrap();
    assert!(cursor["syncToken"].is_string(), "{cursor}");
}

#[tokio::test]
async fn test_connection_names_the_primary_calendar() {
    let (t, id, mock) = setup().await;
    let info = t.host.test_connection(&id, &opts(&t, &id, &mock)).await.unwrap();
    assert_eq!((info.account_id.as_str(), info.display_name.as_str()), (EMAIL, EMAIL));
    assert_eq!(info.profile["timeZone"], "Europe/Zurich");
    assert_eq!(mock.calls()[0].line(), "GET /users/me/calendarList/primary");
}

#[tokio::test]
async fn list_events_pages_with_page_tokens() {
    let (t, id, mock) = setup().await;
    mock.with(|g| {
        for n in 0..5 {
            g.insert_event(EMAIL, &format!("Event {n}"));
        }
    });
    let opts = opts(&t, &id, &mock);
    let (mut page, mut seen) = (None, Vec::new());
    for _ in 0..6 {
        let call = ActionCall {
            action: "GOOGLE_CALENDAR_LIST_EVENTS".into(),
            input: json!({ "maxResults": 2, "query": "event" }),
            page: page.take(),
        };
        let out = t.host.run_action(&id, &opts, call).await.unwrap();
        seen.extend(out.output["items"].as_array().unwrap().iter().map(|e| e["summary"].as_str().unwrap().to_owned()));
        match out.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["Event 0", "Event 1", "Event 2", "Event 3", "Event 4"]);
    assert!(mock.calls().iter().all(|c| c.status == 200 && c.query_value("q") == Some("event")));
    assert_eq!(mock.count(), 3);
}
