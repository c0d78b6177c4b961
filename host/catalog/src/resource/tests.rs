use super::*;
use serde_json::json;

const TYPE: &str = "custom.resource-0123456789abcdef0123456789abcdef";

fn oauth() -> Value {
    json!({
        "name": "TaskLab",
        "auth": {
            "type": "oauth2-refresh-token", "accessTokenUrl": "https://{{region}}.tasklab.test/oauth/token",
            "clientId": "weft-app", "includeClientIdAndSecret": false,
        },
        "inputs": ["region"],
        "baseUrl": "https://{{region}}.tasklab.test/api",
        "userProfile": {"path": "/me", "id": "/id", "fields": {"email": "/email"}},
    })
}

fn keys() -> Value {
    json!({
        "name": "Ledger", "level": "app",
        "auth": {"type": "api-keys", "keys": ["apiKey", "account"]},
        "baseUrl": "https://ledger.test/v2",
        "authTemplate": {"headers": {"X-Api-Key": "{{apiKey}}"}, "query": {"account": "{{account}}"}},
    })
}

fn with(mut document: Value, pointer: &str, value: Value) -> Value {
    match document.pointer_mut(pointer) {
        Some(slot) => *slot = value,
        None => {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            document.pointer_mut(parent).unwrap()[key] = value;
        }
    }
    document
}

fn problems(document: Value) -> Vec<Problem> {
    check_resource(document, TYPE, &EgressPolicy::default()).err().map(|e| e.problems).unwrap_or_default()
}

#[test]
fn an_oauth_resource_becomes_a_provider_with_placeholders() {
    let (resource, provider) = check_resource(oauth(), TYPE, &EgressPolicy::default()).unwrap();
    assert_eq!(provider.id, TYPE);
    assert_eq!(provider.base_url, "https://{config.region}.tasklab.test/api");
    match &provider.auth {
        AuthScheme::Oauth2 { token_url, client_auth, pkce, .. } => {
            assert_eq!(token_url, "https://{config.region}.tasklab.test/oauth/token");
            assert_eq!(*client_auth, ClientAuth::Post);
            assert!(!pkce);
        }
        other => panic!("{other:?}"),
    }
    let template = provider.auth_template.as_ref().unwrap();
    assert_eq!(template.headers["Authorization"], "Bearer {{access_token}}");
    let test = provider.connection_test.as_ref().unwrap();
    assert_eq!((test.path.as_str(), test.account_id.as_deref()), ("/me", Some("/id")));
    assert_eq!(test.profile["email"], "/email");
    assert_eq!(Resource::of(&provider).as_ref(), Some(&resource));
    assert_eq!(resource.secret_keys(), ["access_token", "refresh_token"]);
}

#[test]
fn an_api_key_resource_needs_its_template() {
    let (resource, provider) = check_resource(keys(), TYPE, &EgressPolicy::default()).unwrap();
    assert_eq!(resource.level, ResourceLevel::App);
    assert!(matches!(provider.auth, AuthScheme::Custom { .. }));
    let mut bare = keys();
    bare.as_object_mut().unwrap().remove("authTemplate");
    let found = problems(bare);
    assert!(found.iter().any(|p| p.path == "/authTemplate" && p.reason.contains("where the keys go")), "{found:?}");
}

#[test]
fn each_mistake_is_named_by_its_path() {
    let cases = [
        (with(oauth(), "/name", json!(" ")), "/name", "1 to 100"),
        (with(oauth(), "/level", json!("team")), "/level", "one of"),
        (with(oauth(), "/auth/type", json!("oauth1")), "/auth", "allowed forms"),
        (
            with(oauth(), "/baseUrl", json!("https://{{tenant}}.tasklab.test")),
            "/baseUrl",
            "not one of the resource's inputs",
        ),
        (with(oauth(), "/baseUrl", json!("https://localhost/api")), "/baseUrl", "loopback"),
        (with(oauth(), "/auth/accessTokenUrl", json!("https://10.0.0.5/token")), "/auth/accessTokenUrl", "private"),
        (with(oauth(), "/auth/accessTokenUrl", json!("http://tasklab.test/token")), "/auth/accessTokenUrl", "https"),
        (with(oauth(), "/auth/clientId", json!("")), "/auth/clientId", "empty"),
        (with(oauth(), "/inputs/0", json!("access_token")), "/inputs/0", "token's name"),
        (with(oauth(), "/inputs", json!(["region", "region"])), "/inputs/1", "already"),
        (with(oauth(), "/userProfile/path", json!("https://169.254.169.254/me")), "/userProfile/path", "metadata"),
        (with(oauth(), "/userProfile/fields", json!({"email": "email"})), "/userProfile/fields/email", "JSON Pointer"),
        (with(keys(), "/auth/keys", json!([])), "/auth/keys", "at least one"),
        (with(keys(), "/auth/keys", json!(["api key"])), "/auth/keys/0", "key name"),
        (
            with(keys(), "/authTemplate/headers/X-Api-Key", json!("{{secret}}")),
            "/authTemplate/headers/X-Api-Key",
            "neither",
        ),
        (
            with(keys(), "/authTemplate/headers", json!({"Bad Header": "{{apiKey}}"})),
            "/authTemplate/headers/Bad Header",
            "header name",
        ),
        (with(keys(), "/allowedHosts", json!(["*.test"])), "/allowedHosts/0", "top-level"),
        (with(keys(), "/surprise", json!(1)), "", "surprise"),
    ];
    for (document, path, word) in cases {
        let found = problems(document);
        assert!(found.iter().any(|p| p.path == path && p.reason.contains(word)), "{path} {word}: {found:?}");
    }
}

#[test]
fn a_trigger_setup_request_is_held_to_the_profile_request_rules() {
    let mut d = oauth();
    d["triggers"] = json!([{
        "key": "taskCreated", "name": "Task Created",
        "setup": {"type": "api", "subscribe": {"url": "https://elsewhere.test/hooks", "body": {"to": "{{settings.webhookURL}}"}}},
    }]);
    let found = problems(d);
    assert!(
        found.iter().any(|p| p.path == "/triggers/0/setup/subscribe/url" && p.reason.contains("permitted")),
        "{found:?}"
    );
}

#[test]
fn variables_are_read_and_checked() {
    assert_eq!(variables("a {{ x }} b {{y_1}}").unwrap(), ["x", "y_1"]);
    assert!(variables("{{x").is_err());
    assert!(variables("{{a b}}").is_err());
    assert_eq!(as_placeholders("https://{{ region }}.x/{{a}}"), "https://{config.region}.x/{config.a}");
}

#[test]
fn slugs_are_lower_case_words_joined_by_dashes() {
    assert_eq!(slug("Ledger Keys"), "ledger-keys");
    assert_eq!(slug("  My API (v2) "), "my-api-v2");
    assert_eq!(slug("Zoë's CRM"), "zoë-s-crm");
    assert_eq!(slug("---"), "");
}
