//! Signing keys, API keys and the operator key on PostgreSQL.

use crate::error::{WriteContext, found};
use crate::keys::{check_api_key, check_signing_key, key_hash};
use crate::rows::{convert, one};
use crate::sql::postgres as sql;
use crate::{
    ApiKey, ApiKeyId, Error, KeyStore, NewApiKey, NewSigningKey, PgStore, ProjectId, Result, SigningKey, SigningKeyId,
};
use async_trait::async_trait;

#[async_trait]
impl KeyStore for PgStore {
    async fn add_signing_key(&self, project: ProjectId, new: NewSigningKey) -> Result<SigningKey> {
        check_signing_key(&new)?;
        let row = sql::insert_signing_key(project, &new)
            .fetch_one(self.pool())
            .await
            .on_write("the project already has a signing key with this kid", "project")?;
        one(row)
    }

    async fn list_signing_keys(&self, project: ProjectId) -> Result<Vec<SigningKey>> {
        convert(sql::signing_keys(project).fetch_all(self.pool()).await?)
    }

    async fn delete_signing_key(&self, project: ProjectId, id: SigningKeyId) -> Result<()> {
        let done = sql::delete_signing_key(project, id).execute(self.pool()).await?;
        found(done.rows_affected(), "signing key")
    }

    async fn create_api_key(&self, project: ProjectId, new: NewApiKey) -> Result<ApiKey> {
        check_api_key(&new)?;
        let row = sql::insert_api_key(project, &new)
            .fetch_one(self.pool())
            .await
            .on_write("an API key with this hash already exists", "project")?;
        one(row)
    }

    async fn list_api_keys(&self, project: ProjectId) -> Result<Vec<ApiKey>> {
        convert(sql::api_keys(project).fetch_all(self.pool()).await?)
    }

    async fn find_api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let row = sql::live_api_key_by_hash(key_hash(hash)?).fetch_optional(self.pool()).await?;
        row.map(one).transpose()
    }

    async fn touch_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<()> {
        let done = sql::touch_api_key(project, id).execute(self.pool()).await?;
        found(done.rows_affected(), "API key")
    }

    async fn revoke_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<ApiKey> {
        let row = sql::revoke_api_key(project, id).fetch_optional(self.pool()).await?;
        one(row.ok_or(Error::NotFound("API key"))?)
    }

    async fn set_operator_key_hash(&self, hash: &str) -> Result<bool> {
        let done = sql::set_operator_key_hash(key_hash(hash)?).execute(self.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn verify_operator_key_hash(&self, hash: &str) -> Result<bool> {
        Ok(sql::operator_key_hash_is(key_hash(hash)?).fetch_one(self.pool()).await?)
    }
}
