//! The Connect Portal's configuration of an integration (its `portal`
//! object on the admin API, checked here) and the portal's view of one
//! integration for a user (`GET /projects/{projectId}/sdk/portal/{type}`).

use crate::extract::{Json, Path};
use crate::routes::{Access, Routes};
use crate::user_token::User;
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::{Method, StatusCode};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde_json::{Map, Value, json};
use weft_catalog::AuthScheme;
use weft_engine::definition::IntegrationPortal;

pub(crate) fn routes() -> Routes {
    Routes::new().add(
        Method::GET,
        "/projects/{projectId}/sdk/portal/{integrationType}",
        Access::User,
        "The Connect Portal's view of an integration: texts, theme, settings and the user's workflows",
        view,
    )
}

const EXAMPLE: &str = r#"{"portal": {"description": "…", "overview": "Markdown", "theme": "system", "settings": [{"id": "channel", "title": "Channel", "type": "text"}]}}"#;

/// Checks the `portal` (or `portalTexts`) object of an integration body:
/// 400 naming the field on the first problem.
pub(crate) fn check_in_body(body: &Map<String, Value>) -> Result<(), ApiError> {
    for field in ["portal", "portalTexts"] {
        let Some(value) = body.get(field) else { continue };
        let config: IntegrationPortal = serde_json::from_value(value.clone())
            .map_err(|e| invalid(format!("`{field}` is not a portal configuration: {e}. Example: {EXAMPLE}")))?;
        let long = |text: &Option<String>, max: usize| text.as_ref().is_some_and(|t| t.len() > max);
        if long(&config.description, 300) {
            return Err(invalid(format!("`{field}.description` is one line: at most 300 bytes")));
        }
        if long(&config.overview, 20_000) {
            return Err(invalid(format!("`{field}.overview` is at most 20000 bytes of Markdown")));
        }
        if let Some(icon) = &config.icon
            && !matches!(url::Url::parse(icon), Ok(u) if matches!(u.scheme(), "https" | "http"))
        {
            return Err(invalid(format!("`{field}.icon` must be an absolute http(s) URL")));
        }
        if let Some((at, reason)) = weft_engine::definition::setting_problems(&config.settings).into_iter().next() {
            return Err(invalid(format!("`{field}.settings{at}`: {reason}")));
        }
    }
    Ok(())
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PORTAL", message)
}

/// `url` if it is http(s), mailto or relative; `#` otherwise.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim_start().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s).filter(|s| !s.contains(['/', '?', '#']));
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

/// Renders Markdown to HTML for the portal: raw HTML in it is shown as
/// text, and links and images keep only http(s), mailto and relative
/// addresses.
pub(crate) fn markdown(text: &str) -> String {
    let events =
        Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                Event::Start(Tag::Link { link_type, dest_url: safe_url(dest_url), title, id })
            }
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                Event::Start(Tag::Image { link_type, dest_url: safe_url(dest_url), title, id })
            }
            other => other,
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The pre-authorization inputs of a connection (a subdomain, a region):
/// the properties of the provider's connection settings schema, by name,
/// as `{id, title, required, tooltip}`.
fn pre_auth_inputs(schema: Option<&Value>) -> Vec<Value> {
    let Some(schema) = schema else { return Vec::new() };
    let required: Vec<&str> =
        schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else { return Vec::new() };
    properties
        .iter()
        .map(|(id, p)| {
            json!({
                "id": id,
                "title": p["title"].as_str().unwrap_or(id),
                "required": required.contains(&id.as_str()),
                "tooltip": p["description"].as_str(),
            })
        })
        .collect()
}

