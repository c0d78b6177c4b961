//! [`LeaderStore`] for both backends: the same statements.

use super::{Lead, LeaderStore};
use crate::backends::for_both_backends;
use crate::rows::Ts;
use crate::{Error, Result};
use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

for_both_backends! {
    #[async_trait]
    impl LeaderStore for Db {
        async fn lead(
            &self,
            name: &str,
            holder: Uuid,
            now: OffsetDateTime,
            hold: Duration,
            mark: Option<OffsetDateTime>,
        ) -> Result<Option<Lead>> {
            crate::check::label("duty name", name, 100)?;
            let hold = time::Duration::try_from(hold).map_err(|_| Error::Invalid("a lease too long".into()))?;
            let until = now.checked_add(hold).ok_or_else(|| Error::Invalid("a lease too long".into()))?;
            let mut w = self.write_one().await?;
            // The holder renews (and moves its mark); anyone takes a row
            // whose lease ran out, keeping the mark the last holder left.
            let row: Option<(Ts, Option<Ts>, Option<Ts>)> = sqlx::query_as(
                "INSERT INTO leaders (name, holder, until, mark) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until, \
                 mark = CASE WHEN leaders.holder = excluded.holder THEN COALESCE(excluded.mark, leaders.mark) \
                 ELSE leaders.mark END, \
                 lapsed = CASE WHEN leaders.holder = excluded.holder THEN leaders.lapsed ELSE leaders.until END \
                 WHERE leaders.holder = excluded.holder OR leaders.until < $5 \
                 RETURNING until, mark, lapsed",
            )
            .bind(name)
            .bind(holder)
            .bind(Ts(until))
            .bind(mark.map(Ts))
            .bind(Ts(now))
            .fetch_optional(&mut *w)
            .await?;
            w.commit().await?;
            Ok(row.map(|(until, mark, lapsed)| Lead { until: until.0, mark: mark.map(|m| m.0), lapsed: lapsed.map(|l| l.0) }))
        }

        async fn resign(&self, name: &str, holder: Uuid, now: OffsetDateTime) -> Result<()> {
            let mut w = self.write_one().await?;
            sqlx::query("UPDATE leaders SET until = $3 WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .bind(Ts(now))
                .execute(&mut *w)
                .await?;
            w.commit().await?;
            Ok(())
        }
    }
}
