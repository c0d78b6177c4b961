//! Replaying an execution from its failed step (the Task History's
//! `?from=failed`, a Weft extension of the reference's replay).
//!
//! A whole replay needs nothing of its own: the engine starts a new
//! execution of the same version with the trigger's recorded output, as any
//! trigger does ([`QueueStore::start_execution`](crate::QueueStore::start_execution)).
//! Resuming instead copies a FAILED execution into a new one, in one
//! transaction: the trigger and every step that succeeded keep their
//! recorded input and output (later steps read them as they would have),
//! and the failed step is queued again, with a fresh idempotency key as
//! every step of the new execution has. The old execution is not touched.
//!
//! Only a failure outside every fan-out can be resumed: inside one, the
//! instances still running when the execution failed may have ended
//! without queuing what followed them, so a copy could wait for ever. Such
//! an execution is refused ([`Error::Invalid`]) with a message that says to
//! replay it whole.

mod sql;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{ExecutionId, ProjectId, Result};

/// Replays of executions from where they failed.
#[async_trait]
pub trait ReplayStore {
    /// Starts a new execution that takes up `from`, a FAILED execution of
    /// `project`, at its failed step (see the module docs). `NotFound` for
    /// an unknown execution, `Conflict` for one that did not fail,
    /// `Invalid` for a failure inside a fan-out.
    async fn resume_failed(&self, project: ProjectId, from: ExecutionId, now: OffsetDateTime) -> Result<ExecutionId>;
}
