//! Signing keys, API keys and the operator key on SQLite.

use crate::error::{WriteContext, found};
use crate::keys::{check_api_key, check_signing_key, key_hash};
use crate::rows::{convert, one};
use crate::sql::sqlite as sql;
use crate::{
    ApiKey, ApiKeyId, Error, KeyStore, NewApiKey, NewSigningKey, ProjectId, Result, SigningKey, SigningKeyId,
    SqliteStore,
};
use async_trait::async_trait;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn add_signing_key(&self, project: ProjectId, new: NewSigningKey) -> Result<SigningKey> {
        check_signing_key(&new)?;
        let mut tx = self.begin_write().await?;
        let row = sql::insert_signing_key(project, &new)
            .fetch_one(&mut *tx)
            .await
            .on_write("the project already has a signing key with this kid", "project")?;
        tx.commit().await?;
        one(row)
    }

    async fn list_signing_keys(&self, project: ProjectId) -> Result<Vec<SigningKey>> {
        convert(sql::signing_keys(project).fetch_all(self.read()).await?)
    }

    async fn delete_signing_key(&self, project: ProjectId, id: SigningKeyId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sql::delete_signing_key(project, id).execute(&mut *tx).await?;
        tx.commit().await?;
        found(done.rows_affected(), "signing key")
    }

    async fn create_api_key(&self, project: ProjectId, new: NewApiKey) -> Result<ApiKey> {
        check_api_key(&new)?;
        let mut tx = self.begin_write().await?;
        let row = sql::insert_api_key(project, &new)
            .fetch_one(&mut *tx)
            .await
            .on_write("an API key with this hash already exists", "project")?;
        tx.commit().await?;
        one(row)
    }

    async fn list_api_keys(&self, project: ProjectId) -> Result<Vec<ApiKey>> {
        convert(sql::api_keys(project).fetch_all(self.read()).await?)
    }

    async fn find_api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let row = sql::live_api_key_by_hash(key_hash(hash)?).fetch_optional(self.read()).await?;
        row.map(one).transpose()
    }

    async fn touch_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sql::touch_api_key(project, id).execute(&mut *tx).await?;
        tx.commit().await?;
        found(done.rows_affected(), "API key")
    }

    async fn revoke_api_key(&self, project: ProjectId, id: ApiKeyId) -> Result<ApiKey> {
        let mut tx = self.begin_write().await?;
        let row = sql::revoke_api_key(project, id).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        one(row.ok_or(Error::NotFound("API key"))?)
    }

    async fn set_operator_key_hash(&self, hash: &str) -> Result<bool> {
        let hash = key_hash(hash)?;
        let mut tx = self.begin_write().await?;
        let done = sql::set_operator_key_hash(hash).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn verify_operator_key_hash(&self, hash: &str) -> Result<bool> {
        Ok(sql::operator_key_hash_is(key_hash(hash)?).fetch_one(self.read()).await?)
    }
}
