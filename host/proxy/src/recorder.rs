//! Task records and call logs, written off the request path: a call appends
//! its record to a shared queue and returns; one writer task takes the
//! queue every [`LINGER`] (or as soon as a batch is full), stores it in
//! batches and logs each call. Appending wakes nobody until a batch is
//! full, so a call never pays for a thread switch. A clean shutdown drains
//! the queue before it ends, so no record of a finished call is lost.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use weft_store::{Store, TaskRecord};

/// Records waiting to be written, at most; past that a record is dropped
/// with an error log (the database has been down for a long time).
const QUEUE: usize = 65_536;
/// Records per insert transaction; a queue this long wakes the writer.
/// Each commit syncs the database to disk, so under load a commit holds
/// thousands of records (on SQLite one prepared insert, on PostgreSQL a
/// JSON array per thousand rows).
const BATCH: usize = 4096;
/// How long records wait for company before the writer takes them.
const LINGER: Duration = Duration::from_millis(100);

/// Hands records to the writer task. Dropping it (without a shutdown)
/// still lets the writer store what is queued and end.
pub struct TaskRecorder {
    shared: Arc<Shared>,
    writer: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

/// What the recorder and its writer share.
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the writer early: a full batch, or closing.
    wake: Notify,
}

struct Queue {
    /// Records waiting, their text fields moved out into `text`.
    records: Vec<Queued>,
    /// The text fields of every waiting record, back to back. A call's own
    /// strings are freed on its own thread as soon as they are copied here,
    /// and the writer builds (and frees) its copies on its thread: a string
    /// made on one thread and freed on another comes back to its allocator
    /// cold, which costs every later allocation of that size on the
    /// serving threads a cache miss.
    text: String,
    open: bool,
}

/// A record in the queue and where its text fields are in [`Queue::text`].
struct Queued {
    record: TaskRecord,
    user_id: Range<usize>,
    request_id: Range<usize>,
    target: Range<usize>,
}

impl Queue {
    /// Copies `field` into the shared text; where it is.
    fn put(&mut self, field: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(field);
        start..self.text.len()
    }
}

impl TaskRecorder {
    /// Starts the writer on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { records: Vec::new(), text: String::new(), open: true }),
            wake: Notify::new(),
        });
        let writer = tokio::spawn(write_batches(store, shared.clone()));
        Arc::new(Self { shared, writer: tokio::sync::Mutex::new(Some(writer)) })
    }

    /// Queues one record; never waits.
    pub fn record(&self, mut record: TaskRecord) {
        // Taken out now, freed on this thread once copied (see `Queue::text`).
        let fields = [
            std::mem::take(&mut record.user_id),
            std::mem::take(&mut record.request_id),
            std::mem::take(&mut record.target),
        ];
        let [user_id, request_id, target] = &fields;
        let mut queue = self.shared.lock();
        if !queue.open {
            drop(queue);
            tracing::error!(request_id = %request_id, "task record after shutdown; not stored");
            return;
        }
        if queue.records.len() >= QUEUE {
            drop(queue);
            tracing::error!(request_id = %request_id, "task record queue full; record not stored");
            return;
        }
        let (user_id, request_id, target) = (queue.put(user_id), queue.put(request_id), queue.put(target));
        queue.records.push(Queued { record, user_id, request_id, target });
        let batch_full = queue.records.len() == BATCH;
        drop(queue);
        if batch_full {
            self.shared.wake.notify_one();
        }
    }

    /// Stops taking records and waits until every queued one is stored.
    pub async fn shutdown(&self) {
        self.shared.close();
        if let Some(writer) = self.writer.lock().await.take() {
            let _ = writer.await;
        }
    }
}

impl Drop for TaskRecorder {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes no more records; the writer stores the rest and ends.
    fn close(&self) {
        self.lock().open = false;
        self.wake.notify_one();
    }

    fn is_open(&self) -> bool {
        self.lock().open
    }

    /// The queued records and whether more can come.
    fn take(&self) -> (Vec<TaskRecord>, bool) {
        let (queued, text, open) = {
            let mut queue = self.lock();
            // Room for as many as last time: a push under load rarely reallocates.
            let room = queue.records.len().min(BATCH);
            let text_room = queue.text.len().min(BATCH * 128);
            let queued = std::mem::replace(&mut queue.records, Vec::with_capacity(room));
            (queued, std::mem::replace(&mut queue.text, String::with_capacity(text_room)), queue.open)
        };
        let records = queued
            .into_iter()
            .map(|q| TaskRecord {
                user_id: text[q.user_id].to_owned(),
                request_id: text[q.request_id].to_owned(),
                target: text[q.target].to_owned(),
                ..q.record
            })
            .collect();
        (records, open)
    }
}

async fn write_batches(store: Arc<dyn Store>, recorder: Arc<Shared>) {
    loop {
        // Gathering costs the request path nothing and saves commits (each
        // syncs the database).
        tokio::select! {
            () = tokio::time::sleep(LINGER) => {}
            () = recorder.wake.notified() => {}
        }
        let (records, open) = recorder.take();
        for batch in records.chunks(BATCH) {
            store_batch(store.as_ref(), batch, &recorder).await;
            log_calls(batch);
        }
        // Closed before the take: nothing can have been queued since.
        if !open {
            return;
        }
    }
}

/// Stores `batch`, retrying with backoff while the database fails; at
/// shutdown it gives up (with an error naming the loss) after a few tries.
async fn store_batch(store: &dyn Store, batch: &[TaskRecord], recorder: &Shared) {
    let mut delay = Duration::from_millis(100);
    loop {
        match store.insert_task_records(batch).await {
            Ok(()) => return,
            Err(e) if !recorder.is_open() && delay > Duration::from_secs(5) => {
                tracing::error!(error = %e, lost = batch.len(), "task records could not be stored at shutdown");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, pending = batch.len(), "storing task records failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

fn log_calls(batch: &[TaskRecord]) {
    for r in batch {
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
}
