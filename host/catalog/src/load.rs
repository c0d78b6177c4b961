//! Declarative provider definitions: JSON or YAML files checked against the
//! published schema, then against what the schema cannot say (ids, URLs,
//! pointers), with every problem reported as a path in the document and a
//! reason.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::placeholders::{PlaceholderError, fill_placeholders};
use crate::provider::{AuthScheme, Provider, valid_id};

/// The formats a definition can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML (1.2, its JSON-compatible subset of types).
    Yaml,
}

impl Format {
    /// The format a file name's extension names (`.json`, `.yaml`, `.yml`).
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }
}

/// One problem of a definition: where (a JSON Pointer into the document,
/// `""` for the whole) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON Pointer of the offending value.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Inputs the password grant asks for itself.
const RESERVED_INPUTS: &[&str] = &["username", "password"];

/// Whether `name` may name a connect input (`apiKey`, `api_token`).
fn valid_input_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Why a definition was refused: the source (a file name or `<text>`) and
/// each problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {}", list(.problems))]
pub struct DefinitionError {
    /// Where the definition came from.
    pub source_name: String,
    /// What is wrong, in document order where the checks allow.
    pub problems: Vec<Problem>,
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| if p.path.is_empty() { p.reason.clone() } else { format!("at {}: {}", p.path, p.reason) })
        .collect::<Vec<_>>()
        .join("; ")
}

impl DefinitionError {
    /// A refusal with one problem (`path` `""` for the whole document).
    pub fn one(source_name: &str, path: &str, reason: impl Into<String>) -> Self {
        Self { source_name: source_name.into(), problems: vec![Problem { path: path.into(), reason: reason.into() }] }
    }
}

/// Largest definition accepted, in bytes.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;

/// Parses and checks one definition.
pub fn parse(text: &str, format: Format, source_name: &str) -> Result<Provider, DefinitionError> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(DefinitionError::one(source_name, "", format!("larger than {MAX_DEFINITION_BYTES} bytes")));
    }
    let document: Value = match format {
        Format::Json => serde_json::from_str(text)
            .map_err(|e| DefinitionError::one(source_name, "", format!("not valid JSON: {e}")))?,
        Format::Yaml => serde_yaml_ng::from_str(text)
            .map_err(|e| DefinitionError::one(source_name, "", format!("not valid YAML: {e}")))?,
    };
    from_document(document, source_name)
}

/// Checks one definition already read into a JSON document (an admin API
/// body): the schema, then what the schema cannot say.
pub fn from_document(document: Value, source_name: &str) -> Result<Provider, DefinitionError> {
    let problems = schema_problems(&document);
    if !problems.is_empty() {
        return Err(DefinitionError { source_name: source_name.into(), problems });
    }
    let provider: Provider = serde_json::from_value(document)
        .map_err(|e| DefinitionError::one(source_name, "", format!("does not match the provider model: {e}")))?;
    let problems = semantic_problems(&provider);
    if !problems.is_empty() {
        return Err(DefinitionError { source_name: source_name.into(), problems });
    }
    Ok(provider)
}

/// Reads and checks the definition in `path` (its extension names the format).
pub fn load_file(path: &Path) -> Result<Provider, DefinitionError> {
    let name = path.display().to_string();
    let format = Format::of(path)
        .ok_or_else(|| DefinitionError::one(&name, "", "the file name must end in .json, .yaml or .yml"))?;
    let text =
        std::fs::read_to_string(path).map_err(|e| DefinitionError::one(&name, "", format!("unreadable: {e}")))?;
    parse(&text, format, &name)
}

/// The definition files of `dir` (not its subfolders), each loaded, in file
/// name order. Files of other extensions are skipped.
pub fn load_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, Result<Provider, DefinitionError>)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && Format::of(p).is_some())
        .collect();
    paths.sort();
    Ok(paths.into_iter().map(|p| (p.clone(), load_file(&p))).collect())
}

/// The compiled schema of [`crate::schema::schema`].
pub(crate) fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        // The schema is generated from the model at build time: a failure
        // here is a bug caught by this crate's tests, never by a user.
        jsonschema::validator_for(crate::schema::schema()).expect("the provider schema compiles")
    })
}

fn schema_problems(document: &Value) -> Vec<Problem> {
    problems_against(validator(), document)
}

