//! Group commit of provider events (a performance module): the events of
//! concurrent webhook deliveries are stored in one transaction, and the
//! events routed together are marked routed in one, instead of two
//! transactions per delivery. On SQLite (`synchronous=FULL`) each
//! transaction is a flush; under load this turns two flushes per delivery
//! into two per batch. `cargo xtask bench actions` measures it
//! (`webhook_ingest_per_sec`).
//!
//! Nothing is weakened: a delivery is answered only after the transaction
//! holding its events committed, and an event is marked routed only after
//! the executions it starts are stored. A batch that fails is stored again
//! one delivery at a time, so each delivery gets its own outcome.

use std::sync::{Arc, Weak};

use tokio::sync::{mpsc, oneshot};
use weft_store::{IntegrationId, NewTriggerEvent, ProjectId, Store, TriggerEventId};

use super::{Engine, now};

/// Deliveries stored in one transaction at most.
const MAX_BATCH: usize = 64;

/// Events routed (and then marked) together at most.
const MAX_ROUTED: usize = 256;

/// One delivery waiting for its transaction.
struct Pending {
    project: ProjectId,
    integration: IntegrationId,
    events: Vec<NewTriggerEvent>,
    reply: oneshot::Sender<weft_store::Result<Vec<Option<TriggerEventId>>>>,
}

/// The writer and the router, started on first use.
pub(crate) struct Ingest {
    writer: mpsc::Sender<Pending>,
    router: mpsc::UnboundedSender<(ProjectId, TriggerEventId)>,
}

impl Ingest {
    fn start(store: Arc<dyn Store>, engine: Weak<Engine>) -> Self {
        let (writer, pending) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write(store, pending));
        let (router, routed) = mpsc::unbounded_channel();
        tokio::spawn(route(engine, routed));
        Self { writer, router }
    }
}

/// Stores what the writer is handed, as many deliveries per transaction
/// as are waiting.
async fn write(store: Arc<dyn Store>, mut pending: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let deliveries = batch.iter().map(|p| (p.project, p.integration, p.events.clone())).collect();
        match store.record_event_batches(deliveries, now()).await {
            Ok(ids) => {
                for (p, ids) in batch.drain(..).zip(ids) {
                    let _ = p.reply.send(Ok(ids));
                }
            }
            Err(_) => {
                for p in batch.drain(..) {
                    let stored = store.record_events(p.project, p.integration, p.events, now()).await;
                    let _ = p.reply.send(stored);
                }
            }
        }
    }
}

/// Routes the events it is handed, then marks those routed in one
/// transaction; an event whose routing failed stays unrouted for the sweep.
async fn route(engine: Weak<Engine>, mut events: mpsc::UnboundedReceiver<(ProjectId, TriggerEventId)>) {
    let mut batch = Vec::with_capacity(MAX_ROUTED);
    while events.recv_many(&mut batch, MAX_ROUTED).await > 0 {
        let Some(engine) = engine.upgrade() else { return };
        let mut routed = Vec::with_capacity(batch.len());
        for (project, id) in batch.drain(..) {
            if engine.route_unmarked(project, id).await {
                routed.push((project, id));
            }
        }
        if let Err(e) = engine.deps.store.mark_events_routed(&routed, now()).await {
            tracing::warn!(error = %e, events = routed.len(), "routed trigger events could not be marked; the sweep routes them again (once-keys keep it harmless)");
        }
    }
}

impl Engine {
    fn ingest(self: &Arc<Self>) -> &Ingest {
        self.ingest.get_or_init(|| Ingest::start(self.deps.store.clone(), Arc::downgrade(self)))
    }

    /// Stores the events of one delivery (as
    /// [`TriggerStore::record_events`](weft_store::TriggerStore::record_events)),
    /// in a transaction shared with the deliveries arriving meanwhile: the
    /// new events' ids, `None` for duplicates.
    pub async fn store_events(
        self: &Arc<Self>,
        project: ProjectId,
        integration: IntegrationId,
        events: Vec<NewTriggerEvent>,
    ) -> weft_store::Result<Vec<Option<TriggerEventId>>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, stored) = oneshot::channel();
        let pending = Pending { project, integration, events, reply };
        if let Err(mpsc::error::SendError(p)) = self.ingest().writer.send(pending).await {
            // The writer is gone (shutting down): store it alone.
            return self.deps.store.record_events(p.project, p.integration, p.events, now()).await;
        }
        match stored.await {
            Ok(result) => result,
            // Answered 500: the provider delivers again.
            Err(_) => Err(weft_store::Error::Conflict("the event writer stopped".into())),
        }
    }

    /// Routes stored events in the background, in batches (see the module
    /// docs): the caller (a webhook delivery) answers without waiting.
    pub fn route_in_background(self: &Arc<Self>, project: ProjectId, ids: Vec<TriggerEventId>) {
        let router = &self.ingest().router;
        for id in ids {
            // A closed router (shutting down) leaves the event to the sweep.
            let _ = router.send((project, id));
        }
    }
}
