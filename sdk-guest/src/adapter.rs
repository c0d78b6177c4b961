//! The exported integration interfaces, delegating to an [`Integration`].
//!
//! [`export_integration!`](crate::export_integration) names
//! `Adapter<YourType>` as the implementation of the four generated `Guest`
//! traits (five with `fields`). Everything here converts between WIT records and SDK types; the
//! behaviour lives in the trait's hooks.

use std::marker::PhantomData;

use crate::bindings::exports::{actions, auth, plugin, triggers};
use crate::bindings::fields::exports::weft::plugin::fields;
use crate::{Action, Ctx, Error, Integration, PollRequest, Subscription, Trigger, Unsubscription, WebhookRequest};

/// Implements the generated `Guest` traits for `T`.
pub struct Adapter<T>(PhantomData<T>);

type WitResult<T> = Result<T, crate::bindings::imports::types::PluginError>;

impl<T: Integration> plugin::Guest for Adapter<T> {
    fn metadata() -> plugin::PluginMetadata {
        let dynamic = T::actions().iter().filter(|a| a.has_dynamic_fields()).map(|a| a.key().to_owned()).collect();
        T::metadata().declare_dynamic_fields(dynamic).into_wit()
    }
}

impl<T: Integration> actions::Guest for Adapter<T> {
    fn list_actions() -> Vec<actions::ActionDefinition> {
        T::actions().iter().map(Action::definition).collect()
    }

    // The hot path (the host benchmarks instantiate + call + drop): find the
    // handler, deserialize, call, serialize. No schema work happens here.
    fn run_action(req: actions::ActionRequest) -> WitResult<actions::ActionResponse> {
        let cx = Ctx::from_wit(req.context);
        let all = T::actions();
        let Some(action) = all.iter().find(|a| a.key() == req.action) else {
            let e = Error::unsupported(format!("unknown action `{}`", req.action));
            return Err(e.into_wit());
        };
        let page = action.run(&cx, &req.input, req.page).map_err(Error::into_wit)?;
        Ok(actions::ActionResponse { output: page.output, next_page: page.next_page })
    }
}

impl<T: Integration> triggers::Guest for Adapter<T> {
    fn list_triggers() -> Vec<triggers::TriggerDefinition> {
        T::triggers().iter().map(Trigger::definition).collect()
    }

    fn subscribe(req: triggers::SubscribeRequest) -> WitResult<String> {
        let (cx, req) = Subscription::from_wit(req);
        T::subscribe(&cx, req).map(|state| state.to_string()).map_err(Error::into_wit)
    }

    fn unsubscribe(req: triggers::UnsubscribeRequest) -> WitResult<()> {
        let (cx, req) = Unsubscription::from_wit(req);
        T::unsubscribe(&cx, req).map_err(Error::into_wit)
    }

    fn handle_webhook(req: triggers::WebhookRequest) -> WitResult<triggers::WebhookResponse> {
        T::handle_webhook(WebhookRequest::from_wit(req)).map(|r| r.into_wit()).map_err(Error::into_wit)
    }

    fn poll(req: triggers::PollRequest) -> WitResult<triggers::PollResponse> {
        let (cx, req) = PollRequest::from_wit(req);
        T::poll(&cx, req).map(|r| r.into_wit()).map_err(Error::into_wit)
    }
}

impl<T: Integration> auth::Guest for Adapter<T> {
    fn test_connection(context: auth::CallContext) -> WitResult<auth::ConnectionInfo> {
        let info = T::test_connection(&Ctx::from_wit(context)).map_err(Error::into_wit)?;
        Ok(auth::ConnectionInfo {
            account_id: info.account_id,
            display_name: info.display_name,
            routing_keys: info.routing_keys,
            profile: info.profile.to_string(),
        })
    }

    fn refresh(context: auth::CallContext) -> WitResult<auth::RefreshedCredentials> {
        let creds = T::refresh(&Ctx::from_wit(context)).map_err(Error::into_wit)?;
        Ok(auth::RefreshedCredentials {
            access_token: creds.access_token,
            refresh_token: creds.refresh_token,
            expires_in_seconds: creds.expires_in_seconds,
            extra: creds.extra.to_string(),
        })
    }
}

