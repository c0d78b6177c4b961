//! A custom integration described in the reference's own configuration
//! format (`authenticationType`, `authorizationUrl`, `accessTokenUrl`,
//! `usePKCEInCodeExchange`, `testEndpointPath`, `authorization`, ...), as a
//! project exporting its existing integrations has it: read as the catalog's
//! format, so the same checks apply, with every problem reported at the path
//! of the field the project wrote.
//!
//! Supported: `oauth` (authorization code, PKCE unless
//! `usePKCEInCodeExchange` is false, the client's id and secret in the token
//! request's body when `includeClientIdAndSecrets`), `oauth_client_credential`,
//! and `basic` (user-entered credentials) sent as a bearer token (entered in
//! the input its `{{settings.<name>}}` names) or as HTTP basic auth (the
//! user's `username` and `password`, or the settings its `username` and
//! `password` templates name, such as an API key as the user name). The
//! stored definition is the catalog format it translates to.

use serde_json::{Map, Value, json};

use crate::load::Problem;

/// Whether `document` is in the reference's format.
pub(crate) fn is_reference(document: &Value) -> bool {
    document.get("authenticationType").is_some()
}

/// The fields the reference's format has; any other is refused.
const KNOWN: &[&str] = &[
    "id",
    "name",
    "description",
    "accentColor",
    "authenticationType",
    "authorizationUrl",
    "accessTokenUrl",
    "scopes",
    "includeClientIdAndSecrets",
    "usePKCEInCodeExchange",
    "apiBaseUrl",
    "testEndpointPath",
    "authorization",
];

/// Where a path of the translated definition came from in the reference's
/// document (longest prefix first).
const PATHS: &[(&str, &str)] = &[
    ("/auth/authorizeUrl", "/authorizationUrl"),
    ("/auth/tokenUrl", "/accessTokenUrl"),
    ("/auth/scopes", "/scopes"),
    ("/auth/clientAuth", "/includeClientIdAndSecrets"),
    ("/auth/pkce", "/usePKCEInCodeExchange"),
    ("/auth", "/authenticationType"),
    ("/baseUrl", "/apiBaseUrl"),
    ("/authTemplate", "/authorization"),
    ("/connectionTest", "/testEndpointPath"),
    ("/extra/accentColor", "/accentColor"),
];

/// The path in the reference's document of `path`, a path of the
/// translated definition.
pub(crate) fn original_path(path: &str) -> String {
    for (ours, theirs) in PATHS {
        if path == *ours || path.strip_prefix(ours).is_some_and(|rest| rest.starts_with('/')) {
            return (*theirs).to_owned();
        }
    }
    path.to_owned()
}