/// The portal's view of one active integration for the user.
async fn view(
    State(state): State<AppState>,
    user: User,
    Path((_, integration_type)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let integration = match state.store.get_integration_by_type(user.project, &integration_type).await {
        Ok(i) if i.active && !weft_catalog::resource::is_resource(&i.integration_type) => i,
        Ok(_) | Err(weft_store::Error::NotFound(_)) => {
            return Err(ApiError::not_found(format!(
                "No active integration {integration_type:?} in this project; the operator activates it"
            )));
        }
        Err(e) => return Err(store_error(e)),
    };
    let config = IntegrationPortal::of(&integration.portal_texts);
    let entry = state.credentials.provider_of(&integration).ok().flatten();
    let definition = entry.as_ref().is_some_and(|e| matches!(e.origin, weft_catalog::Origin::Definition));
    let provider = entry.map(|e| e.provider);
    let name = provider.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| integration.integration_type.clone());
    let auth = match provider.as_ref().map(|p| &p.auth) {
        Some(AuthScheme::Oauth2 { authorize_url, .. }) if !authorize_url.is_empty() => "oauth",
        _ => "inputs",
    };
    // Secret fields a form asks for (none for an OAuth window).
    let fields = match (auth, provider.as_ref()) {
        ("inputs", Some(p)) => weft_credentials::Scheme::resolve(&p.auth, &integration, definition).input_fields(false),
        _ => None,
    };
    let inputs = provider.as_ref().map(|p| pre_auth_inputs(p.connection_config_schema.as_ref())).unwrap_or_default();
    let icon = config.icon.clone().or_else(|| provider.as_ref().and_then(|p| p.icon_url.clone()));
    let description = config.description.clone().or_else(|| provider.as_ref().map(|p| p.description.clone()));
    let permitted = state
        .engine
        .permitted_deployed(user.project, &integration.integration_type, &user.user.user_id)
        .await
        .map_err(ApiError::internal)?;
    let mut workflows = Vec::new();
    for (w, plan) in permitted {
        let definition = plan.workflow();
        if definition.portal.hidden || matches!(definition.trigger.kind, weft_engine::TriggerKind::IntegrationEnabled) {
            continue;
        }
        workflows.push(json!({
            "id": w.id.to_string(),
            "name": definition.name,
            "description": definition.description,
            "defaultEnabled": definition.portal.default_enabled,
            "settings": definition.portal.settings,
        }));
    }
    workflows.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Json(json!({
        "id": integration.id.to_string(),
        "type": integration.integration_type,
        "name": name,
        "icon": icon,
        "accentColor": integration.accent_color,
        "theme": config.theme,
        "description": description.filter(|d| !d.is_empty()),
        "overviewHtml": config.overview.as_deref().map(markdown),
        "auth": auth,
        "inputs": inputs,
        "fields": fields,
        "settings": config.settings,
        "workflows": workflows,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_raw_html_and_scripts_do_not() {
        let html = markdown("# Hi\n\n**bold** [ok](https://a.example) [bad](javascript:alert(1)) <script>x</script>");
        assert!(html.contains("<h1>Hi</h1>") && html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains(r#"href="https://a.example""#), "{html}");
        assert!(html.contains("href=\"#\"") && !html.contains("javascript:"), "{html}");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
        let relative = markdown("[docs](/docs?x=a:b) ![i](data:image/png;base64,xx)");
        assert!(relative.contains(r#"href="/docs?x=a:b""#) && relative.contains(r##"src="#""##), "{relative}");
    }

    #[test]
    fn pre_auth_inputs_come_from_the_connection_settings_schema() {
        let schema = json!({"type": "object", "required": ["subdomain"], "properties": {
            "subdomain": {"type": "string", "title": "Subdomain", "description": "Before .example.com"},
            "region": {"type": "string"},
        }});
        assert_eq!(
            pre_auth_inputs(Some(&schema)),
            [
                json!({"id": "region", "title": "region", "required": false, "tooltip": null}),
                json!({"id": "subdomain", "title": "Subdomain", "required": true, "tooltip": "Before .example.com"}),
            ]
        );
        assert!(pre_auth_inputs(None).is_empty());
    }

    #[test]
    fn a_portal_configuration_is_checked_by_field() {
        let body = |v: Value| v.as_object().unwrap().clone();
        assert!(check_in_body(&body(json!({"portal": {"overview": "x", "theme": "dark"}}))).is_ok());
        assert!(check_in_body(&body(json!({"portalTexts": {"overview": "x"}}))).is_ok());
        let refused = |v: Value, says: &str| {
            let e = check_in_body(&body(v)).unwrap_err();
            assert!(e.message().contains(says), "{} does not say {says}", e.message());
        };
        refused(json!({"portal": {"theme": "pink"}}), "theme");
        refused(json!({"portal": {"colour": 1}}), "colour");
        refused(json!({"portal": {"icon": "javascript:x"}}), "portal.icon");
        refused(
            json!({"portal": {"settings": [{"id": "a", "title": "A", "type": "dropdown"}]}}),
            "portal.settings/0/options",
        );
    }
}
