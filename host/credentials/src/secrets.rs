//! What a credential keeps secret, and its sealing in the vault.
//!
//! All of a credential's secret fields travel as one JSON document sealed
//! as field `secrets` of owner (project, `credential`, credential id): a
//! copy into another row, project or field fails to open. Only this module
//! calls the vault for credentials.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use weft_store::{CredentialId, ProjectId};
use weft_vault::{Sealed, Vault};

use crate::owners;
use zeroize::Zeroize;

use crate::{Error, Result};

/// A credential's secrets. `Debug` shows which fields are set, never their
/// values; every value is wiped when dropped.
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct CredentialSecrets {
    /// OAuth access token (or a static bearer token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// OAuth refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Granted scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The user's own OAuth client (client-credentials integrations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Its secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Basic-auth or password-grant user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic-auth password, or the password-grant password where the
    /// integration opted in to keeping it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// API key, or the fields of a custom scheme.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Other token-response fields (`id_token`, `instance_url`, ...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl Drop for CredentialSecrets {
    fn drop(&mut self) {
        for s in [
            &mut self.access_token,
            &mut self.refresh_token,
            &mut self.client_id,
            &mut self.client_secret,
            &mut self.username,
            &mut self.password,
        ]
        .into_iter()
        .flatten()
        {
            s.zeroize();
        }
        for v in self.fields.values_mut() {
            v.zeroize();
        }
    }
}

impl std::fmt::Debug for CredentialSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSecrets")
            .field("access_token", &self.access_token.is_some())
            .field("refresh_token", &self.refresh_token.is_some())
            .field("client_secret", &self.client_secret.is_some())
            .field("password", &self.password.is_some())
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Shortest secret value [`CredentialSecrets::redact`] replaces: a shorter
/// one could not be told from ordinary text.
const MIN_REDACTED_LEN: usize = 8;

/// What replaces a secret in redacted data.
pub const REDACTED: &str = "[REDACTED]";

impl CredentialSecrets {
    /// Replaces every occurrence of one of these secrets (tokens, keys,
    /// passwords, the client secret) in the strings and object keys of
    /// `value` with [`REDACTED`]; returns how many strings changed. For data
    /// about to be stored or shown that a provider may have filled with the
    /// credentials it was sent (an echo, an error quoting the request).
    pub fn redact(&self, value: &mut Value) -> usize {
        let secrets: Vec<&str> = [&self.access_token, &self.refresh_token, &self.client_secret, &self.password]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .chain(self.fields.values().map(String::as_str))
            .filter(|s| s.len() >= MIN_REDACTED_LEN)
            .collect();
        if secrets.is_empty() {
            return 0;
        }
        fn scrub(text: &mut String, secrets: &[&str]) -> bool {
            let mut changed = false;
            for s in secrets {
                if text.contains(s) {
                    *text = text.replace(s, REDACTED);
                    changed = true;
                }
            }
            changed
        }
        fn walk(value: &mut Value, secrets: &[&str]) -> usize {
            match value {
                Value::String(text) => usize::from(scrub(text, secrets)),
                Value::Array(items) => items.iter_mut().map(|v| walk(v, secrets)).sum(),
                Value::Object(map) => {
                    let mut n = 0;
                    let keys: Vec<String> =
                        map.keys().filter(|k| secrets.iter().any(|s| k.contains(s))).cloned().collect();
                    for key in keys {
                        if let Some(v) = map.remove(&key) {
                            let mut renamed = key;
                            scrub(&mut renamed, secrets);
                            map.insert(renamed, v);
                            n += 1;
                        }
                    }
                    n + map.values_mut().map(|v| walk(v, secrets)).sum::<usize>()
                }
                _ => 0,
            }
        }
        walk(value, &secrets)
    }

    /// The refresh token as a secret, for a token request.
    pub fn refresh_token(&self) -> Option<SecretString> {
        self.refresh_token.as_deref().map(SecretString::from)
    }

    /// Seals these secrets for credential `id` of `project`.
    pub(crate) fn seal(&self, vault: &Vault, project: ProjectId, id: CredentialId) -> Result<Vec<u8>> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(self).map_err(|e| Error::internal(format!("{e}")))?);
        let (owner, field) = owners::credential(project, id);
        Ok(vault.seal(&owner, field, &json)?.to_bytes())
    }

    /// Opens the sealed secrets of credential `id` of `project`. Anything
    /// that does not open is [`Error::Corrupt`].
    pub(crate) fn open(vault: &Vault, project: ProjectId, id: CredentialId, sealed: &[u8]) -> Result<Self> {
        let sealed = Sealed::from_bytes(sealed).map_err(|_| Error::Corrupt)?;
        let (owner, field) = owners::credential(project, id);
        let plain = vault
            .open(&owner, field, &sealed)
            .map_err(|e| if e.is_corrupt() { Error::Corrupt } else { Error::Vault(e) })?;
        serde_json::from_slice(plain.expose_secret()).map_err(|_| Error::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_values() {
        let mut s = CredentialSecrets::default();
        s.access_token = Some("cnry-access".into());
        s.password = Some("cnry-pass".into());
        s.fields.insert("api_key".to_owned(), "cnry-key".to_owned());
        let shown = format!("{s:?}");
        assert!(!shown.contains("cnry"), "{shown}");
        assert!(shown.contains("api_key"));
    }
}

#[cfg(test)]
mod redaction {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_secret_is_redacted_wherever_it_appears() {
        let mut secrets = CredentialSecrets::default();
        secrets.access_token = Some("at-0123456789".into());
        secrets.fields.insert("api_key".into(), "key-abcdefgh".into());
        secrets.fields.insert("region".into(), "eu".into());
        let mut v = json!({
            "headers": {"x-api-key": "key-abcdefgh", "authorization": "Bearer at-0123456789"},
            "list": ["plain", "a key-abcdefgh in text"],
            "key-abcdefgh": 1,
            "region": "eu",
        });
        assert_eq!(secrets.redact(&mut v), 4);
        assert_eq!(
            v,
            json!({
                "headers": {"x-api-key": REDACTED, "authorization": format!("Bearer {REDACTED}")},
                "list": ["plain", format!("a {REDACTED} in text")],
                REDACTED: 1,
                "region": "eu",
            })
        );
        // Too short to tell from text: left alone.
        assert_eq!(secrets.redact(&mut json!("eu is a region")), 0);
    }
}
