//! Task records and call logs, written off the request path: calls hand a
//! record to a channel and return; one writer task stores them in batches
//! and logs each call. A clean shutdown drains the channel before it ends,
//! so no record of a finished call is lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_store::{Store, TaskRecord};

/// Records waiting to be written, at most; past that a record is dropped
/// with an error log (the database has been down for a long time).
const QUEUE: usize = 65_536;
/// Records per insert transaction.
const BATCH: usize = 512;
/// How long the writer waits for more records before a transaction.
const LINGER: Duration = Duration::from_millis(100);

/// Hands records to the writer task.
pub struct TaskRecorder {
    tx: std::sync::Mutex<Option<mpsc::Sender<TaskRecord>>>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl TaskRecorder {
    /// Starts the writer on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_batches(store, rx));
        Arc::new(Self { tx: std::sync::Mutex::new(Some(tx)), writer: tokio::sync::Mutex::new(Some(writer)) })
    }

    /// Queues one record; never waits.
    pub fn record(&self, record: TaskRecord) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(tx) = tx else {
            tracing::error!(request_id = %record.request_id, "task record after shutdown; not stored");
            return;
        };
        if let Err(e) = tx.try_send(record) {
            tracing::error!(error = %e, "task record queue full; record not stored");
        }
    }

    /// Stops taking records and waits until every queued one is stored.
    pub async fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = self.writer.lock().await.take() {
            let _ = writer.await;
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut rx: mpsc::Receiver<TaskRecord>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Gather for a moment: every commit syncs the database, so fewer,
        // larger transactions cost the request path far less.
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            let room = BATCH - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let mut delay = Duration::from_millis(100);
        loop {
            match store.insert_task_records(&batch).await {
                Ok(()) => break,
                Err(e) if rx.is_closed() && delay > Duration::from_secs(5) => {
                    tracing::error!(error = %e, lost = batch.len(), "task records could not be stored at shutdown");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, pending = batch.len(), "storing task records failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        for r in &batch {
            tracing::info!(
                target: "weft_proxy::calls",
                request_id = %r.request_id,
                project = %r.project_id,
                user = %r.user_id,
                method = %r.method,
                target = %r.target,
                status = r.status,
                outcome = %r.outcome,
                duration_us = r.duration_us,
                "proxy call"
            );
        }
        batch.clear();
    }
}
