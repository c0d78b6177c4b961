//! The ActionKit log writer: a call hands its entry over and returns; one
//! task on the main runtime takes the queue every [`LINGER`] (or once a
//! batch is full), redacts the parameters of error entries and stores the
//! batch. So a slow or failing store delays entries, never calls. The
//! pattern is `weft_proxy::TaskRecorder`'s, without its text packing: an
//! ActionKit call runs a plugin, so one allocation more per call does not
//! show.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use weft_credentials::Credentials;
use weft_store::{ActionLog, ActionLogStatus, Store};

/// Entries waiting, at most; past that an entry is dropped with an error
/// log (the database has been failing for a long time).
const QUEUE: usize = 16_384;
/// Entries per insert transaction; a queue this long wakes the writer.
const BATCH: usize = 512;
/// How long entries wait for company before the writer takes them.
const LINGER: Duration = Duration::from_millis(100);

/// Hands ActionKit log entries to the writer task.
pub struct ActionLogger {
    shared: Arc<Shared>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
}

struct Queue {
    entries: Vec<ActionLog>,
    open: bool,
}

impl ActionLogger {
    /// Starts the writer on the current runtime. `credentials` redacts the
    /// user's account secrets out of error entries' parameters.
    pub fn start(store: Arc<dyn Store>, credentials: Arc<Credentials>) -> Arc<Self> {
        let shared =
            Arc::new(Shared { queue: Mutex::new(Queue { entries: Vec::new(), open: true }), wake: Notify::new() });
        let writer = tokio::spawn(write_batches(store, credentials, shared.clone()));
        Arc::new(Self { shared, writer: tokio::sync::Mutex::new(Some(writer)) })
    }

    /// Queues one entry; never waits.
    pub(crate) fn log(&self, entry: ActionLog) {
        let mut queue = self.shared.lock();
        if !queue.open || queue.entries.len() >= QUEUE {
            let why = if queue.open { "queue full" } else { "after shutdown" };
            drop(queue);
            tracing::error!(trace_id = %entry.trace_id, why, "ActionKit log entry not stored");
            return;
        }
        queue.entries.push(entry);
        let full = queue.entries.len() == BATCH;
        drop(queue);
        if full {
            self.shared.wake.notify_one();
        }
    }

    /// Stops taking entries and waits until every queued one is stored.
    pub async fn shutdown(&self) {
        self.shared.close();
        if let Some(writer) = self.writer.lock().await.take() {
            let _ = writer.await;
        }
    }
}

impl Drop for ActionLogger {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self) {
        self.lock().open = false;
        self.wake.notify_one();
    }

    fn is_open(&self) -> bool {
        self.lock().open
    }

    fn take(&self) -> (Vec<ActionLog>, bool) {
        let mut queue = self.lock();
        (std::mem::take(&mut queue.entries), queue.open)
    }
}

async fn write_batches(store: Arc<dyn Store>, credentials: Arc<Credentials>, shared: Arc<Shared>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(LINGER) => {}
            () = shared.wake.notified() => {}
        }
        let (mut entries, open) = shared.take();
        for entry in entries.iter_mut().filter(|e| e.status == ActionLogStatus::Error) {
            redact(store.as_ref(), &credentials, entry).await;
        }
        for batch in entries.chunks(BATCH) {
            store_batch(store.as_ref(), batch, &shared).await;
        }
        // Closed before the take: nothing can have been queued since.
        if !open {
            return;
        }
    }
}

/// Takes the secrets of every account the user has in the project out of
/// an error entry's parameters and message (which may quote a parameter),
/// as a run's result is redacted. What cannot be checked (the store or
/// vault failing) is not kept.
async fn redact(store: &dyn Store, credentials: &Credentials, entry: &mut ActionLog) {
    let mut kept = serde_json::json!([entry.parameters.take(), entry.error_message.take()]);
    let accounts = store.list_user_credentials(entry.project_id, &entry.user_id).await;
    let mut checked = accounts.as_ref().map(|_| ()).map_err(ToString::to_string);
    for account in accounts.iter().flatten() {
        if let Err(e) = credentials.redact(entry.project_id, account.id, &mut kept).await {
            checked = Err(e.to_string());
            break;
        }
    }
    if let Err(e) = checked {
        tracing::warn!(error = %e, trace_id = %entry.trace_id, "an ActionKit log entry's parameters are withheld");
        entry.error_message = Some("(withheld: could not be checked for secrets)".into());
        return;
    }
    if let Value::Array(mut kept) = kept {
        entry.error_message = kept.pop().and_then(|m| m.as_str().map(str::to_owned));
        entry.parameters = kept.pop().filter(|p| !p.is_null());
    }
}

/// Stores `batch`, retrying with backoff while the database fails; a batch
/// the store refuses as invalid is stored entry by entry, dropping only the
/// refused ones. At shutdown it gives up after a few tries.
async fn store_batch(store: &dyn Store, batch: &[ActionLog], shared: &Shared) {
    let mut delay = Duration::from_millis(100);
    loop {
        match store.insert_action_logs(batch).await {
            Ok(()) => return,
            Err(weft_store::Error::Invalid(_)) if batch.len() > 1 => {
                for one in batch {
                    Box::pin(store_batch(store, std::slice::from_ref(one), shared)).await;
                }
                return;
            }
            Err(weft_store::Error::Invalid(why)) => {
                tracing::error!(why, trace_id = %batch[0].trace_id, "ActionKit log entry refused by the store");
                return;
            }
            Err(e) if !shared.is_open() && delay > Duration::from_secs(5) => {
                tracing::error!(error = %e, lost = batch.len(), "ActionKit log entries could not be stored at shutdown");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, pending = batch.len(), "storing ActionKit log entries failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}
