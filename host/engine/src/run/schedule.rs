//! Scheduler triggers at run time: every deployed workflow with a Scheduler
//! trigger runs, for each enablement of it (a user, and the account they
//! enabled it with), at each time its cron expression names in that user's
//! time zone ([`crate::schedule`]), with the firing time as the trigger's
//! output.
//!
//! # One leader
//!
//! Every process runs this loop, but only the one that holds the
//! scheduler's lease ([`weft_store::LeaderStore`], duty [`DUTY`]) reads the
//! schedules and fires them; the others stand by, asking for the lease
//! every [`REFRESH`]. The leader renews it (for
//! [`EngineSettings::scheduler_lease`](super::EngineSettings::scheduler_lease))
//! and records with it its mark: the instant through which it has run
//! every firing due. A leader that dies or freezes stops renewing; once its
//! lease has run out, a standby takes over.
//!
//! Each firing is still claimed in the store: its execution is started
//! with the once-key `cron:<user>:<account>:<unix seconds>`
//! (`QueueStore::start_execution_once`, unique per workflow), so a frozen
//! leader that wakes up and fires before it learns it lost the lease, or a
//! new leader that fires again what the old one ran but had not marked,
//! starts nothing twice.
//!
//! The leader re-reads the deployed scheduled workflows, their enablements
//! and their users (disabled users, Workflow Permissions, the time zone in
//! their metadata) every [`REFRESH`], and between reads sleeps until the
//! next firing that is due.
//!
//! # Firings missed
//!
//! A leader remembers, per enablement, the latest firing it handled. A
//! leader that takes over from another within [`REFRESH`] of that one's
//! lease running out (a failover: the standbys were there) goes on from the
//! mark the other left: every firing after it runs, oldest first, so a
//! killed leader loses none. Otherwise no process held the lease for a
//! while (downtime), and when the new leader first meets an enablement (at
//! start, or once it was enabled or a new version deployed), it runs only
//! the *latest* firing at or before now, as a catch-up, and skips every
//! older one: after any downtime at most one catch-up execution per
//! enablement, and none if that firing ran already (the once-key). A firing
//! at or before the enablement or the deploy of the running version never
//! runs. While it leads, a process runs every firing since the last one it
//! handled, oldest first, unless more than [`MAX_BURST`] fell due at once
//! (a stalled store): then only the latest. A user whose time zone changes
//! starts afresh in the new one, with no catch-up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use weft_store::{CredentialId, ExecutionId, NewExecution, ProjectId, TriggerKey, WorkflowId};

use super::{Engine, TriggerError, first_steps, now};
use crate::definition::TriggerKind;
use crate::plan::Plan;
use crate::schedule::{Schedule, local_rfc3339};

/// How often the scheduled workflows, their enablements and users are read
/// again, and how often a standby asks for the lead.
pub(crate) const REFRESH: Duration = Duration::from_secs(1);

/// The scheduler's duty in [`weft_store::LeaderStore`].
pub const DUTY: &str = "scheduler";

/// Firings of one enablement run in one pass at most; when more are due,
/// only the latest runs.
pub(crate) const MAX_BURST: usize = 60;

/// One enablement of a deployed scheduled workflow, as last read.
struct Entry {
    project: ProjectId,
    workflow: WorkflowId,
    version: u32,
    integration: String,
    user: String,
    credential: Option<CredentialId>,
    plan: Arc<Plan>,
    schedule: Arc<Schedule>,
    zone: Tz,
    /// Firings at or before this never run: the enablement or the deploy
    /// of the version, whichever is later.
    since: OffsetDateTime,
    /// The latest firing this process handled; `None` until it first
    /// looked.
    done: Option<OffsetDateTime>,
}

type EntryKey = (WorkflowId, u32, String, Option<CredentialId>);

