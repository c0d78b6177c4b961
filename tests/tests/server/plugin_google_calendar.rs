//! The `googleCalendar` plugin through the real server: a user connects
//! with Google's OAuth flow (offline access; the token answer as Google
//! documents it, with `expires_in`, `scope`, `Bearer` and a refresh
//! token), the connection test finds the primary calendar, every action
//! the server lists runs through ActionKit against the strict Google
//! Calendar mock, and refusals come back in the error shape.

use crate::plugin_fixture::{ActionCase, PluginFixture, case};
use serde_json::{Value, json};
use weft_tests::mock_providers::{Call, MockServer, google_calendar};
use weft_tests::plugin_cases::Cases;

const ACCESS: &str = "ya29.cnryGoogleCalendarAccess0a1b2c";
const REFRESH: &str = "1//cnryGoogleCalendarRefresh9z8y7x";
const EMAIL: &str = "ada@example.com";

fn one<'a>(calls: &'a [Call], method: &str, path: &str) -> &'a Call {
    let lines: Vec<String> = calls.iter().map(Call::line).collect();
    assert_eq!(lines, [format!("{method} {path}")], "the requests made");
    assert_eq!(calls[0].header("authorization"), Some(format!("Bearer {ACCESS}").as_str()));
    assert!((200..300).contains(&calls[0].status), "refused: {}", String::from_utf8_lossy(&calls[0].body));
    &calls[0]
}

