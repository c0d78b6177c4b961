//! `slack` at the plugin host: Events API deliveries verified with Slack's
//! published signing example and with fresh signatures, the five-minute
//! window, the `url_verification` challenge, every trigger's event with its
//! team id routing key and `event_id` de-duplication key, and the
//! connection test against the strict Slack mock.

use serde_json::{Value, json};
use weft_plugin_host::{CallOptions, WebhookDelivery, WebhookOutcome};
use weft_tests::mock_providers::recorder::Tokens;
use weft_tests::mock_providers::slack::{self, SlackMock, TEAM};
use weft_tests::{CONNECTION, TOKEN_CANARY, TestHost};

/// Slack's "Verifying requests from Slack" example: secret, timestamp,
/// body (a slash command) and signature, as published.
const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const DOC_TIMESTAMP: &str = "1531420618";
const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const DOC_SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

async fn slack_host(secret: &str) -> (TestHost, String) {
    let t = TestHost::new();
    let id = t.install("slack").await;
    t.secrets.insert("p1", &id, "SLACK_SIGNING_SECRET", secret);
    (t, id)
}

fn delivery(timestamp: &str, signature: Option<&str>, body: &[u8], retry: Option<&str>) -> WebhookDelivery {
    let mut headers = vec![("x-slack-request-timestamp".to_owned(), timestamp.to_owned())];
    headers.extend(signature.map(|s| ("x-slack-signature".to_owned(), s.to_owned())));
    headers.extend(retry.map(|n| ("x-slack-retry-num".to_owned(), n.to_owned())));
    headers.push(("content-type".into(), "application/json".into()));
    WebhookDelivery {
        method: "POST".into(),
        path: "/webhooks/p1/slack".into(),
        headers,
        body: body.to_vec(),
        ..Default::default()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

async fn deliver(t: &TestHost, id: &str, d: WebhookDelivery) -> WebhookOutcome {
    t.host.handle_webhook(id, &CallOptions::new("p1"), d).await.expect("handle_webhook")
}

/// A fresh, correctly signed delivery of `body`.
async fn signed(t: &TestHost, id: &str, secret: &str, body: &Value, retry: Option<&str>) -> WebhookOutcome {
    let (ts, bytes) = (now_secs().to_string(), body.to_string().into_bytes());
    let signature = slack::sign(secret, &ts, &bytes);
    deliver(t, id, delivery(&ts, Some(&signature), &bytes, retry)).await
}

#[tokio::test]
async fn the_published_signing_example_verifies_and_a_flipped_byte_does_not() {
    let (t, id) = slack_host(DOC_SECRET).await;
    // Authentic, but from 2018: refused for its age, not its signature.
    let out = deliver(&t, &id, delivery(DOC_TIMESTAMP, Some(DOC_SIGNATURE), DOC_BODY.as_bytes(), None)).await;
    let why = out.verification.expect_err("a 2018 timestamp is stale");
    assert!(why.contains("five minutes"), "{why}");
    // One flipped byte in the body, or in the signature: forged.
    let mut body = DOC_BODY.as_bytes().to_vec();
    body[10] ^= 0x01;
    let out = deliver(&t, &id, delivery(DOC_TIMESTAMP, Some(DOC_SIGNATURE), &body, None)).await;
    assert!(out.verification.expect_err("forged").contains("signature"));
    let flipped = DOC_SIGNATURE.replace("a2114d57", "a2114d56");
    let out = deliver(&t, &id, delivery(DOC_TIMESTAMP, Some(&flipped), DOC_BODY.as_bytes(), None)).await;
    assert!(out.verification.expect_err("forged").contains("signature"));
    // The same example signed just now passes: the form body is acknowledged without events.
    let ts = now_secs().to_string();
    let fresh = slack::sign(DOC_SECRET, &ts, DOC_BODY.as_bytes());
    let out = deliver(&t, &id, delivery(&ts, Some(&fresh), DOC_BODY.as_bytes(), None)).await;
    assert_eq!(out.verification, Ok(()));
    assert!(out.events.is_empty() && out.reply.is_none());
}

#[tokio::test]
async fn timestamps_outside_five_minutes_and_unsigned_challenges_are_refused() {
    let secret = "whsec-slack-test-0001";
    let (t, id) = slack_host(secret).await;
    let challenge = json!({ "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" });
    let bytes = challenge.to_string().into_bytes();
    for skew in [-301i64, 301] {
        let ts = (now_secs() as i64 + skew).to_string();
        let signature = slack::sign(secret, &ts, &bytes);
        let out = deliver(&t, &id, delivery(&ts, Some(&signature), &bytes, None)).await;
        assert!(out.verification.is_err() && out.reply.is_none(), "skew {skew}: {out:?}");
    }
    // Unsigned, or signed with another secret: never echoed (no reflector).
    let ts = now_secs().to_string();
    let out = deliver(&t, &id, delivery(&ts, None, &bytes, None)).await;
    assert!(out.verification.is_err() && out.reply.is_none());
    let other = slack::sign("not-the-secret", &ts, &bytes);
    assert!(deliver(&t, &id, delivery(&ts, Some(&other), &bytes, None)).await.verification.is_err());
    // Signed and fresh: the challenge is answered as plain text.
    let out = signed(&t, &id, secret, &challenge, None).await;
    assert_eq!(out.verification, Ok(()));
    let reply = out.reply.expect("challenge answered");
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".as_slice())
    );
    assert!(out.events.is_empty());
}

/// An `event_callback` envelope of `event`, as Slack sends it.
fn envelope(event: Value, event_id: &str) -> Value {
    json!({
        "token": "XXYYZZ", "team_id": TEAM, "api_app_id": "A0KRD7HC3", "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": 1_700_000_000,
        "authorizations": [{ "team_id": TEAM, "user_id": "U0KRQLJ9H", "is_bot": true }],
    })
}

#[tokio::test]
async fn every_trigger_has_a_case_with_routing_and_dedupe_keys() {
    let secret = "whsec-slack-test-0002";
    let (t, id) = slack_host(secret).await;
    let message = |channel_type: &str| json!({ "type": "message", "channel": "C0000001", "user": "U0G9QF9C6", "text": "hi", "ts": "1700000000.000100", "channel_type": channel_type });
    let cases: Vec<(&str, Value)> = vec![
        ("SLACK_CHANNEL_MESSAGE_SENT", message("channel")),
        ("SLACK_DIRECT_MESSAGE_SENT", message("im")),
        (
            "SLACK_APP_MENTIONED",
            json!({ "type": "app_mention", "user": "U0G9QF9C6", "text": "<@U0KRQLJ9H> hi", "ts": "1700000000.000200", "channel": "C0000001" }),
        ),
        (
            "SLACK_CHANNEL_CREATED",
            json!({ "type": "channel_created", "channel": { "id": "C0NEW", "name": "fun", "created": 1_700_000_000, "creator": "U0G9QF9C6" } }),
        ),
        (
            "SLACK_REACTION_ADDED",
            json!({ "type": "reaction_added", "user": "U0G9QF9C6", "reaction": "thumbsup", "item": { "type": "message", "channel": "C0000001", "ts": "1700000000.000100" } }),
        ),
    ];
    let listed: Vec<String> = t.host.get(&id).unwrap().triggers.iter().map(|tr| tr.key.clone()).collect();
    for key in &listed {
        assert!(cases.iter().any(|(k, _)| k == key), "trigger {key} has no case");
    }
    assert_eq!(listed.len(), cases.len(), "a case for a trigger the plugin does not list");
    for (i, (key, event)) in cases.iter().enumerate() {
        let event_id = format!("Ev0{i}TEST");
        let body = envelope(event.clone(), &event_id);
        let out = signed(&t, &id, secret, &body, None).await;
        assert_eq!(out.verification, Ok(()), "{key}");
        assert_eq!(out.events.len(), 1, "{key}: {out:?}");
        let e = &out.events[0];
        assert_eq!(e.trigger, *key);
        assert_eq!(e.routing_key.as_deref(), Some(TEAM), "{key}");
        assert_eq!(e.dedupe_key.as_deref(), Some(event_id.as_str()), "{key}");
        assert_eq!(e.occurred_at_ms, Some(1_700_000_000_000));
        assert_eq!(e.payload["event"], *event);
        assert!(e.payload.get("token").is_none(), "the verification token is not handed on");
        // Slack's retry of the same delivery carries the same event id.
        let retried = signed(&t, &id, secret, &body, Some("1")).await;
        assert_eq!(retried.events[0].dedupe_key, e.dedupe_key);
    }
    // Edits, bot joins and unknown events are acknowledged without events.
    for ignored in [
        json!({ "type": "message", "subtype": "message_changed", "channel": "C1", "channel_type": "channel" }),
        json!({ "type": "message", "subtype": "channel_join", "channel": "C1", "channel_type": "channel" }),
        json!({ "type": "team_join", "user": { "id": "U9" } }),
    ] {
        let out = signed(&t, &id, secret, &envelope(ignored.clone(), "EvIGNORED"), None).await;
        assert_eq!((out.verification, out.events.len()), (Ok(()), 0), "{ignored}");
    }
}

#[tokio::test]
async fn the_connection_test_names_the_team_and_routes_by_it() {
    let mock = SlackMock::start(Tokens::fixed(TOKEN_CANARY, TEAM)).await;
    let t = TestHost::new();
    let id = t.install("slack").await;
    let opts = CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&mock.api_base()));
    let info = t.host.test_connection(&id, &t.granted(&id, opts)).await.expect("test_connection");
    assert_eq!((info.account_id.as_str(), info.display_name.as_str()), (TEAM, "Slack Softball Team"));
    assert_eq!(info.routing_keys, [TEAM]);
    assert_eq!(info.profile["teamId"], TEAM);
    let calls = mock.calls.to("/auth.test");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].header("authorization"), Some(format!("Bearer {TOKEN_CANARY}").as_str()));
    assert_eq!(calls[0].header("content-type"), Some("application/json; charset=utf-8"));
    // A provider that refuses the token makes the connection test fail as unauthorized.
    let stranger = SlackMock::start(Tokens::fixed("another-token", TEAM)).await;
    let opts = CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&stranger.api_base()));
    let err = t.host.test_connection(&id, &t.granted(&id, opts)).await.unwrap_err();
    assert!(format!("{err:?}").contains("invalid_auth"), "{err:?}");
}

