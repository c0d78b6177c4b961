//! `test-echo`: a test plugin that exercises every export of the
//! `integration` world and every host import (http, logging, state, secrets,
//! webhook-crypto). The host's tests drive it; its keys and JSON shapes are
//! part of their contract, so change them only together with those tests.

mod actions;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_sdk::webhook::{Encoding, HmacAlgorithm, Reply, verify_hmac};
use weft_sdk::{
    Action, Auth, ConnectionInfo, Ctx, Empty, Error, Event, Integration, Metadata, PollRequest, PollResponse,
    RateLimit, RefreshedCredentials, Result, Subscription, Trigger, Unsubscription, WebhookRequest, WebhookResponse,
};

const ECHO_EVENT: &str = "ECHO_EVENT";
const APP_EVENT: &str = "ECHO_APP_EVENT";
const TICK: &str = "TICK";

/// Connection settings: the account a connection claims to be.
#[derive(Deserialize, JsonSchema)]
struct EchoConfig {
    account: Option<String>,
}

struct TestEcho;

impl Integration for TestEcho {
    fn metadata() -> Metadata {
        Metadata::new("test-echo", "Test Echo", "0.1.0")
            .description("Echoes its inputs and exercises every host import")
            .base_url("http://127.0.0.1")
            .allowed_hosts(["127.0.0.1", "localhost"])
            .auth(Auth::bearer())
            .secrets(["webhook_secret", "api_token"])
            .rate_limit(RateLimit::per_connection(10, 1))
            .connection_config::<EchoConfig>()
    }

    fn actions() -> Vec<Action> {
        actions::all()
    }

    fn triggers() -> Vec<Trigger> {
        vec![
            Trigger::webhook::<Empty>(ECHO_EVENT, "Echo event").description("Each signed delivery becomes one event"),
            Trigger::app_webhook::<Empty>(APP_EVENT, "App echo event")
                .description("Each signed delivery to the app-wide URL becomes one event for the team it names"),
            Trigger::polling::<Empty>(TICK, "Tick", 60, 10).description("Counts up by one on every poll"),
        ]
    }

    fn subscribe(cx: &Ctx, _req: Subscription) -> Result<Value> {
        Ok(json!({ "hook_id": format!("hook-{}", cx.invocation_id()) }))
    }

    fn unsubscribe(_cx: &Ctx, _req: Unsubscription) -> Result<()> {
        Ok(())
    }

    fn handle_webhook(req: WebhookRequest) -> Result<WebhookResponse> {
        if let Some(trigger) = req.trigger.as_deref().filter(|t| *t != ECHO_EVENT) {
            return Err(Error::unsupported(format!("no webhooks for `{trigger}`")));
        }
        let signed = req.header("x-echo-signature").is_some_and(|signature| {
            let (algorithm, encoding) = (HmacAlgorithm::Sha256, Encoding::Hex);
            verify_hmac("webhook_secret", algorithm, &req.body, signature, encoding)
        });
        if !signed {
            return Ok(WebhookResponse::rejected("bad signature"));
        }
        let body: Value = req.json()?;
        if let Some(challenge) = body.get("challenge") {
            let text = match challenge {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return Ok(WebhookResponse::verified().reply(Reply::text(text)));
        }
        let dedupe_key = body.get("id").and_then(Value::as_str).map(str::to_owned);
        // The app-wide URL (no subscription): the body's `team` names the
        // account, as a Slack team id does.
        let app_wide = req.trigger.is_none();
        let team = body.get("team").and_then(Value::as_str).map(str::to_owned);
        let mut event = Event::new(if app_wide { APP_EVENT } else { ECHO_EVENT }, body);
        event.dedupe_key = dedupe_key;
        if app_wide {
            event.routing_key = team;
        }
        Ok(WebhookResponse::verified().event(event))
    }

    fn poll(_cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
        if req.trigger != TICK {
            return Err(Error::unsupported(format!("`{}` is not polled", req.trigger)));
        }
        let last: u64 = match req.cursor.as_deref() {
            None => 0,
            Some(c) => c.parse().map_err(|_| Error::invalid_input(format!("bad cursor `{c}`")))?,
        };
        let n = last + 1;
        let event = Event::new(TICK, json!({ "n": n }));
        Ok(PollResponse::new([event], Some(n.to_string())))
    }

    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let config: EchoConfig = cx.config()?;
        let account = config.account.unwrap_or_else(|| "anonymous".to_string());
        Ok(ConnectionInfo::new(account.clone(), format!("Echo {account}"))
            .routing_key(format!("team-{account}"))
            .profile(json!({ "account": account })))
    }

    fn refresh(_cx: &Ctx) -> Result<RefreshedCredentials> {
        // Reads the secret to exercise the import, but never returns or logs
        // it: only whether it was there.
        let had_secret = weft_sdk::secrets::get("api_token").is_ok();
        Ok(RefreshedCredentials::new("refreshed").expires_in_seconds(3600).extra(json!({ "had_secret": had_secret })))
    }
}

weft_sdk::export_integration!(TestEcho);