fn cases(mock: &MockServer<google_calendar::GoogleCalendar>) -> Cases<ActionCase> {
    let (kept, doomed) = mock.with(|g| {
        g.add_calendar("team@group.calendar.google.com", "Team", false);
        g.add_calendar("hidden@group.calendar.google.com", "Hidden", true);
        (g.insert_event(EMAIL, "Standup"), g.insert_event(EMAIL, "Retro"))
    });
    let events = "/calendars/primary/events";
    let (k1, k2, k3) = (kept.clone(), kept.clone(), doomed.clone());
    Cases::new("googleCalendar action")
        .case(
            "GOOGLE_CALENDAR_CREATE_EVENT",
            case(
                json!({ "summary": "Launch", "start": "2024-06-03T09:00:00", "end": "2024-06-03T10:00:00",
                    "timeZone": "Europe/Zurich", "attendees": ["grace@example.com"], "sendUpdates": "all" }),
                move |out, calls| {
                    let call = one(calls, "POST", events);
                    assert_eq!(call.query_value("sendUpdates"), Some("all"));
                    assert_eq!(
                        call.json(),
                        json!({ "summary": "Launch",
                            "start": { "dateTime": "2024-06-03T09:00:00", "timeZone": "Europe/Zurich" },
                            "end": { "dateTime": "2024-06-03T10:00:00", "timeZone": "Europe/Zurich" },
                            "attendees": [{ "email": "grace@example.com" }] })
                    );
                    assert_eq!(out["status"], "confirmed", "{out}");
                },
            ),
        )
        .case(
            "GOOGLE_CALENDAR_UPDATE_EVENT",
            case(json!({ "eventId": kept, "summary": "Daily standup", "end": "2024-06-01T11:30:00Z" }), move |out, calls| {
                let call = one(calls, "PATCH", &format!("{events}/{k1}"));
                assert_eq!(call.json(), json!({ "summary": "Daily standup", "end": { "dateTime": "2024-06-01T11:30:00Z" } }));
                assert_eq!(out["summary"], "Daily standup", "{out}");
            }),
        )
        .case(
            "GOOGLE_CALENDAR_GET_EVENT_BY_ID",
            case(json!({ "calendarId": EMAIL, "eventId": kept }), move |out, calls| {
                // A calendar id with `@` stays one path segment.
                one(calls, "GET", &format!("/calendars/ada%40example.com/events/{k2}"));
                assert_eq!(out["id"], k2.as_str(), "{out}");
            }),
        )
        .case(
            "GOOGLE_CALENDAR_LIST_EVENTS",
            case(
                json!({ "timeMin": "2024-06-01T00:00:00Z", "singleEvents": true, "orderBy": "startTime", "maxResults": 10 }),
                move |out, calls| {
                    let call = one(calls, "GET", events);
                    let q = |k| call.query_value(k);
                    assert_eq!((q("timeMin"), q("singleEvents"), q("orderBy"), q("maxResults")),
                        (Some("2024-06-01T00:00:00Z"), Some("true"), Some("startTime"), Some("10")));
                    assert_eq!(out["kind"], "calendar#events", "{out}");
                    assert!(out["items"].as_array().is_some_and(|i| i.len() >= 2), "{out}");
                },
            ),
        )
        .case(
            "GOOGLE_CALENDAR_DELETE_EVENT",
            case(json!({ "eventId": doomed, "sendUpdates": "none" }), move |out, calls| {
                let call = one(calls, "DELETE", &format!("{events}/{k3}"));
                assert_eq!(call.query_value("sendUpdates"), Some("none"));
                assert_eq!(out, &json!({ "deleted": true, "eventId": k3 }));
            }),
        )
        .case(
            "GOOGLE_CALENDAR_LIST_CALENDARS",
            case(json!({ "showHidden": true }), |out, calls| {
                let call = one(calls, "GET", "/users/me/calendarList");
                assert_eq!(call.query_value("showHidden"), Some("true"));
                let ids: Vec<&str> = out["items"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
                assert_eq!(ids, [EMAIL, "team@group.calendar.google.com", "hidden@group.calendar.google.com"]);
            }),
        )
}

async fn connected() -> (MockServer<google_calendar::GoogleCalendar>, PluginFixture, Vec<(String, String)>, Value) {
    let mock = google_calendar::start(EMAIL).await;
    mock.with(|g| g.tokens.accept(ACCESS, EMAIL));
    let f = PluginFixture::new("google_calendar", "googleCalendar", &mock.base).await;
    // Google's documented answer to the code exchange.
    let answer = json!({
        "access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer", "refresh_token": REFRESH,
        "scope": "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.readonly",
    });
    let (query, credential) = f.connect("u1", answer).await;
    (mock, f, query, credential)
}

#[tokio::test]
async fn google_calendar_connects_and_runs_every_action_through_actionkit() {
    let (mock, f, query, credential) = connected().await;
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(param("access_type"), Some("offline"), "a refresh token needs offline access");
    assert_eq!(param("prompt"), Some("consent"));
    assert!(param("scope").is_some_and(|s| s.contains("https://www.googleapis.com/auth/calendar.events")));
    assert_eq!(credential["status"], "VALID", "{credential}");
    assert_eq!(credential["providerId"], EMAIL, "the account is the primary calendar: {credential}");
    assert_eq!(mock.calls().last().map(Call::line).as_deref(), Some("GET /users/me/calendarList/primary"));

    f.run_every_action("u1", &mock, cases(&mock)).await;
}

#[tokio::test]
async fn google_calendar_refusals_come_back_in_the_error_shape() {
    let (mock, f, _, _) = connected().await;
    let (status, body) = f.run("u1", "GOOGLE_CALENDAR_GET_EVENT_BY_ID", json!({ "eventId": "nope" })).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("PROVIDER_NOT_FOUND")), "{body}");
    assert!(body["meta"]["requestId"].is_string(), "{body}");
    // An empty time range: Google's 400 with its message.
    let backwards = json!({ "summary": "x", "start": "2024-06-03T10:00:00Z", "end": "2024-06-03T09:00:00Z" });
    let (status, body) = f.run("u1", "GOOGLE_CALENDAR_CREATE_EVENT", backwards).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PROVIDER_ERROR")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("time range is empty"), "{body}");
    assert_eq!(mock.calls().last().map(|c| c.status), Some(400));
    // A time the plugin cannot read is refused before Google is called.
    let before = mock.count();
    let (status, body) = f
        .run("u1", "GOOGLE_CALENDAR_CREATE_EVENT", json!({ "summary": "x", "start": "tomorrow", "end": "later" }))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PARAMETERS")), "{body}");
    assert_eq!(mock.count(), before);
}