#[tokio::test]
async fn list_actions_page_with_slack_cursors() {
    let mock = SlackMock::start(Tokens::fixed(TOKEN_CANARY, TEAM)).await;
    let t = TestHost::new();
    let id = t.install("slack").await;
    let opts = CallOptions::new("p1").with_connection(CONNECTION, json!({})).with_base_url(Some(&mock.api_base()));
    let opts = t.granted(&id, opts);
    let (mut page, mut names) = (None, Vec::new());
    loop {
        let input = json!({ "limit": 2, "exclude_archived": false });
        let call = weft_plugin_host::ActionCall { action: "SLACK_LIST_CHANNELS".into(), input, page: page.take() };
        let out = t.host.run_action(&id, &opts, call).await.expect("a page");
        names.extend(out.output["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()));
        match out.next_page {
            Some(next) => page = Some(next),
            None => break,
        }
        assert!(names.len() <= 6, "pagination never ended");
    }
    assert_eq!(names, ["general", "random", "eng", "sales", "support", "old-news"]);
    let cursors: Vec<Option<String>> =
        mock.calls.to("/conversations.list").iter().map(|c| c.query_value("cursor").map(str::to_owned)).collect();
    assert_eq!(cursors.len(), 3);
    assert!(cursors[0].is_none() && cursors[1].is_some() && cursors[2].is_some(), "{cursors:?}");
}
