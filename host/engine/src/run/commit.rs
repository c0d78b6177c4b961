//! Group commit: the completions of steps that end at about the same time
//! are stored together, in one transaction.
//!
//! A completion is durable before anything follows from it (its successors
//! are queued in the same transaction), so storing one costs a flush to
//! disk: SQLite's `synchronous=FULL` commit, PostgreSQL's WAL flush. Stored
//! one per transaction, completions queue behind each other's flushes. Here
//! every worker hands its completions to the committers and goes on; a
//! committer stores whatever has arrived, up to
//! [`EngineSettings::group_commit`](super::EngineSettings::group_commit), in
//! one [`QueueStore::complete_steps`](weft_store::QueueStore::complete_steps)
//! (each completion still fenced on its own lease), and what arrives during
//! that transaction goes to the next committer
//! ([`EngineSettings::committers`](super::EngineSettings::committers), two by
//! default: with one, steps whose successors wait for a commit left the
//! database idle between transactions). Alone, a completion is stored at
//! once, so nothing waits for a batch to fill: batches grow only under load,
//! where they turn one flush per step into one flush per batch. The `queue`
//! benchmark measures both ways (`cargo xtask bench queue`).
//!
//! With `group_commit` at 1 there is no committer: each worker stores its
//! completions itself, one transaction each.

use tokio::sync::{mpsc, oneshot};
use weft_store::{Completed, Completion, ExecutionId, ExecutionStatus};

use super::{Engine, now};

/// A completion on its way to the store, and who waits for its result.
pub(crate) struct Pending {
    completion: Completion,
    execution: ExecutionId,
    stored: oneshot::Sender<weft_store::Result<Completed>>,
}

/// Where workers hand their completions.
#[derive(Clone)]
pub(crate) enum Completer {
    /// Each worker stores its own, one transaction per completion.
    Direct,
    /// To the committer.
    Grouped(mpsc::UnboundedSender<Pending>),
}

/// A completion handed over: resolves once it is stored (or refused).
pub(crate) enum Stored {
    /// Stored already.
    Done(weft_store::Result<Completed>),
    /// Waiting for the committer.
    Waiting(oneshot::Receiver<weft_store::Result<Completed>>),
}

impl Stored {
    /// The completion's result.
    pub(crate) async fn result(self) -> weft_store::Result<Completed> {
        match self {
            Self::Done(r) => r,
            // The committer only goes away once every worker has stopped.
            Self::Waiting(rx) => rx.await.unwrap_or(Err(weft_store::Error::Invalid("the committer stopped".into()))),
        }
    }
}

impl Completer {
    /// The completer `settings` ask for, with the receiving end the
    /// committer must be run on ([`Engine::commit`]) when grouped.
    pub(crate) fn new(group_commit: u32) -> (Self, Option<mpsc::UnboundedReceiver<Pending>>) {
        if group_commit <= 1 {
            return (Self::Direct, None);
        }
        // Unbounded, yet bounded in fact: a worker waits for the
        // completions of its batch before it claims again, so at most
        // `workers × batch` are ever in the channel.
        let (tx, rx) = mpsc::unbounded_channel();
        (Self::Grouped(tx), Some(rx))
    }

    /// Stores `completion` of a step of `execution`, or hands it to the
    /// committer; the answer resolves once it is stored.
    pub(crate) async fn complete(&self, engine: &Engine, completion: Completion, execution: ExecutionId) -> Stored {
        match self {
            Self::Direct => {
                let ends = ending(&completion);
                let result = engine.deps.store.complete_step(completion, now()).await;
                if let Ok(done) = &result {
                    engine.stored(execution, ends, done);
                }
                Stored::Done(result)
            }
            Self::Grouped(tx) => {
                let (stored, rx) = oneshot::channel();
                match tx.send(Pending { completion, execution, stored }) {
                    Ok(()) => Stored::Waiting(rx),
                    Err(_) => Stored::Done(Err(weft_store::Error::Invalid("the committer stopped".into()))),
                }
            }
        }
    }
}

/// The final status a completion gives its execution, if it ends it.
fn ending(c: &Completion) -> Option<ExecutionStatus> {
    let mut join = c.join.as_ref();
    let mut status = c.execution;
    while let Some(j) = join {
        status = status.or(j.finish);
        join = j.outer.as_deref();
    }
    status.filter(|s| s.is_final())
}

impl Engine {
    /// The committer: stores what the workers hand over, all that has
    /// arrived (up to `group_commit`) in one transaction, until every
    /// worker has dropped its [`Completer`].
    pub(crate) async fn commit(&self, rx: std::sync::Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>) {
        let max = usize::try_from(self.deps.settings.group_commit.max(1)).unwrap_or(usize::MAX);
        let mut batch = Vec::with_capacity(max.min(1024));
        while rx.lock().await.recv_many(&mut batch, max).await > 0 {
            // Executions in one order in every transaction, so committers
            // that store completions of the same executions at once wait
            // for each other's row locks instead of deadlocking; a stable
            // sort keeps each execution's completions in their order.
            batch.sort_by_key(|p: &Pending| p.execution);
            let mut completions = Vec::with_capacity(batch.len());
            let mut waiting = Vec::with_capacity(batch.len());
            for p in batch.drain(..) {
                waiting.push((p.execution, ending(&p.completion), p.stored));
                completions.push(p.completion);
            }
            let results = if completions.len() == 1 {
                let c = completions.pop().into_iter().next();
                vec![match c {
                    Some(c) => self.deps.store.complete_step(c, now()).await,
                    None => Ok(Completed::default()),
                }]
            } else {
                self.deps.store.complete_steps(completions, now()).await
            };
            for ((execution, ends, stored), result) in waiting.into_iter().zip(results) {
                if let Ok(done) = &result {
                    self.stored(execution, ends, done);
                }
                let _ = stored.send(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use weft_store::{Join, Outcome, ProjectId, StepRunId};

    fn completion() -> Completion {
        Completion {
            project: ProjectId::new(),
            id: StepRunId::new(),
            token: uuid::Uuid::new_v4(),
            outcome: Outcome::Succeeded { input: Value::Null, output: Value::Null },
            next: vec![],
            join: None,
            execution: None,
            response: None,
            tasks: 0,
            follow: None,
        }
    }

    #[test]
    fn a_completion_ends_its_execution_itself_or_through_its_joins() {
        let mut c = completion();
        assert_eq!(ending(&c), None);
        c.execution = Some(ExecutionStatus::Delayed);
        assert_eq!(ending(&c), None, "a delay does not end it");
        c.execution = Some(ExecutionStatus::Failed);
        assert_eq!(ending(&c), Some(ExecutionStatus::Failed));
        let mut c = completion();
        let outer = Join {
            step: "outer".into(),
            instance: String::new(),
            then: vec![],
            each: vec![],
            finish: Some(ExecutionStatus::Succeeded),
            outer: None,
        };
        c.join = Some(Join {
            step: "inner".into(),
            instance: "0".into(),
            then: vec![],
            each: vec![],
            finish: None,
            outer: Some(Box::new(outer)),
        });
        assert_eq!(ending(&c), Some(ExecutionStatus::Succeeded));
    }
}