/// `document` (in the reference's format) as a catalog definition of
/// `integration_type`, or every problem found on the way.
pub(crate) fn translate(document: &Value, integration_type: &str) -> Result<Value, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, reason: String| problems.push(Problem { path: path.into(), reason });
    let Some(doc) = document.as_object() else {
        problem("", "a definition is an object".into());
        return Err(problems);
    };
    for key in doc.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        problem(&format!("/{key}"), format!("unknown field of the reference's format; known: {}", KNOWN.join(", ")));
    }
    let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut out = Map::new();
    out.insert("id".into(), json!(integration_type));
    out.insert("name".into(), doc.get("name").cloned().unwrap_or(Value::Null));
    if let Some(description) = doc.get("description") {
        out.insert("description".into(), description.clone());
    }
    out.insert("baseUrl".into(), doc.get("apiBaseUrl").cloned().unwrap_or(Value::Null));
    if let Some(path) = doc.get("testEndpointPath") {
        out.insert("connectionTest".into(), json!({ "path": path }));
    }
    if let Some(color) = doc.get("accentColor") {
        out.insert("extra".into(), json!({ "accentColor": color }));
    }
    let flag = |key: &str, default: bool, problem: &mut dyn FnMut(&str, String)| match doc.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problem(&format!("/{key}"), "must be true or false".into());
            default
        }
    };
    let scopes = match doc.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        // The reference's form: one string, separated by spaces or commas.
        Some(Value::String(s)) => {
            s.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            list.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        Some(_) => {
            problem("/scopes", "must be a string of scopes separated by spaces (or a list of strings)".into());
            Vec::new()
        }
    };
    let client_auth = if flag("includeClientIdAndSecrets", false, &mut problem) { "post" } else { "basic" };
    let auth = match text("authenticationType").as_deref() {
        Some("oauth") => {
            if let Some(authorization) = doc.get("authorization")
                && !sends_bearer(authorization, "oauthAccessToken")
            {
                problem(
                    "/authorization",
                    "an OAuth integration sends its access token as a bearer token: \
                     {type: bearer, token: \"{{settings.oauthAccessToken}}\"}"
                        .into(),
                );
            }
            json!({
                "type": "oauth2",
                "authorizeUrl": doc.get("authorizationUrl").cloned().unwrap_or(Value::Null),
                "tokenUrl": doc.get("accessTokenUrl").cloned().unwrap_or(Value::Null),
                "scopes": scopes,
                "clientAuth": client_auth,
                "pkce": flag("usePKCEInCodeExchange", true, &mut problem),
            })
        }
        Some("oauth_client_credential") => json!({
            "type": "oauth2-client-credentials",
            "tokenUrl": doc.get("accessTokenUrl").cloned().unwrap_or(Value::Null),
            "scopes": scopes,
            "clientAuth": client_auth,
        }),
        Some("basic") => match doc.get("authorization") {
            // The user enters the token in the input the template names.
            Some(a) if a.get("type").and_then(Value::as_str) == Some("bearer") => {
                match a.get("token").and_then(Value::as_str).and_then(setting_of) {
                    Some(field) => json!({ "type": "bearer", "field": field }),
                    None => {
                        problem(
                            "/authorization/token",
                            "must be one user setting, such as \"{{settings.apiKey}}\"".into(),
                        );
                        Value::Null
                    }
                }
            }
            Some(a) if a.get("type").and_then(Value::as_str) == Some("basic") => match basic_template(a) {
                Ok(None) => json!({ "type": "basic" }),
                Ok(Some((auth, template))) => {
                    out.insert("authTemplate".into(), template);
                    auth
                }
                Err((path, reason)) => {
                    problem(&path, reason);
                    Value::Null
                }
            },
            Some(a) => {
                let found = a.get("type").map(Value::to_string).unwrap_or_else(|| "nothing".into());
                problem("/authorization/type", format!("must be bearer or basic, found {found}"));
                Value::Null
            }
            None => {
                problem("/authorization", "a basic integration says how its credentials are sent".into());
                Value::Null
            }
        },
        Some(other) => {
            problem("/authenticationType", format!("must be oauth, oauth_client_credential or basic, found {other:?}"));
            Value::Null
        }
        None => {
            problem("/authenticationType", "must be a string".into());
            Value::Null
        }
    };
    out.insert("auth".into(), auth);
    if problems.is_empty() { Ok(Value::Object(out)) } else { Err(problems) }
}

/// A basic `authorization` whose user name and password are templates
/// (`{username: "{{settings.apiKey}}", password: ""}`): the scheme asking
/// for the settings they name and the auth template sending them as HTTP
/// Basic; `None` when they are the user's own `username` and `password`
/// (or not given), which the `basic` scheme sends as they are.
fn basic_template(authorization: &Value) -> Result<Option<(Value, Value)>, (String, String)> {
    let mut names: Vec<String> = Vec::new();
    let mut halves = Vec::new();
    for half in ["username", "password"] {
        let at = format!("/authorization/{half}");
        let text = match authorization.get(half) {
            None | Some(Value::Null) => format!("{{{{settings.{half}}}}}"),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err((at, "must be a string such as \"{{settings.apiKey}}\"".into())),
        };
        halves.push(settings_as_variables(&text, &mut names).map_err(|reason| (at, reason))?);
    }
    if names == ["username", "password"] && halves == ["{{username}}", "{{password}}"] {
        return Ok(None);
    }
    if names.is_empty() {
        return Err(("/authorization/username".into(), "must read at least one user setting".into()));
    }
    let properties: Map<String, Value> = names.iter().map(|n| (n.clone(), json!({"type": "string"}))).collect();
    let auth = json!({"type": "custom", "schema": {"type": "object", "properties": properties, "required": names}});
    Ok(Some((auth, json!({"basic": {"username": halves[0], "password": halves[1]}}))))
}

