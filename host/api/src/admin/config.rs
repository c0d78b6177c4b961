//! Admin routes for a project's signing keys, secret names and app events.

use crate::extract::{Json, Path, json_body};
use crate::principal::{AdminOnly, ProjectKey, Staff};
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use weft_store::{NewSigningKey, SigningKeyId, SigningKeyMaterial};

/// Exactly one of `generate`, `publicKeyPem` and `jwksUrl`; optionally the
/// `iss` and `aud` the key's tokens must carry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AddSigningKey {
    kid: Option<String>,
    #[serde(default)]
    generate: bool,
    public_key_pem: Option<String>,
    jwks_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
}

const SIGNING_KEY_EXAMPLE: &str = r#"{"generate": true} or {"publicKeyPem": "-----BEGIN PUBLIC KEY-----..."} or {"jwksUrl": "https://..."}, with an optional "kid", "issuer" and "audience""#;

/// Adds a signing key. `generate` answers the private key once; Weft keeps
/// only the public half.
pub(crate) async fn add_signing_key(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    raw: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: AddSigningKey = json_body(raw, SIGNING_KEY_EXAMPLE)?;
    let mut private_pem = None;
    let material = match (req.generate, req.public_key_pem, req.jwks_url) {
        (true, None, None) => {
            let (private, public) = weft_auth::generate_signing_key().map_err(ApiError::internal)?;
            private_pem = Some(private);
            SigningKeyMaterial::Generated { public_key_pem: public }
        }
        (false, Some(pem), None) => {
            // Refuse what could never verify a token, before storing it.
            weft_auth::StaticKey::from_pem(None, &pem).map_err(|e| ApiError::bad_request(e.to_string()))?;
            SigningKeyMaterial::Uploaded { public_key_pem: pem }
        }
        (false, None, Some(url)) => {
            let parsed =
                url::Url::parse(&url).map_err(|e| ApiError::bad_request(format!("jwksUrl is not a URL: {e}")))?;
            if parsed.scheme() != "https" && parsed.scheme() != "http" {
                return Err(ApiError::bad_request("jwksUrl must be an http(s) URL"));
            }
            SigningKeyMaterial::Jwks { url }
        }
        _ => return Err(ApiError::bad_request(format!("Send exactly one of: {SIGNING_KEY_EXAMPLE}"))),
    };
    let stored = state
        .store
        .add_signing_key(
            key.project,
            NewSigningKey { kid: req.kid, material, issuer: req.issuer, audience: req.audience },
        )
        .await
        .map_err(store_error)?;
    state.user_tokens.forget_keys(key.project);
    let mut out = json!(stored);
    if let Some(private) = private_pem {
        out["privateKeyPem"] = json!(private);
    }
    Ok((StatusCode::CREATED, Json(out)))
}

pub(crate) async fn list_signing_keys(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.list_signing_keys(key.project).await.map_err(store_error)?)))
}

pub(crate) async fn delete_signing_key(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: SigningKeyId = super::parse_id(&id, "signing key")?;
    state.store.delete_signing_key(key.project, id).await.map_err(store_error)?;
    // Tokens signed with it stop verifying here at once.
    state.user_tokens.forget_keys(key.project);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretName {
    name: String,
}

/// Declares an environment secret name (values arrive with the vault).
pub(crate) async fn add_secret(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    raw: Option<Json<Value>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: SecretName = json_body(raw, r#"{"name": "SLACK_CHANNEL"}"#)?;
    let stored = state.store.add_secret_name(key.project, &req.name).await.map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(json!(stored))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretValue {
    value: String,
}

/// Seals a declared secret's value in the vault; it is never shown again.
pub(crate) async fn set_secret(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, name)): Path<(String, String)>,
    raw: Option<Json<Value>>,
) -> Result<StatusCode, ApiError> {
    let req: SecretValue = json_body(raw, r#"{"value": "<the secret>"}"#)?;
    let value = secrecy::SecretString::from(req.value);
    state
        .credentials
        .set_environment_secret(key.project, &name, &value)
        .await
        .map_err(crate::connect::credential_error)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_secrets(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.list_secret_names(key.project).await.map_err(store_error)?)))
}

pub(crate) async fn delete_secret(
    State(state): State<AppState>,
    key: ProjectKey<AdminOnly>,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_secret_name(key.project, &name).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AppEventBody {
    name: String,
    #[serde(default)]
    example_payload: Value,
}

/// Creates or replaces an app event definition.
pub(crate) async fn put_app_event(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    raw: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let req: AppEventBody = json_body(raw, r#"{"name": "Contact Created", "examplePayload": {...}}"#)?;
    let stored =
        state.store.upsert_app_event(key.project, &req.name, req.example_payload).await.map_err(store_error)?;
    Ok(Json(json!(stored)))
}

pub(crate) async fn list_app_events(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.store.list_app_events(key.project).await.map_err(store_error)?)))
}

pub(crate) async fn delete_app_event(
    State(state): State<AppState>,
    key: ProjectKey<Staff>,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_app_event(key.project, &name).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT)
}
