//! Signing keys, API keys and the operator key in SQL: the rows, and
//! [`KeyStore`] for both backends.

use super::{check_api_key, check_signing_key, key_hash};
use crate::backends::for_both_backends;
use crate::error::{WriteContext, found};
use crate::ids::now;
use crate::rows::{Ts, convert, one};
use crate::{
    ApiKey, ApiKeyId, Error, KeyStore, NewApiKey, NewSigningKey, ProjectId, Result, SigningKey, SigningKeyId,
    SigningKeyMaterial,
};
use async_trait::async_trait;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct SigningKeyRow {
    id: Uuid,
    project_id: Uuid,
    kind: String,
    kid: Option<String>,
    public_key_pem: Option<String>,
    jwks_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    created_at: Ts,
}

/// The columns [`SigningKeyRow`] decodes.
macro_rules! signing_key_columns {
    () => {
        "id, project_id, kind, kid, public_key_pem, jwks_url, issuer, audience, created_at"
    };
}

impl TryFrom<SigningKeyRow> for SigningKey {
    type Error = Error;
    fn try_from(r: SigningKeyRow) -> Result<Self> {
        let material = match (r.kind.as_str(), r.public_key_pem, r.jwks_url) {
            ("generated", Some(public_key_pem), None) => SigningKeyMaterial::Generated { public_key_pem },
            ("uploaded", Some(public_key_pem), None) => SigningKeyMaterial::Uploaded { public_key_pem },
            ("jwks", None, Some(url)) => SigningKeyMaterial::Jwks { url },
            _ => return Err(Error::corrupt("inconsistent signing key row")),
        };
        Ok(SigningKey {
            id: r.id.into(),
            project_id: r.project_id.into(),
            kid: r.kid,
            material,
            issuer: r.issuer,
            audience: r.audience,
            created_at: r.created_at.0,
        })
    }
}

/// The bind values of a signing key's material: (public key, JWKS URL).
fn material_columns(m: &SigningKeyMaterial) -> (Option<&str>, Option<&str>) {
    match m {
        SigningKeyMaterial::Generated { public_key_pem } | SigningKeyMaterial::Uploaded { public_key_pem } => {
            (Some(public_key_pem), None)
        }
        SigningKeyMaterial::Jwks { url } => (None, Some(url)),
    }
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Uuid,
    project_id: Uuid,
    name: String,
    role: String,
    key_prefix: String,
    created_at: Ts,
    last_used_at: Option<Ts>,
    revoked_at: Option<Ts>,
}

/// The columns [`ApiKeyRow`] decodes.
macro_rules! api_key_columns {
    () => {
        "id, project_id, name, role, key_prefix, created_at, last_used_at, revoked_at"
    };
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = Error;
    fn try_from(r: ApiKeyRow) -> Result<Self> {
        Ok(ApiKey {
            id: r.id.into(),
            project_id: r.project_id.into(),
            name: r.name,
            role: r.role.parse().map_err(|_| Error::corrupt("unknown API key role"))?,
            key_prefix: r.key_prefix,
            created_at: r.created_at.0,
            last_used_at: r.last_used_at.map(|t| t.0),
            revoked_at: r.revoked_at.map(|t| t.0),
        })
    }
}

for_both_backends! {
    #[async_trait]
    impl KeyStore for Db {
        async fn add_signing_key(&self, project: ProjectId, new: NewSigningKey) -> Result<SigningKey> {
            check_signing_key(&new)?;
            let (pem, jwks_url) = material_columns(&new.material);
            let mut w = self.write_one().await?;
            let row: SigningKeyRow = sqlx::query_as(concat!(
                "INSERT INTO signing_keys \
                 (id, project_id, kind, kid, public_key_pem, jwks_url, issuer, audience, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
                signing_key_columns!()
            ))
            .bind(SigningKeyId::new().as_uuid())
            .bind(project.as_uuid())
            .bind(new.material.kind())
            .bind(new.kid.as_deref())
            .bind(pem)
            .bind(jwks_url)
            .bind(new.issuer.as_deref())
            .bind(new.audience.as_deref())
            .bind(Ts(now()))
            .fetch_one(&mut *w)
            .await
            .on_write("the project already has a signing key with this kid", "project")?;
            w.commit().await?;
            one(row)
        }

        async fn list_signing_keys(&self, project: ProjectId) -> Result<Vec<SigningKey>> {
            let rows: Vec<SigningKeyRow> = sqlx::query_as(concat!(
                "SELECT ",
                signing_key_columns!(),
                " FROM signing_keys WHERE project_id = $1 ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn delete_signing_key(&self, project: ProjectId, id: SigningKeyId) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("DELETE FROM signing_keys WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "signing key")
        }

        async fn create_api_key(&self, project: ProjectId, new: NewApiKey) -> Result<ApiKey> {
            check_api_key(&new)?;
            let mut w = self.write_one().await?;
            let row: ApiKeyRow = sqlx::query_as(concat!(
                "INSERT INTO api_keys (id, project_id, name, role, key_prefix, key_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                api_key_columns!()
            ))
            .bind(ApiKeyId::new().as_uuid())
            .bind(project.as_uuid())
            .bind(&new.name)
            .bind(new.role.as_str())
            .bind(&new.key_prefix)
            .bind(&new.key_hash)
            .bind(Ts(now()))
            .fetch_one(&mut *w)
            .await
            .on_write("an API key with this hash already exists", "project")?;
            w.commit().await?;
            one(row)
        }

        async fn list_api_keys(&self, project: ProjectId) -> Result<Vec<ApiKey>> {
            // Revoked keys included, oldest first.
            let rows: Vec<ApiKeyRow> = sqlx::query_as(concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE project_id = $1 ORDER BY created_at, id"
            ))
            .bind(project.as_uuid())
            .fetch_all(self.read())
            .await?;
            convert(rows)
        }

        async fn find_api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
            // In any project: the key itself says which.
            let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
            ))
            .bind(key_hash(hash)?)
            .fetch_optional(self.read())
            .await?;
            row.map(one).transpose()
        }

        async fn touch_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<()> {
            let mut w = self.write_one().await?;
            let done = sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE project_id = $1 AND id = $2")
                .bind(project.as_uuid())
                .bind(id.as_uuid())
                .bind(Ts(now()))
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            found(done.rows_affected(), "API key")
        }

        async fn revoke_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<ApiKey> {
            // A key revoked already keeps its first revocation time.
            let mut w = self.write_one().await?;
            let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
                 WHERE project_id = $1 AND id = $2 RETURNING ",
                api_key_columns!()
            ))
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(Ts(now()))
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            one(row.ok_or(Error::NotFound("API key"))?)
        }

        async fn set_operator_key_hash(&self, hash: &str) -> Result<bool> {
            let hash = key_hash(hash)?;
            let mut w = self.write_one().await?;
            let done = sqlx::query(
                "INSERT INTO operator_key (singleton, key_hash, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (singleton) DO NOTHING",
            )
            .bind(hash)
            .bind(Ts(now()))
            .execute(&mut *w)
            .await?;
            w.commit().await?;
            Ok(done.rows_affected() == 1)
        }

        async fn verify_operator_key_hash(&self, hash: &str) -> Result<bool> {
            Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM operator_key WHERE singleton = 1 AND key_hash = $1)")
                .bind(key_hash(hash)?)
                .fetch_one(self.read())
                .await?)
        }
    }
}
