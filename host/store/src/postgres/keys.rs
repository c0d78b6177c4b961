//! Signing keys, API keys and the operator key on PostgreSQL.

use crate::error::WriteContext;
use crate::ids::now;
use crate::keys::{check_api_key, check_signing_key, key_hash};
use crate::rows::{ApiKeyRow, SigningKeyRow, Ts, api_key_columns, convert, material_columns, one, signing_key_columns};
use crate::{
    ApiKey, ApiKeyId, Error, KeyStore, NewApiKey, NewSigningKey, PgStore, ProjectId, Result, SigningKey, SigningKeyId,
};
use async_trait::async_trait;

#[async_trait]
impl KeyStore for PgStore {
    async fn add_signing_key(&self, project: ProjectId, new: NewSigningKey) -> Result<SigningKey> {
        check_signing_key(&new)?;
        let (pem, jwks_url) = material_columns(&new.material);
        let row: SigningKeyRow = sqlx::query_as(concat!(
            "INSERT INTO signing_keys (id, project_id, kind, kid, public_key_pem, jwks_url, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
            signing_key_columns!()
        ))
        .bind(SigningKeyId::new().as_uuid())
        .bind(project.as_uuid())
        .bind(new.material.kind())
        .bind(new.kid.as_deref())
        .bind(pem)
        .bind(jwks_url)
        .bind(Ts(now()))
        .fetch_one(self.pool())
        .await
        .on_write("the project already has a signing key with this kid", "project")?;
        one(row)
    }

    async fn list_signing_keys(&self, project: ProjectId) -> Result<Vec<SigningKey>> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            signing_key_columns!(),
            " FROM signing_keys WHERE project_id = $1 ORDER BY created_at, id"
        ))
        .bind(project.as_uuid())
        .fetch_all(self.pool())
        .await?;
        convert(rows)
    }

    async fn delete_signing_key(&self, project: ProjectId, id: SigningKeyId) -> Result<()> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE project_id = $1 AND id = $2")
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("signing key"));
        }
        Ok(())
    }

    async fn create_api_key(&self, project: ProjectId, new: NewApiKey) -> Result<ApiKey> {
        check_api_key(&new)?;
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
        .fetch_one(self.pool())
        .await
        .on_write("an API key with this hash already exists", "project")?;
        one(row)
    }

    async fn list_api_keys(&self, project: ProjectId) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE project_id = $1 ORDER BY created_at, id"
        ))
        .bind(project.as_uuid())
        .fetch_all(self.pool())
        .await?;
        convert(rows)
    }

    async fn find_api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash(hash)?)
        .fetch_optional(self.pool())
        .await?;
        row.map(one).transpose()
    }

    async fn touch_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<()> {
        let done = sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE project_id = $1 AND id = $2")
            .bind(project.as_uuid())
            .bind(id.as_uuid())
            .bind(Ts(now()))
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("API key"));
        }
        Ok(())
    }

    async fn revoke_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<ApiKey> {
        let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE project_id = $1 AND id = $2 RETURNING ",
            api_key_columns!()
        ))
        .bind(project.as_uuid())
        .bind(id.as_uuid())
        .bind(Ts(now()))
        .fetch_optional(self.pool())
        .await?;
        one(row.ok_or(Error::NotFound("API key"))?)
    }

    async fn set_operator_key_hash(&self, hash: &str) -> Result<bool> {
        let hash = key_hash(hash)?;
        let done = sqlx::query(
            "INSERT INTO operator_key (singleton, key_hash, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (singleton) DO NOTHING",
        )
        .bind(hash)
        .bind(Ts(now()))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn verify_operator_key_hash(&self, hash: &str) -> Result<bool> {
        let found: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM operator_key WHERE singleton = 1 AND key_hash = $1)")
                .bind(key_hash(hash)?)
                .fetch_one(self.pool())
                .await?;
        Ok(found)
    }
}