impl<T: Integration> fields::Guest for Adapter<T> {
    fn action_fields(action: String, context: fields::CallContext) -> WitResult<String> {
        let marked = T::actions().iter().any(|a| a.key() == action && a.has_dynamic_fields());
        if !marked {
            return Err(Error::unsupported(format!("action `{action}` has no per-account fields")).into_wit());
        }
        T::fields(&Ctx::from_wit(context), &action).map(|f| f.to_json()).map_err(Error::into_wit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::imports::types::{CallContext, PluginError};
    use crate::{Auth, Empty, Metadata, Paged, Result, cursor};
    use actions::Guest as _;
    use schemars::JsonSchema;
    use serde::Deserialize;

    struct Doubler;

    #[derive(Deserialize, JsonSchema)]
    struct Number {
        n: u32,
    }

    fn double(_: &Ctx, input: Number) -> Result<u32> {
        Ok(input.n * 2)
    }

    fn count(_: &Ctx, _: Empty, page: Option<String>) -> Result<Paged<u32>> {
        let n: u32 = cursor::decode(page.as_deref())?.unwrap_or(1);
        if n < 2 { Paged::next(n, &(n + 1)) } else { Ok(Paged::last(n)) }
    }

    impl Integration for Doubler {
        fn metadata() -> Metadata {
            Metadata::new("doubler", "Doubler", "0.1.0").auth(Auth::bearer())
        }

        fn actions() -> Vec<Action> {
            vec![Action::new("DOUBLE", "Double", double), Action::paginated("COUNT", "Count", count)]
        }
    }

    fn run(action: &str, input: &str, page: Option<&str>) -> WitResult<actions::ActionResponse> {
        Adapter::<Doubler>::run_action(actions::ActionRequest {
            action: action.into(),
            input: input.into(),
            page: page.map(Into::into),
            context: CallContext {
                invocation_id: "inv".into(),
                connection_id: None,
                connection_config: "{}".into(),
                deadline_ms: 0,
            },
        })
    }

    #[test]
    fn run_action_dispatches_on_the_key() {
        let answer = run("DOUBLE", r#"{"n":21}"#, None).expect("runs");
        assert_eq!(answer.output, "42");
        assert_eq!(answer.next_page, None);
    }

    #[test]
    fn paginated_actions_hand_out_cursors() {
        let first = run("COUNT", "{}", None).expect("first page");
        assert_eq!((first.output.as_str(), first.next_page.as_deref()), ("1", Some("2")));
        let last = run("COUNT", "{}", first.next_page.as_deref()).expect("last page");
        assert_eq!((last.output.as_str(), last.next_page), ("2", None));
    }

    #[test]
    fn bad_input_is_invalid_input_with_serdes_message() {
        let Err(PluginError::InvalidInput(m)) = run("DOUBLE", "{}", None) else {
            panic!("expected invalid-input");
        };
        assert!(m.contains("missing field `n`"), "{m}");
    }

    #[test]
    fn an_unknown_key_is_unsupported() {
        assert!(matches!(run("NOPE", "{}", None), Err(PluginError::Unsupported(_))));
    }

    #[test]
    fn list_actions_generates_schemas() {
        let defs = Adapter::<Doubler>::list_actions();
        assert_eq!(defs.len(), 2);
        let input: serde_json::Value = serde_json::from_str(&defs[0].input_schema).expect("json");
        assert_eq!(input["properties"]["n"]["type"], "integer");
        assert!(defs[1].paginated);
    }

    #[test]
    fn hooks_default_to_unsupported() {
        let context = CallContext {
            invocation_id: "inv".into(),
            connection_id: None,
            connection_config: "{}".into(),
            deadline_ms: 0,
        };
        let answer = <Adapter<Doubler> as auth::Guest>::test_connection(context);
        assert!(matches!(answer, Err(PluginError::Unsupported(_))));
    }
}