/// `text` with each `{{settings.<name>}}` as the auth template's
/// `{{<name>}}`, collecting the names; any other variable is refused.
fn settings_as_variables(text: &str, names: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").ok_or("a `{{` is not closed by `}}`")? + start;
        let inner = &rest[start..end + 2];
        let name = setting_of(inner)
            .ok_or_else(|| format!("`{inner}` is not a user setting such as {{{{settings.apiKey}}}}"))?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        out.push_str(&format!("{{{{{name}}}}}"));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `authorization` sends the user setting `setting` as a bearer
/// token.
fn sends_bearer(authorization: &Value, setting: &str) -> bool {
    authorization.get("type").and_then(Value::as_str) == Some("bearer")
        && authorization.get("token").and_then(Value::as_str).and_then(setting_of) == Some(setting)
}

/// The setting a `{{settings.<name>}}` template names, when it is exactly
/// one.
fn setting_of(template: &str) -> Option<&str> {
    let name = template.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim().strip_prefix("settings.")?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> Value {
        json!({
            "name": "TaskLab",
            "authenticationType": "oauth",
            "authorizationUrl": "https://tasklab.example/oauth/authorize",
            "accessTokenUrl": "https://tasklab.example/oauth/token",
            "scopes": "tasks.read, tasks.write",
            "includeClientIdAndSecrets": true,
            "usePKCEInCodeExchange": false,
            "apiBaseUrl": "https://api.tasklab.example",
            "testEndpointPath": "/me",
            "authorization": {"type": "bearer", "token": "{{settings.oauthAccessToken}}"},
        })
    }

    #[test]
    fn an_oauth_configuration_reads_as_an_oauth2_definition() {
        let d = translate(&oauth(), "custom.tasklab").unwrap();
        assert_eq!(d["id"], "custom.tasklab");
        assert_eq!(d["baseUrl"], "https://api.tasklab.example");
        assert_eq!(d["connectionTest"], json!({"path": "/me"}));
        assert_eq!(d["auth"]["type"], "oauth2");
        assert_eq!(d["auth"]["scopes"], json!(["tasks.read", "tasks.write"]));
        assert_eq!((d["auth"]["clientAuth"].as_str(), d["auth"]["pkce"].as_bool()), (Some("post"), Some(false)));
        let mut defaults = oauth();
        for key in ["includeClientIdAndSecrets", "usePKCEInCodeExchange", "authorization"] {
            defaults.as_object_mut().unwrap().remove(key);
        }
        let d = translate(&defaults, "custom.tasklab").unwrap();
        assert_eq!((d["auth"]["clientAuth"].as_str(), d["auth"]["pkce"].as_bool()), (Some("basic"), Some(true)));
    }

    #[test]
    fn client_credentials_and_basic_configurations() {
        let cc = json!({
            "name": "Ledger", "authenticationType": "oauth_client_credential",
            "accessTokenUrl": "https://ledger.example/token", "apiBaseUrl": "https://ledger.example/api",
        });
        assert_eq!(translate(&cc, "custom.ledger").unwrap()["auth"]["type"], "oauth2-client-credentials");
        let keyed = json!({
            "name": "Keyed", "authenticationType": "basic", "apiBaseUrl": "https://keyed.example",
            "authorization": {"type": "bearer", "token": "{{ settings.apiKey }}"},
        });
        assert_eq!(translate(&keyed, "custom.keyed").unwrap()["auth"], json!({"type": "bearer", "field": "apiKey"}));
        let mut basic = keyed.clone();
        basic["authorization"] = json!({"type": "basic"});
        assert_eq!(translate(&basic, "custom.keyed").unwrap()["auth"], json!({"type": "basic"}));
        basic["authorization"] = json!({"type": "basic", "username": "{{settings.username}}"});
        assert_eq!(translate(&basic, "custom.keyed").unwrap()["auth"], json!({"type": "basic"}));
        // An API key as the user name: the key is asked for and sent as HTTP Basic.
        basic["authorization"] = json!({"type": "basic", "username": "{{settings.apiKey}}", "password": ""});
        let d = translate(&basic, "custom.keyed").unwrap();
        assert_eq!(d["auth"]["schema"]["required"], json!(["apiKey"]));
        assert_eq!(d["authTemplate"], json!({"basic": {"username": "{{apiKey}}", "password": ""}}));
        basic["authorization"] = json!({"type": "basic", "username": "{{settings.a}}", "password": "{{user.x}}"});
        assert_eq!(translate(&basic, "custom.keyed").unwrap_err()[0].path, "/authorization/password");
    }

    #[test]
    fn mistakes_are_named_at_the_fields_the_project_wrote() {
        let mut doc = oauth();
        doc["authenticationType"] = json!("saml");
        doc["usePKCEInCodeExchange"] = json!("yes");
        doc["colour"] = json!("#fff");
        let problems = translate(&doc, "custom.tasklab").unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/colour", "/authenticationType"], "{problems:?}");
        let mut doc = oauth();
        doc["usePKCEInCodeExchange"] = json!("yes");
        doc["authorization"] = json!({"type": "bearer", "token": "{{settings.other}}"});
        let paths: Vec<String> = translate(&doc, "custom.tasklab").unwrap_err().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["/authorization", "/usePKCEInCodeExchange"]);
        let keyed = json!({"name": "K", "authenticationType": "basic", "apiBaseUrl": "https://k.example",
            "authorization": {"type": "digest"}});
        assert_eq!(translate(&keyed, "custom.k").unwrap_err()[0].path, "/authorization/type");
        assert_eq!(original_path("/auth/tokenUrl"), "/accessTokenUrl");
        assert_eq!(original_path("/auth/scopes/1"), "/scopes");
        assert_eq!(original_path("/connectionTest/path"), "/testEndpointPath");
        assert_eq!(original_path("/authx"), "/authx");
        assert_eq!(original_path("/name"), "/name");
    }
}
