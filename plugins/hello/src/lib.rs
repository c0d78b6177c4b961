//! `hello`: the plugin of the README's walkthrough, for Hello, a made-up
//! greetings API. One action, one webhook trigger, a connection test.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use weft_sdk::webhook::{Encoding, HmacAlgorithm, verify_hmac};
use weft_sdk::{
    Action, Auth, ConnectionInfo, Ctx, Effect, Empty, Event, Integration, Metadata, Result, Trigger, WebhookRequest,
    WebhookResponse,
};

/// The project secret Hello signs webhook deliveries with.
const WEBHOOK_SECRET: &str = "HELLO_WEBHOOK_SECRET";
/// The trigger fed by Hello's `greeting.replied` events.
const GREETING_REPLIED: &str = "HELLO_GREETING_REPLIED";

#[derive(Serialize, Deserialize, JsonSchema)]
struct SendGreeting {
    /// Who the greeting is for.
    to: String,
    /// What it says.
    text: String,
}

#[derive(Serialize, Deserialize, JsonSchema)]
struct Greeting {
    /// Hello's id of the greeting.
    id: String,
    /// Who it is for.
    to: String,
    /// What it says.
    text: String,
}

fn send_greeting(cx: &Ctx, input: SendGreeting) -> Result<Greeting> {
    cx.http()
        .post("/greetings") // under the base URL
        .connection_auth() // the host adds the account's API key
        .json(&input)
        .send()?
        .json()
}

/// An event as Hello posts it to the app's webhook URL.
#[derive(Serialize, Deserialize, JsonSchema)]
struct HelloEvent {
    /// Hello's id of the event; a redelivery repeats it.
    id: String,
    /// What happened, e.g. `greeting.replied`.
    #[serde(rename = "type")]
    kind: String,
    /// The Hello account the event belongs to.
    account: String,
    /// The event's details.
    data: serde_json::Value,
}

/// The account behind an API key.
#[derive(Deserialize)]
struct Account {
    id: String,
    name: String,
}

struct Hello;

impl Integration for Hello {
    fn metadata() -> Metadata {
        Metadata::new("hello", "Hello", env!("CARGO_PKG_VERSION"))
            .description("Send greetings and hear back when someone replies")
            .base_url("https://api.hello.example/v1")
            .allowed_hosts(["api.hello.example"])
            .auth(Auth::api_key_header("Authorization").prefix("Bearer "))
            .secrets([WEBHOOK_SECRET])
    }

    fn actions() -> Vec<Action> {
        vec![
            Action::new("HELLO_SEND_GREETING", "Send greeting", send_greeting)
                .description("Send a greeting to someone")
                .effect(Effect::Write),
        ]
    }

    fn triggers() -> Vec<Trigger> {
        vec![
            Trigger::app_webhook::<Empty>(GREETING_REPLIED, "Greeting replied")
                .description("Someone replied to a greeting the account sent")
                .output::<HelloEvent>(),
        ]
    }

    /// Every event of the app arrives on one URL, signed with the secret:
    /// HMAC-SHA256 of the raw body, hex, in `X-Hello-Signature`.
    fn handle_webhook(req: WebhookRequest) -> Result<WebhookResponse> {
        let signature = req.header("x-hello-signature").unwrap_or_default();
        if !verify_hmac(WEBHOOK_SECRET, HmacAlgorithm::Sha256, &req.body, signature, Encoding::Hex) {
            return Ok(WebhookResponse::rejected("X-Hello-Signature does not match the body"));
        }
        let event: HelloEvent = req.json()?;
        if event.kind != "greeting.replied" {
            return Ok(WebhookResponse::verified()); // acknowledged, starts nothing
        }
        let (id, account) = (event.id.clone(), event.account.clone());
        let event = Event::new(GREETING_REPLIED, serde_json::to_value(event)?)
            .dedupe_key(id) // a redelivery starts nothing new
            .routing_key(account); // to the users who connected this account
        Ok(WebhookResponse::verified().event(event))
    }

    /// Run before an account is saved: the key must work, and the account
    /// id it names is the routing key of that account's events.
    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let me: Account = cx.http().get("/account").connection_auth().send()?.json()?;
        Ok(ConnectionInfo::new(&me.id, me.name).routing_key(me.id))
    }
}

weft_sdk::export_integration!(Hello);
