//! The triggers of a definition (a custom integration's own, or a shipped
//! declarative provider's): webhooks described by data, served without a
//! plugin. Their subscriptions are per account and trigger, shared by the
//! user's workflows on it (an app-level one's also per integration: the
//! app's hook). A programmatic (`api`) webhook subscribes and unsubscribes
//! with the definition's setup requests, sent as the subscription's account
//! by the credential service (the unsubscribe request may read what the
//! handshake persisted); a manual webhook has nothing to set up, and its
//! deliveries name their account themselves (see `weft_api::webhooks`).

use serde_json::{Value, json};
use weft_catalog::{WebhookLevel, WebhookSetup, WebhookTrigger};
use weft_credentials::Credentials;
use weft_engine::TriggerSpec;
use weft_store::{ProjectId, Subscription, SubscriptionKind, SubscriptionScope};

/// How `integration`'s definition serves its webhook `trigger` in
/// `project`, if it describes one.
pub(super) async fn trigger(
    credentials: &Credentials,
    project: ProjectId,
    integration: &str,
    trigger: &str,
) -> Option<TriggerSpec> {
    let (_, hook) = lookup(credentials, project, integration, trigger).await.ok()?;
    let kind = match hook.setup {
        WebhookSetup::Api { .. } => SubscriptionKind::Webhook,
        WebhookSetup::Manual => SubscriptionKind::AppWebhook,
    };
    let scope = match hook.level {
        WebhookLevel::User => SubscriptionScope::Account,
        WebhookLevel::App => SubscriptionScope::App,
    };
    Some(TriggerSpec { kind, interval_secs: None, matches: Vec::new(), scope })
}

async fn lookup(
    credentials: &Credentials,
    project: ProjectId,
    integration: &str,
    trigger: &str,
) -> Result<(weft_store::Integration, WebhookTrigger), String> {
    match credentials.webhook_trigger(project, integration, trigger).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(format!("{integration} has no webhook trigger {trigger}")),
        Err(e) => Err(format!("the definition of {integration} cannot be read: {e}")),
    }
}

/// Sends the subscribe request of `s`'s trigger as `s`'s account, asking
/// the provider to deliver to `webhook_url`; what `unsubscribe` reads
/// later (`{"response": <the provider's answer>}`).
pub(super) async fn subscribe(
    credentials: &Credentials,
    integration: &str,
    s: &Subscription,
    webhook_url: &str,
) -> Result<Value, String> {
    let (_, hook) = lookup(credentials, s.project, integration, &s.trigger).await?;
    let WebhookSetup::Api { subscribe, .. } = &hook.setup else { return Ok(json!({})) };
    let extra = json!({"settings": {"webhookURL": webhook_url}});
    let vars = credentials.setup_variables(s.project, s.credential, extra).await.map_err(|e| e.to_string())?;
    let request = subscribe.render(&vars).map_err(|e| format!("the subscribe request cannot be written: {e}"))?;
    let (status, answer) =
        credentials.send_setup(s.project, s.credential, integration, &request).await.map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("the provider answered the subscribe request with {status}"));
    }
    Ok(json!({ "response": answer, "webhookURL": webhook_url }))
}

/// Sends the unsubscribe request of `s`'s trigger (if it has one) as `s`'s
/// account; it may read the subscribe answer kept in `s`'s state and what
/// the handshake persisted (`persisted.<name>`).
pub(super) async fn unsubscribe(credentials: &Credentials, integration: &str, s: &Subscription) -> Result<(), String> {
    let (_, hook) = lookup(credentials, s.project, integration, &s.trigger).await?;
    let WebhookSetup::Api { unsubscribe: Some(unsubscribe), .. } = &hook.setup else { return Ok(()) };
    let state = s.state.clone().unwrap_or(Value::Null);
    let extra = json!({
        "settings": {"webhookURL": state.get("webhookURL").cloned().unwrap_or(Value::Null)},
        "response": state.get("response").cloned().unwrap_or(Value::Null),
        "persisted": credentials.persisted_values(s).map_err(|e| format!("the persisted values cannot be read: {e}"))?,
    });
    let vars = credentials.setup_variables(s.project, s.credential, extra).await.map_err(|e| e.to_string())?;
    let request = unsubscribe.render(&vars).map_err(|e| format!("the unsubscribe request cannot be written: {e}"))?;
    let (status, _) =
        credentials.send_setup(s.project, s.credential, integration, &request).await.map_err(|e| e.to_string())?;
    // Already gone at the provider is what unsubscribing wants.
    if (200..300).contains(&status) || status == 404 || status == 410 {
        Ok(())
    } else {
        Err(format!("the provider answered the unsubscribe request with {status}"))
    }
}
