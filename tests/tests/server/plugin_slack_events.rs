//! Slack's Events API through the real server and the webhook ingress: one
//! Slack team connected by a user of project A and by a user of project B.
//! Each project has its own Events URL and signing secret; an event reaches
//! exactly the workflows of the project whose URL received it, for the user
//! whose account is in that team, and nothing crosses projects. Slack's
//! retries (the same `event_id`) start nothing more; the `url_verification`
//! handshake is answered.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use weft_tests::mock_providers::slack::{self, SlackMock, TEAM};

use crate::connect::Fixture;
use crate::provider_cases::{authorization_server, project};
use crate::support::{set_secret, settled_executions, workflow_executions};

const WORKFLOW: &str = r#"name: On a channel message
integration: slack
trigger: {type: integration, event: SLACK_CHANNEL_MESSAGE_SENT}
steps:
  - {id: whoami, type: integrationRequest, method: POST, url: /auth.test}
"#;

/// Sets the project's Slack signing secret.
async fn signing_secret(f: &Fixture, value: &str) {
    set_secret(&f.app, &f.project, &f.admin_key, "SLACK_SIGNING_SECRET", value).await;
}

/// Creates, deploys and enables (for `user`) the workflow; its id.
async fn deploy_for(f: &Fixture, user: &str) -> String {
    let id = crate::workflows_run::deploy(f, WORKFLOW).await;
    let (status, body) = f.sdk(Method::POST, &format!("workflows/{id}"), user, None).await;
    assert_eq!(status, 200, "{body}");
    id
}

/// The executions of `workflow` in the fixture's current project.
async fn executions(f: &Fixture, workflow: &str) -> Vec<Value> {
    workflow_executions(&f.app, &f.project, &f.admin_key, workflow).await
}

/// Waits for `n` ended executions of `workflow`.
async fn settled(f: &Fixture, workflow: &str, n: usize) -> Vec<Value> {
    settled_executions(&f.app, &f.project, &f.admin_key, workflow, n).await
}

/// An Events API `event_callback` for a channel message.
fn message(event_id: &str, text: &str) -> String {
    json!({
        "token": "deprecated-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0APP0001",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "event": {"type": "message", "channel": "C000000000", "channel_type": "channel", "user": "U0G9QF9C6",
                  "text": text, "ts": "1700000000.000100"},
    })
    .to_string()
}

/// Posts `body` to `project`'s Slack Events URL, signed with `secret` as
/// Slack signs (`v0=` HMAC-SHA256 over `v0:<timestamp>:<body>`).
async fn deliver(f: &Fixture, project: &str, secret: &str, body: &str, retry: bool) -> (u16, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().to_string();
    let mut req = f
        .app
        .client
        .post(format!("{}/webhooks/{project}/slack", f.app.base))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &now)
        .header("x-slack-signature", slack::sign(secret, &now, body.as_bytes()));
    if retry {
        req = req.header("x-slack-retry-num", "1").header("x-slack-retry-reason", "http_timeout");
    }
    let resp = req.body(body.to_owned()).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn one_slack_team_in_two_projects_reaches_only_the_receiving_projects_users() {
    let (auth, tokens) = authorization_server().await;
    let mock = SlackMock::start(tokens).await;
    let mut f = project("slack", auth, slack::token_dialect(), &mock.api_base()).await;
    let secret_a = "8f742231b10e8888abcd99yyyzzz85a5";
    signing_secret(&f, secret_a).await;
    let account_a = f.connect("user-a", TEAM, json!({})).await;
    assert_eq!(account_a["providerId"], TEAM, "{account_a}");
    let workflow_a = deploy_for(&f, "user-a").await;

    // Project B: the same Slack team, connected by its own user.
    let side_b = f.add_project("Second").await;
    let side_a = f.switch_project(side_b);
    let path = format!("/admin/projects/{}/integrations/{}", f.project, f.integration);
    let (status, body) =
        f.app.call(Method::PATCH, &path, Some(&f.admin_key), Some(json!({"baseUrl": mock.api_base()}))).await;
    assert_eq!(status, 200, "{body}");
    let secret_b = "b-project-signing-secret-0123456";
    signing_secret(&f, secret_b).await;
    let account_b = f.connect("user-b", TEAM, json!({})).await;
    assert_eq!(account_b["providerId"], TEAM, "{account_b}");
    let workflow_b = deploy_for(&f, "user-b").await;
    let project_b = f.project.clone();
    let project_a = side_a.project.clone();

    // Slack checks the URL first.
    let challenge = json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                           "type": "url_verification"})
    .to_string();
    let (status, reply) = deliver(&f, &project_b, secret_b, &challenge, false).await;
    assert_eq!((status, reply.as_str()), (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"));

    // An event to B's URL: B's user only.
    let before = mock.calls.to("/auth.test").len();
    assert_eq!(deliver(&f, &project_b, secret_b, &message("Ev0B", "to B"), false).await.0, 200);
    let runs = settled(&f, &workflow_b, 1).await;
    assert_eq!((runs[0]["userId"].as_str(), runs[0]["status"].as_str()), (Some("user-b"), Some("SUCCEEDED")));
    // Slack's retry of it: acknowledged, not run again.
    assert_eq!(deliver(&f, &project_b, secret_b, &message("Ev0B", "to B"), true).await.0, 200);
    // B's secret does not open A's URL.
    let (status, _) = deliver(&f, &project_a, secret_b, &message("Ev0A", "forged"), false).await;
    assert_eq!(status, 401);

    // An event to A's URL, with the same event id B saw: A's user only.
    let side_b = f.switch_project(side_a);
    assert_eq!(deliver(&f, &project_a, secret_a, &message("Ev0B", "to A"), false).await.0, 200);
    let runs = settled(&f, &workflow_a, 1).await;
    assert_eq!((runs[0]["userId"].as_str(), runs[0]["status"].as_str()), (Some("user-a"), Some("SUCCEEDED")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(executions(&f, &workflow_a).await.len(), 1, "A ran once, for its own event");
    f.switch_project(side_b);
    assert_eq!(executions(&f, &workflow_b).await.len(), 1, "B ran once: its retry and A's event are not B's");
    // Each run called Slack as its own project's account.
    let calls = mock.calls.to("/auth.test");
    assert_eq!(calls.len() - before, 2);
    let tokens: Vec<_> = calls[before..].iter().map(|c| c.header("authorization").unwrap().to_owned()).collect();
    assert_ne!(tokens[0], tokens[1], "two projects, two accounts, two tokens");
}
