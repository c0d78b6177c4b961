//! Webhook triggers: one repository webhook per subscription, created in
//! `subscribe` with the project's webhook secret and removed in
//! `unsubscribe`; deliveries verified with `X-Hub-Signature-256` and
//! de-duplicated by `X-GitHub-Delivery` (GitHub signs no timestamp, so the
//! delivery id is the only defence against a replay).

use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::secrets::{self, SecretError};
use weft_sdk::webhook::{Reply, verify_github_sha256};
use weft_sdk::{Ctx, Error, Event, Result, Subscription, Trigger, Unsubscription, WebhookRequest, WebhookResponse};

use crate::api::{self, Repo};

/// The project secret that signs deliveries: set on each webhook the
/// plugin creates, and checked (by the host) on each delivery.
pub(crate) const SECRET: &str = "GITHUB_WEBHOOK_SECRET";

pub(crate) const ISSUE_CREATED: &str = "GITHUB_ISSUE_CREATED";
pub(crate) const ISSUE_UPDATED: &str = "GITHUB_ISSUE_UPDATED";
pub(crate) const PR_CREATED: &str = "GITHUB_PULL_REQUEST_CREATED";
pub(crate) const PR_UPDATED: &str = "GITHUB_PULL_REQUEST_UPDATED";

pub(crate) fn triggers() -> Vec<Trigger> {
    vec![
        Trigger::webhook::<Repo>(ISSUE_CREATED, "Issue Created")
            .description("An issue was opened in the repository (webhook event `issues`, action `opened`)"),
        Trigger::webhook::<Repo>(ISSUE_UPDATED, "Issue Updated")
            .description("An issue of the repository was edited, closed, reopened, labeled, assigned, locked, ..."),
        Trigger::webhook::<Repo>(PR_CREATED, "PR Created")
            .description("A pull request was opened in the repository (webhook event `pull_request`, action `opened`)"),
        Trigger::webhook::<Repo>(PR_UPDATED, "PR Updated")
            .description("A pull request of the repository was edited, closed, merged, reopened or got new commits"),
    ]
}

/// The webhook event a trigger listens to.
fn webhook_event(trigger: &str) -> Option<&'static str> {
    match trigger {
        ISSUE_CREATED | ISSUE_UPDATED => Some("issues"),
        PR_CREATED | PR_UPDATED => Some("pull_request"),
        _ => None,
    }
}

/// The trigger a delivery fires, from its `X-GitHub-Event` and `action`.
fn trigger_of(event: &str, action: &str) -> Option<&'static str> {
    match (event, action) {
        ("issues", "opened") => Some(ISSUE_CREATED),
        // A deleted issue is gone, not updated.
        ("issues", "deleted") => None,
        ("issues", _) => Some(ISSUE_UPDATED),
        ("pull_request", "opened") => Some(PR_CREATED),
        ("pull_request", _) => Some(PR_UPDATED),
        _ => None,
    }
}

pub(crate) fn subscribe(cx: &Ctx, req: Subscription) -> Result<Value> {
    let event =
        webhook_event(&req.trigger).ok_or_else(|| Error::unsupported(format!("no trigger `{}`", req.trigger)))?;
    let repo: Repo = req.config()?;
    let secret = match secrets::get(SECRET) {
        Ok(secret) => secret,
        Err(SecretError::NotFound) => {
            return Err(Error::invalid_input(format!(
                "set the project secret {SECRET} before enabling GitHub triggers"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let body = json!({
        "name": "web",
        "active": true,
        "events": [event],
        "config": { "url": req.webhook_url, "content_type": "json", "insecure_ssl": "0", "secret": secret },
    });
    let path = format!("{}/hooks", repo.path()?);
    let hook: Value = api::send("create repository webhook", cx.http().post(path).json(&body))?.json()?;
    let id = hook["id"].as_u64().ok_or_else(|| Error::internal("GitHub answered a webhook without an id"))?;
    Ok(json!({ "hookId": id, "owner": repo.owner, "repo": repo.repo }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookState {
    hook_id: u64,
    #[serde(flatten)]
    repo: Repo,
}

pub(crate) fn unsubscribe(cx: &Ctx, req: Unsubscription) -> Result<()> {
    let state: HookState = req.state()?;
    let path = format!("{}/hooks/{}", state.repo.path()?, state.hook_id);
    match api::send("delete repository webhook", cx.http().delete(path)) {
        // Already gone (deleted by hand, or the repository with it).
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) fn handle(req: WebhookRequest) -> Result<WebhookResponse> {
    // Only the SHA-256 signature counts: the legacy SHA-1 `X-Hub-Signature`
    // alone is refused.
    let Some(signature) = req.header("x-hub-signature-256") else {
        return Ok(WebhookResponse::rejected("no X-Hub-Signature-256 header"));
    };
    if !verify_github_sha256(SECRET, &req.body, signature) {
        return Ok(WebhookResponse::rejected("X-Hub-Signature-256 does not match the body"));
    }
    let event = req.header("x-github-event").unwrap_or_default();
    if event == "ping" {
        // Sent once when the hook is created: acknowledge, start nothing.
        return Ok(WebhookResponse::verified().reply(Reply::text("pong")));
    }
    let Some(delivery) = req.header("x-github-delivery").map(str::to_owned) else {
        return Ok(WebhookResponse::rejected("no X-GitHub-Delivery header"));
    };
    let payload: Value = req.json()?;
    let action = payload["action"].as_str().unwrap_or_default();
    let Some(trigger) = trigger_of(event, action) else {
        return Ok(WebhookResponse::verified());
    };
    // One hook serves one subscription: `issues` deliveries reach both issue
    // triggers' hooks, and each keeps its own.
    if req.trigger.as_deref().is_some_and(|t| t != trigger) {
        return Ok(WebhookResponse::verified());
    }
    let object = if event == "issues" { &payload["issue"] } else { &payload["pull_request"] };
    let at = object["updated_at"].as_str().or(object["created_at"].as_str()).and_then(weft_sdk::time::parse_rfc3339_ms);
    let mut e = Event::new(trigger, payload.clone()).dedupe_key(delivery);
    if let Some(at) = at {
        e = e.occurred_at_ms(at);
    }
    Ok(WebhookResponse::verified().event(e))
}