/// What an enablement runs at an instant, and what it has then handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Due {
    /// The firings to run, oldest first.
    pub(crate) fire: Vec<OffsetDateTime>,
    /// The latest firing handled after them.
    pub(crate) done: Option<OffsetDateTime>,
    /// Firings skipped (missed, see the module docs).
    pub(crate) skipped: usize,
}

/// The firings `schedule` runs at `now` in `zone` (see the module docs):
/// `done` is the latest firing handled before, `None` when first met.
pub(crate) fn due(
    schedule: &Schedule,
    zone: Tz,
    since: OffsetDateTime,
    done: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Due {
    let Some(latest) = schedule.latest(zone, now) else { return Due { fire: Vec::new(), done, skipped: 0 } };
    let after = match done {
        Some(d) if latest <= d => return Due { fire: Vec::new(), done, skipped: 0 },
        Some(d) => d.max(since),
        None => {
            let fire = if latest > since { vec![latest] } else { Vec::new() };
            return Due { fire, done: Some(latest), skipped: 0 };
        }
    };
    let mut fire = Vec::new();
    let mut t = after;
    while let Some(next) = schedule.next_after(zone, t).filter(|n| *n <= latest) {
        fire.push(next);
        if fire.len() > MAX_BURST {
            break;
        }
        t = next;
    }
    if fire.len() > MAX_BURST {
        // Counting them all could take long: the skipped count is a floor.
        return Due { fire: vec![latest], done: Some(latest), skipped: fire.len() };
    }
    Due { fire, done: Some(latest), skipped: 0 }
}

impl Engine {
    /// The scheduler loop (see the module docs), until `stop`: leads or
    /// stands by.
    pub(crate) async fn run_schedules(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut lead = Leadership::new(self.deps.settings.scheduler_lease);
        while !*stop.borrow() {
            match lead.hold(self).await {
                Some(from) => self.lead_schedules(&mut lead, from, &mut stop).await,
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(REFRESH) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
        lead.resign(self).await;
    }

    /// Fires the schedules while this process leads; `from` is the mark a
    /// failed-over leader left, for the enablements first met.
    async fn lead_schedules(
        &self,
        lead: &mut Leadership,
        from: Option<OffsetDateTime>,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) {
        let mut entries: HashMap<EntryKey, Entry> = HashMap::new();
        let mut read_at: Option<tokio::time::Instant> = None;
        let mut from = from;
        while !*stop.borrow() {
            if lead.hold(self).await.is_none() {
                return;
            }
            if read_at.is_none_or(|t| t.elapsed() >= REFRESH) {
                match self.read_schedules(std::mem::take(&mut entries), from).await {
                    Ok(read) => {
                        entries = read;
                        // Only the first read takes up the old leader's mark.
                        from = None;
                    }
                    Err((kept, e)) => {
                        entries = kept;
                        tracing::warn!(error = %e, "reading scheduled workflows failed; retrying");
                    }
                }
                read_at = Some(tokio::time::Instant::now());
            }
            let at = now();
            let mut started = false;
            let mut handled = true;
            for entry in entries.values_mut() {
                let (s, h) = self.fire_due(entry, at).await;
                started |= s;
                handled &= h;
            }
            if started {
                self.wake();
            }
            if handled && read_at.is_some() {
                lead.mark = Some(at);
            }
            // Until the next firing of any enablement, the next read, or
            // the lease's renewal.
            let until_read = read_at.map_or(Duration::ZERO, |t| REFRESH.saturating_sub(t.elapsed()));
            let at = now();
            let next = entries
                .values()
                .filter_map(|e| e.schedule.next_after(e.zone, e.done.unwrap_or(at).max(at)))
                .min()
                .map(|n| Duration::try_from(n - at).unwrap_or_default());
            // After a failed renewal, the next try waits a little.
            let renew = lead.renew_in().max(Duration::from_millis(100));
            let wait = next.map_or(until_read, |n| n.min(until_read)).min(renew).max(Duration::from_millis(5));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Runs what `entry` has due at `at`: whether it started an execution,
    /// and whether it handled every firing due (none failed to start).
    async fn fire_due(&self, entry: &mut Entry, at: OffsetDateTime) -> (bool, bool) {
        let due = due(&entry.schedule, entry.zone, entry.since, entry.done, at);
        if due.skipped > 0 {
            tracing::warn!(project = %entry.project, workflow = %entry.workflow, user = %entry.user, skipped = due.skipped, "scheduled firings missed; only the latest runs");
        }
        let mut started = false;
        for firing in due.fire {
            match self.start_firing(entry, firing).await {
                Ok(id) => started |= id.is_some(),
                Err(e) => {
                    // Not handled: the next pass tries this firing again.
                    tracing::warn!(project = %entry.project, workflow = %entry.workflow, error = %e, "starting a scheduled execution failed; retrying");
                    return (started, false);
                }
            }
            entry.done = Some(firing);
        }
        entry.done = due.done;
        (started, true)
    }

    /// Starts `entry`'s execution for `firing`, unless one ran for it
    /// already (in any process).
    async fn start_firing(&self, entry: &Entry, firing: OffsetDateTime) -> Result<Option<ExecutionId>, TriggerError> {
        let trigger = &entry.plan.workflow().trigger;
        let at = firing.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let output = json!({
            "firedAt": at,
            "localTime": local_rfc3339(firing, entry.zone),
            "timezone": entry.zone.name(),
        });
        let first = first_steps(&entry.plan);
        let new = NewExecution {
            project: entry.project,
            workflow: entry.workflow,
            version: entry.version,
            integration: entry.integration.clone(),
            user: Some(entry.user.clone()),
            credential: entry.credential,
            trigger_step: trigger.id.clone(),
            trigger_kind: trigger.kind.history_type().to_owned(),
            trigger_output: output,
            first,
        };
        let account = entry.credential.map(|c| c.to_string()).unwrap_or_default();
        let once = format!("cron:{}:{account}:{}", entry.user, firing.unix_timestamp());
        let started = self.deps.store.start_execution_once(new, &once, now()).await?;
        if let Some(id) = started {
            tracing::debug!(project = %entry.project, workflow = %entry.workflow, execution = %id, "scheduled execution started");
        }
        Ok(started)
    }

    /// The enablements of every deployed scheduled workflow, keeping what
    /// `old` handled, those first met handled through `from` when given;
    /// on failure, `old` back with the error.
    async fn read_schedules(
        &self,
        mut old: HashMap<EntryKey, Entry>,
        from: Option<OffsetDateTime>,
    ) -> Result<HashMap<EntryKey, Entry>, (HashMap<EntryKey, Entry>, TriggerError)> {
        let mut read = HashMap::new();
        match self.read_into(&mut old, &mut read, from).await {
            Ok(()) => Ok(read),
            Err(e) => {
                old.extend(read);
                Err((old, e))
            }
        }
    }

    async fn read_into(
        &self,
        old: &mut HashMap<EntryKey, Entry>,
        read: &mut HashMap<EntryKey, Entry>,
        from: Option<OffsetDateTime>,
    ) -> Result<(), TriggerError> {
        let store = &self.deps.store;
        let key = TriggerKey { kind: "scheduler".into(), key: None };
        let mut users: HashMap<(ProjectId, String), Option<Map<String, Value>>> = HashMap::new();
        for project in store.list_projects().await? {
            for w in store.deployed_with_trigger(project.id, &key).await? {
                let Some(version) = w.deployed_version else { continue };
                let plan = self.plan_of(project.id, w.id, version).await.map_err(TriggerError::Workflow)?;
                let TriggerKind::Scheduler(t) = &plan.workflow().trigger.kind else { continue };
                let schedule = match Schedule::new(&t.cron, t.timezone.as_deref(), "/trigger") {
                    Ok(s) => Arc::new(s),
                    Err(problems) => {
                        tracing::warn!(project = %project.id, workflow = %w.id, ?problems, "a deployed schedule cannot be read; it does not run");
                        continue;
                    }
                };
                let deployed = store.get_workflow_version(project.id, w.id, version).await?.created_at;
                for e in store.workflow_enablements(project.id, w.id, None).await? {
                    let meta = match users.get(&(project.id, e.user.clone())) {
                        Some(m) => m.clone(),
                        None => {
                            // `None`: the user is disabled, and runs nothing.
                            let m = match store.get_user(project.id, &e.user).await {
                                Ok(u) => (!u.disabled).then_some(u.metadata),
                                Err(weft_store::Error::NotFound(_)) => Some(Map::new()),
                                Err(err) => return Err(err.into()),
                            };
                            users.insert((project.id, e.user.clone()), m.clone());
                            m
                        }
                    };
                    let Some(meta) = meta else { continue };
                    if !crate::permissions::permits(plan.workflow(), &e.user, &meta) {
                        continue;
                    }
                    let zone = schedule.zone_for(&meta);
                    let k = (w.id, version, e.user.clone(), e.credential);
                    let done = match old.remove(&k) {
                        Some(before) if before.zone == zone => before.done,
                        // A new zone starts afresh: no catch-up in it.
                        Some(_) => schedule.latest(zone, now()),
                        None => from,
                    };
                    let entry = Entry {
                        project: project.id,
                        workflow: w.id,
                        version,
                        integration: w.integration.clone(),
                        user: e.user,
                        credential: e.credential,
                        plan: plan.clone(),
                        schedule: schedule.clone(),
                        zone,
                        since: e.enabled_at.max(deployed),
                        done,
                    };
                    read.insert(k, entry);
                }
            }
        }
        Ok(())
    }
}

/// This process's hold on the scheduler's duty.
struct Leadership {
    /// This process, to the store.
    holder: uuid::Uuid,
    /// The lease asked for at each renewal.
    hold: Duration,
    /// Until when this process leads, as the store last answered.
    until: Option<OffsetDateTime>,
    /// The instant through which this leader ran every firing due.
    mark: Option<OffsetDateTime>,
}

impl Leadership {
    fn new(hold: Duration) -> Self {
        Self { holder: uuid::Uuid::new_v4(), hold: hold.max(REFRESH * 2), until: None, mark: None }
    }

    /// How long until the lease should be renewed: once a third of it has
    /// passed.
    fn renew_in(&self) -> Duration {
        let Some(until) = self.until else { return Duration::ZERO };
        let left = Duration::try_from(until - now()).unwrap_or_default();
        left.saturating_sub(self.hold * 2 / 3)
    }

    /// Takes or renews the lead when due. `None` while another process
    /// leads; once this one leads, `Some` with, on the call that took over
    /// from a leader whose lease had just run out, that leader's mark.
    async fn hold(&mut self, engine: &Engine) -> Option<Option<OffsetDateTime>> {
        if self.until.is_some() && self.renew_in() > Duration::ZERO {
            return Some(None);
        }
        let at = now();
        let mark = self.until.and(self.mark);
        match engine.deps.store.lead(DUTY, self.holder, at, self.hold, mark).await {
            Ok(Some(lead)) => {
                let took_over = self.until.is_none();
                self.until = Some(lead.until);
                if !took_over {
                    return Some(None);
                }
                // Just after the last holder's lease ran out: a failover.
                let failover =
                    lead.lapsed.is_some_and(|l| at - l <= time::Duration::try_from(REFRESH * 2).unwrap_or_default());
                let from = lead.mark.filter(|_| failover);
                tracing::info!(holder = %self.holder, resumes_from = ?from, "this process now runs the scheduler");
                Some(from)
            }
            Ok(None) => {
                if self.until.take().is_some() {
                    tracing::warn!(holder = %self.holder, "another process took over the scheduler");
                }
                self.mark = None;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "the scheduler's lease could not be renewed");
                // Still the leader while the lease runs; the next pass asks again.
                if self.until.is_some_and(|u| u > now()) {
                    return Some(None);
                }
                self.until = None;
                self.mark = None;
                None
            }
        }
    }

    /// Gives the lead up on the way out, so a standby takes over at once.
    async fn resign(&self, engine: &Engine) {
        if self.until.is_some()
            && let Err(e) = engine.deps.store.resign(DUTY, self.holder, now()).await
        {
            tracing::warn!(error = %e, "the scheduler's lease could not be given up");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> OffsetDateTime {
        OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn every_ten_seconds() -> (Schedule, Tz) {
        (Schedule::new("*/10 * * * * *", Some("UTC"), "/trigger").unwrap(), chrono_tz::UTC)
    }

    #[test]
    fn first_met_only_the_latest_missed_firing_runs() {
        let (s, z) = every_ten_seconds();
        let since = at("2026-12-07T10:00:05Z");
        // Down from 10:00:15 to 10:01:03: 10:00:20 … 10:01:00 were missed.
        let d = due(&s, z, since, None, at("2026-12-07T10:01:03Z"));
        assert_eq!(d.fire, [at("2026-12-07T10:01:00Z")]);
        assert_eq!(d.done, Some(at("2026-12-07T10:01:00Z")));
        // Nothing more until the next firing.
        let d = due(&s, z, since, d.done, at("2026-12-07T10:01:09.9Z"));
        assert!(d.fire.is_empty());
        let d = due(&s, z, since, d.done, at("2026-12-07T10:01:10Z"));
        assert_eq!(d.fire, [at("2026-12-07T10:01:10Z")]);
    }

    #[test]
    fn nothing_before_the_enablement_or_deploy_runs() {
        let (s, z) = every_ten_seconds();
        let d = due(&s, z, at("2026-12-07T10:00:03Z"), None, at("2026-12-07T10:00:04Z"));
        assert!(d.fire.is_empty());
        assert_eq!(d.done, Some(at("2026-12-07T10:00:00Z")));
        let d = due(&s, z, at("2026-12-07T10:00:00Z"), None, at("2026-12-07T10:00:00.5Z"));
        assert!(d.fire.is_empty(), "a firing at the enablement itself does not run");
    }

    #[test]
    fn a_running_process_runs_every_firing_since_the_last_unless_too_many() {
        let (s, z) = every_ten_seconds();
        let since = at("2026-12-07T09:00:00Z");
        let d = due(&s, z, since, Some(at("2026-12-07T10:00:00Z")), at("2026-12-07T10:00:35Z"));
        assert_eq!(d.fire, [at("2026-12-07T10:00:10Z"), at("2026-12-07T10:00:20Z"), at("2026-12-07T10:00:30Z")]);
        assert_eq!(d.skipped, 0);
        let d = due(&s, z, since, Some(at("2026-12-07T10:00:00Z")), at("2026-12-07T12:00:00Z"));
        assert_eq!(d.fire, [at("2026-12-07T12:00:00Z")]);
        assert!(d.skipped > MAX_BURST);
    }

    #[test]
    fn zones_move_the_instant() {
        let s = Schedule::new("0 0 9 * * *", Some("{{user.meta.tz}}"), "/trigger").unwrap();
        let since = at("2026-12-06T00:00:00Z");
        let now = at("2026-12-07T08:30:00Z");
        let paris = s.zone_for(serde_json::json!({"tz": "Europe/Paris"}).as_object().unwrap());
        let la = s.zone_for(&Map::new());
        // Paris's 9:00 was 08:00 UTC; Los Angeles's is 17:00 UTC.
        let d = due(&s, paris, since, Some(at("2026-12-07T07:00:00Z")), now);
        assert_eq!(d.fire, [at("2026-12-07T08:00:00Z")]);
        let d = due(&s, la, since, Some(at("2026-12-06T17:00:00Z")), now);
        assert!(d.fire.is_empty());
        let d = due(&s, la, since, d.done, at("2026-12-07T17:00:00Z"));
        assert_eq!(d.fire, [at("2026-12-07T17:00:00Z")]);
    }
}
