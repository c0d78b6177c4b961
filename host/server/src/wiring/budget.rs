//! The governor's shared budget, kept in the store: on PostgreSQL several
//! processes share one deployment's rate limits (see
//! `weft_egress::governor::shared` and `weft_store::RateBudgetStore`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use weft_egress::governor::{BudgetError, SharedBudget, SliceAsk, SliceGrant};
use weft_store::{BudgetAsk, Store};

/// [`SharedBudget`] on the store.
pub struct StoreBudget(pub Arc<dyn Store>);

fn at(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

#[async_trait::async_trait]
impl SharedBudget for StoreBudget {
    async fn take(&self, ask: SliceAsk<'_>) -> Result<SliceGrant, BudgetError> {
        let now = at(ask.now);
        let grant = self
            .0
            .take_budget(BudgetAsk {
                key: ask.key,
                requests: ask.requests,
                window: ask.window,
                want: ask.want,
                lease: ask.lease,
                now,
                release: ask.release.map(|(id, used)| (uuid::Uuid::from_u128(id), used)),
            })
            .await?;
        let retry_after = grant.retry_at.map(|r| Duration::try_from(r - now).unwrap_or_default());
        Ok(SliceGrant { id: grant.id.map(|id| id.as_u128()), granted: grant.granted, retry_after })
    }

    async fn pause(&self, key: &str, until: SystemTime) -> Result<(), BudgetError> {
        Ok(self.0.pause_budget(key, at(until), OffsetDateTime::now_utc()).await?)
    }

    async fn pauses(&self) -> Result<Vec<(String, SystemTime)>, BudgetError> {
        let pauses = self.0.budget_pauses(OffsetDateTime::now_utc()).await?;
        Ok(pauses.into_iter().map(|(k, t)| (k, SystemTime::from(t))).collect())
    }
}
