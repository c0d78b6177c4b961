//! Slack through the real server: an account connected with Slack's own
//! `oauth.v2.access` answer (`"token_type": "bot"`, which Weft refused
//! before), every action the plugin lists run through ActionKit against
//! the strict Slack mock, a Slack failure passed through in the error
//! shape, and a rotated token read the same way on refresh.

use serde_json::{Value, json};
use weft_tests::mock_providers::slack::{self, SlackMock, TEAM};

use crate::provider_cases::{authorization_server, case, project, run, run_every_action};

const GENERAL: &str = "C000000000";

fn text<'v>(v: &'v Value, pointer: &str) -> &'v str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{pointer} missing in {v}"))
}

#[tokio::test]
async fn slack_connects_with_its_token_answer_and_runs_every_action() {
    let (auth, tokens) = authorization_server().await;
    let mock = SlackMock::start(tokens).await;
    let f = project("slack", auth, slack::token_dialect(), &mock.api_base()).await;
    let credential = f.connect("u1", TEAM, json!({})).await;
    assert_eq!(credential["providerId"], TEAM, "{credential}");
    assert_eq!(credential["status"], "VALID", "{credential}");
    // The code went to oauth.v2.access with the client in the form, as Slack documents.
    let exchange = f.mock.log().into_iter().find(|r| r.path == "/token").expect("a token request");
    assert_eq!((exchange.outcome.as_str(), exchange.form_value("grant_type")), ("ok", Some("authorization_code")));
    assert!(exchange.form_value("client_secret").is_some() && exchange.header("authorization").is_none());
    // The connection test called auth.test with the bot token.
    assert_eq!(mock.calls.to("/auth.test").len(), 1);
    // The user token of `authed_user` is kept sealed, never sent.
    let id = credential["id"].as_str().unwrap();
    let usable = f.app.credentials.usable(f.project.parse().unwrap(), id.parse().unwrap()).await.unwrap();
    assert_eq!(usable.secrets.extra["authed_user"]["access_token"], "xoxp-1234");
    assert_eq!(usable.secrets.extra["team"]["id"], TEAM);

    let m = &mock;
    let sent =
        |o: &crate::provider_cases::Outputs, key: &str| o["SLACK_SEND_MESSAGE"][key].as_str().unwrap().to_owned();
    let cases = vec![
        case(
            "SLACK_SEND_MESSAGE",
            |_| json!({ "channel": "#general", "message": "Deployed v1.2" }),
            |out, _| {
                assert_eq!((out["ok"].as_bool(), text(out, "/channel")), (Some(true), GENERAL), "{out}");
                assert_eq!(m.messages_in(GENERAL), ["Deployed v1.2"]);
            },
        ),
        case(
            "SLACK_SEND_DIRECT_MESSAGE",
            |_| json!({ "user": "U0G9QF9C6", "message": "Your report is ready" }),
            |out, _| {
                assert_eq!(text(out, "/channel"), "D0G9QF9C6", "{out}");
                assert_eq!(m.messages_in("D0G9QF9C6"), ["Your report is ready"]);
            },
        ),
        case(
            "SLACK_LIST_CHANNELS",
            |_| json!({ "limit": 2 }),
            |out, _| {
                let names: Vec<&str> =
                    out["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
                assert_eq!(names, ["general", "random"], "the first page of two");
                let call = m.calls.to("/conversations.list").pop().unwrap();
                assert_eq!((call.method.as_str(), call.query_value("limit")), ("GET", Some("2")));
                assert_eq!(call.query_value("exclude_archived"), Some("true"));
            },
        ),
        case(
            "SLACK_LIST_MEMBERS",
            |_| json!({}),
            |out, _| assert_eq!(out["members"].as_array().map(Vec::len), Some(3), "{out}"),
        ),
        case(
            "SLACK_GET_USER_BY_EMAIL",
            |_| json!({ "email": "grace@example.com" }),
            |out, _| assert_eq!(text(out, "/id"), "U0G9QF9C7", "{out}"),
        ),
        case(
            "SLACK_ADD_REACTION",
            |o| json!({ "channel": sent(o, "channel"), "timestamp": sent(o, "ts"), "name": "tada" }),
            |_, o| assert_eq!(m.reactions_on(&sent(o, "ts")), ["tada"]),
        ),
        case(
            "SLACK_UPDATE_MESSAGE",
            |o| json!({ "channel": sent(o, "channel"), "ts": sent(o, "ts"), "message": "Deployed v1.2.1" }),
            |_, _| assert_eq!(m.messages_in(GENERAL), ["Deployed v1.2.1"]),
        ),
        case(
            "SLACK_DELETE_MESSAGE",
            |o| json!({ "channel": sent(o, "channel"), "ts": sent(o, "ts") }),
            |_, _| assert!(m.messages_in(GENERAL).is_empty()),
        ),
    ];
    run_every_action(&f, "u1", "slack", cases).await;
    // Every write went out as JSON with its charset, every call with the bot token.
    for call in mock.calls.all() {
        assert!(call.header("authorization").is_some_and(|a| a.starts_with("Bearer at_")), "{call:?}");
        if call.method == "POST" {
            assert_eq!(call.header("content-type"), Some("application/json; charset=utf-8"), "{call:?}");
        }
    }

    // Slack's failure (HTTP 200, "ok": false) comes back in the error shape.
    mock.fail_next("chat.postMessage", "channel_not_found");
    let (status, body) = run(&f, "u1", "SLACK_SEND_MESSAGE", json!({ "channel": "C0GONE", "message": "x" })).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("PROVIDER_NOT_FOUND")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("channel_not_found"), "{body}");
    assert!(body["meta"]["requestId"].is_string(), "{body}");
    mock.fail_next("chat.postMessage", "is_archived");
    let (status, body) = run(&f, "u1", "SLACK_SEND_MESSAGE", json!({ "channel": "C0OLD", "message": "x" })).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PROVIDER_ERROR")), "{body}");

    // A rotated token (Slack answers `bot` again) is read the same way and used.
    let before = usable.secrets.access_token.clone().unwrap();
    let project_id = f.project.parse().unwrap();
    let fresh = f.app.credentials.force_refresh(project_id, id.parse().unwrap()).await.expect("refresh");
    let after = fresh.secrets.access_token.clone().unwrap();
    assert_ne!(before, after);
    let (status, out) = run(&f, "u1", "SLACK_GET_USER_BY_EMAIL", json!({ "email": "ada@example.com" })).await;
    assert_eq!((status, text(&out, "/id")), (200, "U0G9QF9C6"), "{out}");
    let last = mock.calls.all().pop().unwrap();
    assert_eq!(last.header("authorization"), Some(format!("Bearer {after}").as_str()));
}
