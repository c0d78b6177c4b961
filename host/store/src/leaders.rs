//! Leadership of deployment-wide duties: of every process on one database,
//! one holds a duty (the scheduler) at a time, for a lease it renews; when
//! it stops renewing (killed, frozen, cut off), another takes over once the
//! lease has run out. The holder records its progress (`mark`), which
//! survives it, so the next holder goes on where it stopped.
//!
//! One statement takes or renews a duty, so two processes can never both
//! hold it: the row changes hands only when its lease has run out.

mod sql;

use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// A duty held: what [`LeaderStore::lead`] answers its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lead {
    /// Until when it is held, unless renewed.
    pub until: OffsetDateTime,
    /// The latest mark: the caller's own when it renewed with one, else
    /// the one the previous holder left (`None` if none ever did).
    pub mark: Option<OffsetDateTime>,
    /// When the previous holder's lease ran out, if another held the duty
    /// before: a takeover soon after it is a failover; long after it, no
    /// process held the duty in between (downtime).
    pub lapsed: Option<OffsetDateTime>,
}

/// Leases of deployment-wide duties.
#[async_trait]
pub trait LeaderStore {
    /// Takes the duty `name` for `holder` (a process's random id) until
    /// `now + hold`, or renews it if `holder` holds it, setting its mark to
    /// `mark` when given. `None` while another holder's lease runs.
    async fn lead(
        &self,
        name: &str,
        holder: Uuid,
        now: OffsetDateTime,
        hold: Duration,
        mark: Option<OffsetDateTime>,
    ) -> Result<Option<Lead>>;

    /// Gives the duty up, if `holder` holds it (a clean shutdown): another
    /// process takes it at once instead of waiting for the lease to run out.
    async fn resign(&self, name: &str, holder: Uuid, now: OffsetDateTime) -> Result<()>;
}
