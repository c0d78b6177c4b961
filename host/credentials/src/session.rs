//! A user's connected account ready for calls: the integration, its
//! provider, the credential picked for the user and its open secrets, which
//! only [`Session::inject`] ever uses.
//!
//! Resolved sessions are kept for [`SESSION_TTL`] with their secrets
//! already opened, so a burst of calls for one account costs one
//! decryption a second instead of one per call. The open secrets stay in
//! this crate's memory only (wiped when the last holder drops them) and
//! leave it only as the header or query value [`Session::inject`] writes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft_catalog::{Endpoint, Provider};
use weft_egress::OutboundRequest;
use weft_egress::governor::Rule;
use weft_store::{Credential, CredentialId, CredentialStatus, Integration, IntegrationId, ProjectId};

use crate::secrets::CredentialSecrets;
use crate::service::{Credentials, IntegrationAuth};
use crate::{Error, Result};

/// Which integration a call names.
#[derive(Debug, Clone, Copy)]
pub enum IntegrationRef<'a> {
    /// By type (`slack`, `custom.tasklab`).
    Type(&'a str),
    /// By id (custom integrations in the proxy path).
    Id(IntegrationId),
}

/// Secrets ready for one call; never serialised, never logged.
#[derive(Clone)]
pub struct Session {
    auth: Arc<IntegrationAuth>,
    credential: Arc<Credential>,
    secrets: Arc<CredentialSecrets>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("integration", &self.auth.integration.id)
            .field("credential", &self.credential.id)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The integration.
    pub fn integration(&self) -> &Integration {
        &self.auth.integration
    }

    /// Its provider.
    pub fn provider(&self) -> &Provider {
        &self.auth.provider
    }

    /// Where calls as this account may go: the provider under the
    /// integration's base URL override and the account's settings.
    pub fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            provider: &self.auth.provider,
            base_override: self.auth.integration.base_url.as_deref(),
            config: &self.credential.connection_config,
        }
    }

    /// The provider's declared rate limits, as the governor counts them.
    pub fn rules(&self) -> &[Rule] {
        &self.auth.rules
    }

    /// A session over secrets not saved yet (a connection test).
    pub(crate) fn pending(auth: Arc<IntegrationAuth>, credential: Credential, secrets: CredentialSecrets) -> Self {
        Self { auth, credential: Arc::new(credential), secrets: Arc::new(secrets) }
    }

    /// The credential used.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// Its open secrets (this crate only).
    pub(crate) fn secrets(&self) -> &CredentialSecrets {
        &self.secrets
    }

    /// Adds the credential to `req` as the integration's scheme says.
    pub fn inject(&self, req: &mut OutboundRequest) -> Result<()> {
        match &self.auth.provider.auth_template {
            Some(template) => {
                crate::scheme::inject_template(template, &self.secrets, &self.credential.connection_config, req)
            }
            None => self.auth.scheme.inject(&self.secrets, req),
        }
    }
}

/// How long a resolved session (integration, plugin, scheme and the sealed
/// credential row) is reused. A change made in this process invalidates
/// every entry at once; a change made by another process is seen within
/// this time (and a token refreshed elsewhere heals through the 401 path).
const SESSION_TTL: Duration = Duration::from_secs(1);
/// Entries kept before expired ones are dropped.
const MAX_SESSIONS: usize = 100_000;

/// A session's cache key as text (see [`session_key`]).
type SessionKey = Box<str>;

/// Writes the cache key of a session into `out`: the project, the selected
/// credential, the user's id after its length (so no user id can run into
/// the next part), then the integration's type or id, marked apart.
fn session_key(
    out: &mut String,
    project: ProjectId,
    user: &str,
    integration: IntegrationRef<'_>,
    selected: Option<CredentialId>,
) {
    use std::fmt::Write;
    let mut uuid = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.clear();
    out.push_str(project.as_uuid().hyphenated().encode_lower(&mut uuid));
    out.push('/');
    match selected {
        Some(id) => out.push_str(id.as_uuid().hyphenated().encode_lower(&mut uuid)),
        None => out.push('-'),
    }
    let _ = write!(out, "/{}:{user}", user.len());
    match integration {
        IntegrationRef::Type(kind) => {
            out.push_str("t:");
            out.push_str(kind);
        }
        IntegrationRef::Id(id) => {
            out.push_str("i:");
            out.push_str(id.as_uuid().hyphenated().encode_lower(&mut uuid));
        }
    }
}