/// Every error of `document` against `validator`, as problems in path order.
pub(crate) fn problems_against(validator: &jsonschema::Validator, document: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    for e in validator.iter_errors(document) {
        explain(&e, &mut problems);
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    problems.dedup();
    problems
}

/// One schema error as problems. A tagged union (`auth`) that matches no
/// variant is explained by the variant its `type` names, not as "matches
/// none of the schemas".
fn explain(e: &jsonschema::ValidationError<'_>, out: &mut Vec<Problem>) {
    if let jsonschema::error::ValidationErrorKind::OneOfNotValid { context } = e.kind() {
        // An enumeration (`level: user | app`): name the allowed values.
        let allowed: Option<Vec<String>> = context
            .iter()
            .map(|branch| match branch.as_slice() {
                [only] => match only.kind() {
                    jsonschema::error::ValidationErrorKind::Constant { expected_value } => {
                        Some(expected_value.to_string())
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        if let Some(allowed) = allowed.filter(|a| !a.is_empty()) {
            let reason = format!("must be one of {}", allowed.join(", "));
            out.push(Problem { path: e.instance_path().to_string(), reason });
            return;
        }
        let tag_failed = |branch: &&Vec<jsonschema::ValidationError<'static>>| {
            branch.iter().any(|b| b.instance_path().to_string().ends_with("/type"))
        };
        let mut candidates = context.iter().filter(|b| !tag_failed(b));
        if let (Some(branch), None) = (candidates.next(), candidates.next()) {
            for inner in branch {
                explain(inner, out);
            }
            return;
        }
        let reason = "matches none of the allowed forms; check its `type`".to_owned();
        out.push(Problem { path: e.instance_path().to_string(), reason });
        return;
    }
    out.push(Problem { path: e.instance_path().to_string(), reason: e.to_string() });
}

/// What the schema cannot check.
fn semantic_problems(p: &Provider) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, reason: String| problems.push(Problem { path: path.into(), reason });
    if !valid_id(&p.id) {
        problem(
            "/id",
            "must be 1 to 64 ASCII letters, digits, '-', '_' or '.', with no '.' first, last or doubled".into(),
        );
    }
    if let Err(reason) = check_base_url(&p.base_url) {
        problem("/baseUrl", reason);
    }
    match &p.auth {
        AuthScheme::Oauth2 {
            authorize_url,
            token_url,
            revoke_url,
            custom_refresh,
            password_grant,
            password_api_key,
            ..
        } => {
            // Without an authorization page, users connect with the password grant.
            let authorize = (!authorize_url.is_empty()).then_some(authorize_url);
            if authorize_url.is_empty() && !password_grant {
                problem("/auth/authorizeUrl", "required, unless passwordGrant is true".into());
            }
            match password_api_key {
                Some(_) if !password_grant => problem(
                    "/auth/passwordApiKey",
                    "asked for only with the password grant (passwordGrant: true)".into(),
                ),
                Some(field) if !valid_input_name(field) || RESERVED_INPUTS.contains(&field.as_str()) => problem(
                    "/auth/passwordApiKey",
                    "must be 1 to 64 ASCII letters, digits or '_' naming an input other than username and password"
                        .into(),
                ),
                _ => {}
            }
            for (path, url) in [("/auth/authorizeUrl", authorize), ("/auth/tokenUrl", Some(token_url))]
                .into_iter()
                .chain([("/auth/revokeUrl", revoke_url.as_ref())])
            {
                if let Some(Err(reason)) = url.map(|u| check_url(u)) {
                    problem(path, reason);
                }
            }
            if *custom_refresh {
                problem("/auth/customRefresh", "a definition has no plugin to refresh tokens; remove it".into());
            }
        }
        AuthScheme::Oauth2ClientCredentials { token_url, .. } => {
            if let Err(reason) = check_url(token_url) {
                problem("/auth/tokenUrl", reason);
            }
        }
        // Named fields go on a request only as an auth template says.
        AuthScheme::Custom { .. } if p.auth_template.is_none() => problem(
            "/auth/type",
            "`custom` needs a plugin or an authTemplate; a definition can use api-key, basic, bearer or oauth2".into(),
        ),
        AuthScheme::ApiKey { name, .. } if name.trim().is_empty() => problem("/auth/name", "must not be empty".into()),
        _ => {}
    }
    if let AuthScheme::ApiKey { field: Some(field), .. } | AuthScheme::Bearer { field: Some(field) } = &p.auth
        && !valid_input_name(field)
    {
        problem("/auth/field", "must be 1 to 64 ASCII letters, digits or '_', such as apiKey".into());
    }
    for (i, pattern) in p.allowed_hosts.iter().enumerate() {
        if pattern.is_empty() || pattern.contains(['/', '?', '#', '@', ' ']) {
            problem(&format!("/allowedHosts/{i}"), "must be a host name, `*.suffix` or `host:port`".into());
        }
    }
    if let Some(t) = &p.connection_test {
        if !matches!(t.method.as_str(), "GET" | "POST" | "HEAD") {
            problem("/connectionTest/method", "must be GET, POST or HEAD".into());
        }
        for (path, pointer) in [
            ("/connectionTest/accountId", t.account_id.as_ref()),
            ("/connectionTest/accountName", t.account_name.as_ref()),
        ] {
            if pointer.is_some_and(|p| !p.is_empty() && !p.starts_with('/')) {
                problem(path, "must be a JSON Pointer such as /data/id".into());
            }
        }
    }
    let profile = p.user_profile.iter().flat_map(|u| crate::resource::profile_problems(u, "/userProfile"));
    let template = p.auth_template.iter().flat_map(crate::resource::template_form_problems);
    for found in profile.chain(template) {
        problem(&found.path, found.reason);
    }
    for (i, r) in p.rate_limits.iter().enumerate() {
        if r.per_seconds == 0 {
            problem(&format!("/rateLimits/{i}/perSeconds"), "must be at least 1".into());
        }
    }
    if let Some(Err(reason)) = p.pagination.as_ref().map(crate::paging::Paging::check) {
        problem("/pagination", reason);
    }
    for (path, url) in crate::webhooks::setup_urls(&p.webhooks) {
        let sample = crate::webhooks::sample_url(url);
        if !sample.starts_with('/') && check_url(&sample).is_err() {
            problem(&path, "must be a path such as /webhooks, or an http(s) URL".into());
        }
    }
    problems.extend(crate::webhooks::problems(&p.webhooks));
    problems
}

/// A base URL: it may also open with the origin of a token-response field
/// (`{token.instance_url}/services/data/v62.0`), which the Endpoint checks
/// against the permitted hosts when it fills it.
fn check_base_url(template: &str) -> Result<(), String> {
    match template.strip_prefix(crate::TOKEN_PLACEHOLDER) {
        Some(after) => match after.split_once('}') {
            Some((field, rest))
                if !field.is_empty()
                    && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && (rest.is_empty() || rest.starts_with('/')) =>
            {
                check_url(&format!("https://sample.test{rest}"))
            }
            _ => Err("a `{token.<field>}` placeholder must be the URL's origin".into()),
        },
        None => check_url(template),
    }
}

/// An http(s) URL once its placeholders are filled with a sample value.
pub(crate) fn check_url(template: &str) -> Result<(), String> {
    if template.contains(crate::TOKEN_PLACEHOLDER) {
        return Err("a `{token.<field>}` placeholder may only open a base URL".into());
    }
    let sample = sample_config(template);
    let filled = fill_placeholders(template, &sample).map_err(|e| match e {
        PlaceholderError::Unclosed => "a `{config.` placeholder is not closed".to_owned(),
        other => other.to_string(),
    })?;
    let url = url::Url::parse(&filled).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http(s) URL with a host".into());
    }
    Ok(())
}

/// A value for every placeholder of `template`.
pub(crate) fn sample_config(template: &str) -> Map<String, Value> {
    let mut config = Map::new();
    for part in template.split("{config.").skip(1) {
        if let Some((field, _)) = part.split_once('}') {
            config.insert(field.to_owned(), Value::String("sample".into()));
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id: tasklab
name: TaskLab
baseUrl: https://{config.region}.api.tasklab.test/v2
allowedHosts: ["files.tasklab.test"]
auth:
  type: oauth2
  authorizeUrl: https://tasklab.test/oauth/authorize
  tokenUrl: https://tasklab.test/oauth/token
  scopes: [read, write]
  clientAuth: post
connectionConfigSchema:
  type: object
  properties: { region: { type: string } }
rateLimits:
  - { scope: connection, requests: 10, perSeconds: 1 }
connectionTest: { path: /me, accountId: /id, accountName: /name }
"#;

    #[test]
    fn a_good_yaml_definition_loads() {
        let p = parse(GOOD, Format::Yaml, "tasklab.yaml").unwrap();
        assert_eq!(p.id, "tasklab");
        assert_eq!(p.version, "1.0.0");
        assert!(matches!(&p.auth, AuthScheme::Oauth2 { scope_separator, .. } if scope_separator == " "));
        assert_eq!(p.connection_test.as_ref().unwrap().method, "GET");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(parse(&json, Format::Json, "tasklab.json").unwrap(), p);
    }

    #[test]
    fn schema_errors_name_the_path_and_the_reason() {
        let bad =
            GOOD.replace("tokenUrl: https://tasklab.test/oauth/token", "").replace("perSeconds: 1", "perSeconds: -1");
        let e = parse(&bad, Format::Yaml, "bad.yaml").unwrap_err();
        assert_eq!(e.source_name, "bad.yaml");
        assert!(e.problems.iter().any(|p| p.path == "/rateLimits/0/perSeconds"), "{e}");
        assert!(e.problems.iter().any(|p| p.path == "/auth" && p.reason.contains("tokenUrl")), "{e}");
        let unknown = GOOD.replace("name: TaskLab", "name: TaskLab\nnmae: typo");
        let e = parse(&unknown, Format::Yaml, "typo.yaml").unwrap_err();
        assert!(e.to_string().contains("nmae"), "{e}");
    }

    #[test]
    fn an_unknown_enumeration_value_names_the_allowed_ones() {
        let hooks = format!("{GOOD}webhooks:\n  - {{key: k, name: K, level: team}}\n");
        let e = parse(&hooks, Format::Yaml, "hooks.yaml").unwrap_err();
        let expected = Problem { path: "/webhooks/0/level".into(), reason: r#"must be one of "user", "app""#.into() };
        assert_eq!(e.problems, [expected]);
    }

    #[test]
    fn only_a_base_url_may_open_with_a_token_origin() {
        let base = GOOD.replace("https://{config.region}.api.tasklab.test/v2", "\"{token.instance_url}/v2\"");
        assert!(parse(&base, Format::Yaml, "token.yaml").is_ok());
        for bad in ["\"https://{token.instance_url}/v2\"", "\"{token.instance_url}.evil.test\"", "\"{token.a.b}/v2\""] {
            let text = GOOD.replace("https://{config.region}.api.tasklab.test/v2", bad);
            let e = parse(&text, Format::Yaml, "bad.yaml").unwrap_err();
            assert!(e.problems.iter().any(|p| p.path == "/baseUrl"), "{bad}: {e}");
        }
        let token_url = GOOD.replace("https://tasklab.test/oauth/token", "\"{token.instance_url}/oauth/token\"");
        let e = parse(&token_url, Format::Yaml, "bad.yaml").unwrap_err();
        assert!(e.problems.iter().any(|p| p.path == "/auth/tokenUrl"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_path_and_the_reason() {
        let bad = GOOD
            .replace("id: tasklab", "id: .hidden")
            .replace("https://tasklab.test/oauth/authorize", "ftp://tasklab.test/a")
            .replace("accountId: /id", "accountId: id")
            .replace("files.tasklab.test", "files.test/path");
        let e = parse(&bad, Format::Yaml, "bad.yaml").unwrap_err();
        let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/id", "/auth/authorizeUrl", "/allowedHosts/0", "/connectionTest/accountId"], "{e}");
        assert!(parse("{", Format::Json, "x.json").unwrap_err().to_string().starts_with("x.json: not valid JSON"));
        assert!(parse(": : :", Format::Yaml, "x.yaml").is_err());
        let named = "id: k\nname: K\nbaseUrl: https://k.test\nauth: {type: bearer, field: api key}\n";
        let e = parse(named, Format::Yaml, "k.yaml").unwrap_err();
        assert_eq!(e.problems[0].path, "/auth/field", "{e}");
        let named = named.replace("api key", "apiKey");
        assert!(parse(&named, Format::Yaml, "k.yaml").is_ok());
    }

    #[test]
    fn a_directory_loads_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), GOOD.replace("id: tasklab", "id: second")).unwrap();
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        assert_eq!(loaded.len(), 2);
        assert!(loaded[0].1.is_err());
        assert_eq!(loaded[1].1.as_ref().unwrap().id, "second");
    }
}