thread_local! {
    /// The buffer lookups write their key into: a cache hit allocates nothing.
    static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// One resolved session: what it holds, when, under which generation.
struct Cached {
    hit: Hit,
    at: Instant,
    generation: u64,
}

/// What a cache hit hands out.
type Hit = (Arc<IntegrationAuth>, Arc<Credential>, Arc<CredentialSecrets>);

/// Sessions resolved recently, with their secrets open. A change to a
/// credential in this process (a refresh, a reconnect, a disconnect)
/// drops every entry at once.
#[derive(Default)]
pub(crate) struct SessionCache {
    entries: Mutex<HashMap<SessionKey, Cached>>,
    generation: AtomicU64,
}

impl SessionCache {
    /// Something a session depends on changed: forget every entry.
    pub(crate) fn touch(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn get(&self, key: &str) -> Option<Hit> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let c = entries.get(key)?;
        (c.generation == self.generation() && c.at.elapsed() < SESSION_TTL).then(|| c.hit.clone())
    }

    fn insert(&self, key: SessionKey, hit: Hit, generation: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_SESSIONS {
            let current = self.generation();
            entries.retain(|_, c| c.generation == current && c.at.elapsed() < SESSION_TTL);
        }
        entries.insert(key, Cached { hit, at: Instant::now(), generation });
    }
}

impl Credentials {
    /// Integrations, credentials or users changed outside this service
    /// (the admin API): cached sessions are dropped.
    pub fn forget_sessions(&self) {
        self.sessions.touch();
    }

    /// The session of `user` for `integration`: the credential named by
    /// `selected` (which must be the user's and of this integration), or
    /// the user's first VALID one; refreshed first when due.
    pub async fn session(
        &self,
        project: ProjectId,
        user: &str,
        integration: IntegrationRef<'_>,
        selected: Option<CredentialId>,
    ) -> Result<Session> {
        // Read before resolving: a change while we resolve makes the entry stale.
        let generation = self.sessions.generation();
        let (hit, key) = KEY.with_borrow_mut(|key| {
            session_key(key, project, user, integration, selected);
            let hit = self
                .sessions
                .get(key)
                .filter(|(_, credential, _)| credential.status == CredentialStatus::Valid && !self.due(credential));
            // The key is kept only when the session must be resolved.
            let owned = hit.is_none().then(|| SessionKey::from(key.as_str()));
            (hit, owned)
        });
        if let Some((auth, credential, secrets)) = hit {
            return Ok(Session { auth, credential, secrets });
        }
        let key = key.unwrap_or_default();
        // Boxed: resolving (store reads, a refresh) is the rare path, and its
        // state would otherwise be carried by every call's future.
        Box::pin(self.resolve_session(project, user, integration, selected, key, generation)).await
    }

    /// The session of a saved credential, which must be an account of
    /// `integration_type` (a plugin's call may use only its own
    /// integration's credentials); refreshed first when due. Read from the
    /// store every time: a plugin call resolves its grant once, so a change
    /// to the credential (or tampering with its row) is seen by the next call.
    pub async fn session_of(
        &self,
        project: ProjectId,
        credential: CredentialId,
        integration_type: &str,
    ) -> Result<Session> {
        let usable = self.usable(project, credential).await?;
        let auth = self.integration_auth(project, usable.credential.integration_id).await?;
        if auth.integration.integration_type != integration_type {
            return Err(Error::NotFound("credential"));
        }
        Ok(Session { auth: Arc::new(auth), credential: Arc::new(usable.credential), secrets: Arc::new(usable.secrets) })
    }

    /// The session, read from the store (and refreshed when due), cached
    /// under `key` when valid.
    async fn resolve_session(
        &self,
        project: ProjectId,
        user: &str,
        integration: IntegrationRef<'_>,
        selected: Option<CredentialId>,
        key: SessionKey,
        generation: u64,
    ) -> Result<Session> {
        let auth = match integration {
            IntegrationRef::Type(kind) => self.integration_auth_by_type(project, kind).await?,
            IntegrationRef::Id(id) => self.integration_auth(project, id).await?,
        };
        if !auth.integration.active {
            return Err(Error::BadRequest(format!(
                "The integration {} is not active in this project",
                auth.integration.integration_type
            )));
        }
        let mine: Vec<Credential> = self
            .store
            .list_user_credentials(project, user)
            .await?
            .into_iter()
            .filter(|c| c.integration_id == auth.integration.id)
            .collect();
        let chosen = match selected {
            Some(id) => mine.iter().find(|c| c.id == id).ok_or(Error::NotFound("credential"))?,
            None => mine.iter().find(|c| c.status == CredentialStatus::Valid).or(mine.first()).ok_or_else(|| {
                Error::BadRequest(format!(
                    "This user has not connected {}; connect an account first",
                    auth.integration.integration_type
                ))
            })?,
        };
        let usable = self.usable(project, chosen.id).await?;
        let (auth, credential, secrets) = (Arc::new(auth), Arc::new(usable.credential), Arc::new(usable.secrets));
        if credential.status == CredentialStatus::Valid {
            self.sessions.insert(key, (auth.clone(), credential.clone(), secrets.clone()), generation);
        }
        Ok(Session { auth, credential, secrets })
    }

    /// After the provider answered 401 to a request `session` injected:
    /// the session with refreshed secrets (single-flight with every other
    /// caller), or `None` when there is nothing to refresh (no bearer token,
    /// or the refresh failed; the caller then passes the 401 on).
    pub async fn session_after_401(&self, session: &Session) -> Option<Session> {
        // Tokens that never expire are not renewed: the 401 is the answer.
        if session.auth.scheme.refresh() == weft_catalog::RefreshPolicy::Never {
            return None;
        }
        let token = session.auth.scheme.bearer(&session.secrets)?;
        let (project, id) = (session.credential.project_id, session.credential.id);
        match self.refresh_rejected(project, id, token).await {
            Ok(usable) => Some(Session {
                auth: session.auth.clone(),
                credential: Arc::new(usable.credential),
                secrets: Arc::new(usable.secrets),
            }),
            Err(e) => {
                tracing::warn!(credential = %id, error = %e, "refresh after a provider 401 failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_never_read_alike_for_different_sessions() {
        let project: ProjectId = "7d1c2a52-4a0e-4d8f-9a39-0f0b7a1d9c15".parse().unwrap();
        let id: IntegrationId = "0f0b7a1d-4a0e-4d8f-9a39-7d1c2a529c15".parse().unwrap();
        let credential: CredentialId = "4a0e4d8f-0f0b-7a1d-9a39-7d1c2a529c15".parse().unwrap();
        let id_text = id.as_uuid().hyphenated().to_string();
        let cases = [
            ("ab", IntegrationRef::Type("c"), None),
            ("a", IntegrationRef::Type("bc"), None),
            ("a:1", IntegrationRef::Type("b"), None),
            ("a", IntegrationRef::Type("1:b"), None),
            ("u", IntegrationRef::Type(&id_text), None),
            ("u", IntegrationRef::Id(id), None),
            ("u", IntegrationRef::Id(id), Some(credential)),
        ];
        let mut seen = std::collections::HashSet::new();
        for (user, integration, selected) in cases {
            let mut key = String::from("left over");
            session_key(&mut key, project, user, integration, selected);
            assert!(seen.insert(key.clone()), "{key} repeats");
        }
        let (mut once, mut again) = (String::new(), String::new());
        session_key(&mut once, project, "u", IntegrationRef::Type("slack"), Some(credential));
        session_key(&mut again, project, "u", IntegrationRef::Type("slack"), Some(credential));
        assert_eq!(once, again);
    }
}
