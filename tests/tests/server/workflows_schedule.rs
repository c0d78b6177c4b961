//! Scheduler triggers end to end in the real server (issue 18, acceptance
//! 5): a schedule runs for each user who enabled its workflow and for no
//! one else, in each user's time zone (from their metadata, else
//! `America/Los_Angeles`); two `weft serve` processes on one PostgreSQL
//! database run each firing once between them, and when the leading one
//! is killed the other takes over losing no firing; after downtime only the
//! latest missed firing runs; bad cron expressions and zones are refused
//! with the field's path and a reason by the admin API and by `weft
//! workflow validate`.
//!
//! Every wait is bounded; "nothing ran" is checked once something that
//! runs in the same pass of the scheduler did.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use weft_store::{ExecutionQuery, ProjectId, Store, WorkflowId};

/// The HTTP side of one project on one server.
struct Api {
    base: String,
    client: reqwest::Client,
    project: String,
    key: String,
}

impl Api {
    async fn call(&self, method: Method, path: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(bearer);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Creates `yaml` as a workflow: the status and the answer.
    async fn create(&self, yaml: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/admin/projects/{}/workflows", self.base, self.project))
            .bearer_auth(&self.key)
            .header("content-type", "application/yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Creates and deploys `yaml`; the workflow's id.
    async fn deploy(&self, yaml: &str) -> String {
        let (status, created) = self.create(yaml).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/admin/projects/{}/workflows/{id}/deploy", self.project);
        let (status, deployed) = self.call(Method::POST, &path, &self.key, None).await;
        assert_eq!(status, 200, "{deployed}");
        id
    }

    async fn enable(&self, token: &str, workflow: &str) {
        let path = format!("/projects/{}/sdk/workflows/{workflow}", self.project);
        let (status, body) = self.call(Method::POST, &path, token, None).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn set_meta(&self, token: &str, meta: Value) {
        let path = format!("/projects/{}/sdk/me", self.project);
        let (status, body) = self.call(Method::PATCH, &path, token, Some(json!({ "meta": meta }))).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// An in-process server on SQLite or PostgreSQL with a project, its admin
/// key and the key its users' tokens are signed with.
struct Local {
    app: TestApp,
    _pg: Option<PgDatabase>,
    api: Api,
    pem: String,
}

impl Local {
    async fn start(postgres: bool) -> Self {
        let (app, pg) = spawn_app_on(postgres).await;
        let (project, pem) = project_with_key(app.store.as_ref(), "Schedules").await;
        let key = api_key(app.store.as_ref(), &project, weft_store::Role::Admin).await;
        let api = Api { base: app.base.clone(), client: app.client.clone(), project, key };
        Self { app, _pg: pg, api, pem }
    }

    fn token(&self, user: &str) -> String {
        weft_auth::mint_user_token(&self.pem, Some("k"), user, now_unix(), 600).unwrap()
    }
}

/// One scheduled execution as stored.
#[derive(Debug, Clone)]
struct Fired {
    user: String,
    trigger_kind: String,
    /// The trigger's output.
    output: Value,
}

impl Fired {
    fn at(&self) -> String {
        self.output["firedAt"].as_str().unwrap_or_default().to_owned()
    }
}

/// The executions of `workflow`, oldest first, with their trigger outputs.
async fn fired(store: &dyn Store, project: &str, workflow: &str) -> Vec<Fired> {
    let project: ProjectId = project.parse().unwrap();
    let workflow: WorkflowId = workflow.parse().unwrap();
    let mut all = Vec::new();
    loop {
        let query = ExecutionQuery {
            workflow: Some(workflow),
            ascending: true,
            offset: all.len() as u64,
            limit: 100,
            ..Default::default()
        };
        let page = store.list_executions(project, &query).await.unwrap();
        if page.executions.is_empty() {
            break;
        }
        all.extend(page.executions);
    }
    let mut out = Vec::new();
    for e in all {
        let steps = store.execution_steps(project, e.id).await.unwrap();
        let output = steps.iter().find(|s| s.step == "trigger").and_then(|s| s.output.clone()).unwrap_or_default();
        out.push(Fired { user: e.user.unwrap_or_default(), trigger_kind: e.trigger_kind, output });
    }
    out
}

/// Waits (at most `limit`) until `done` holds of `workflow`'s executions.
async fn wait_for(
    store: &dyn Store,
    project: &str,
    workflow: &str,
    limit: Duration,
    what: &str,
    done: impl Fn(&[Fired]) -> bool,
) -> Vec<Fired> {
    let deadline = Instant::now() + limit;
    loop {
        let all = fired(store, project, workflow).await;
        if done(&all) {
            return all;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}: {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(all: &[Fired], user: &str) -> usize {
    all.iter().filter(|f| f.user == user).count()
}

/// A scheduled workflow with one short step.
fn scheduled(name: &str, cron: &str, timezone: &str) -> String {
    format!(
        "name: {name}\nintegration: custom.clock\ntrigger: {{type: scheduler, cron: '{cron}', timezone: '{timezone}'}}\n\
         steps:\n  - {{id: tick, type: delay, value: 0.05, unit: SECONDS}}\n"
    )
}

#[tokio::test]
async fn an_every_second_schedule_runs_for_each_enabling_user_on_sqlite() {
    every_second(false).await;
}

#[tokio::test]
async fn an_every_second_schedule_runs_for_each_enabling_user_on_postgresql() {
    every_second(true).await;
}

async fn every_second(postgres: bool) {
    let l = Local::start(postgres).await;
    let store = l.app.store.as_ref();
    let id = l.api.deploy(&scheduled("Every second", "* * * * * *", "UTC")).await;
    for user in ["u1", "u2"] {
        l.api.enable(&l.token(user), &id).await;
    }
    // u3 is a user of the project who did not enable it.
    l.api.set_meta(&l.token("u3"), json!({"plan": "free"})).await;

    let all = wait_for(store, &l.api.project, &id, Duration::from_secs(30), "three firings each", |all| {
        count(all, "u1") >= 3 && count(all, "u2") >= 3
    })
    .await;
    assert_eq!(count(&all, "u3"), 0, "{all:?}");
    for user in ["u1", "u2"] {
        let times: Vec<String> = all.iter().filter(|f| f.user == user).map(Fired::at).collect();
        let distinct: BTreeSet<&String> = times.iter().collect();
        assert_eq!(distinct.len(), times.len(), "each firing once: {times:?}");
        for t in &times {
            let at = OffsetDateTime::parse(t, &Rfc3339).unwrap();
            assert_eq!(at.nanosecond(), 0, "firings are whole seconds: {t}");
        }
    }
    let first = &all[0];
    assert_eq!(first.trigger_kind, "TRIGGER/CRON");
    assert_eq!(first.output["timezone"], "UTC", "{first:?}");
    assert!(first.output["localTime"].as_str().unwrap().ends_with("+00:00"), "{first:?}");

    // The executions run their steps.
    let project: ProjectId = l.api.project.parse().unwrap();
    let query = ExecutionQuery { workflow: Some(id.parse().unwrap()), limit: 100, ..Default::default() };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !store
        .list_executions(project, &query)
        .await
        .unwrap()
        .executions
        .iter()
        .any(|e| e.status == weft_store::ExecutionStatus::Succeeded)
    {
        assert!(Instant::now() < deadline, "no scheduled execution succeeded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn each_users_time_zone_from_metadata_moves_the_firing_instant_on_sqlite() {
    user_time_zones(false).await;
}

#[tokio::test]
async fn each_users_time_zone_from_metadata_moves_the_firing_instant_on_postgresql() {
    user_time_zones(true).await;
}

/// Every second of one hour of the day, in each user's zone: the hour that
/// it is now in UTC. A user in a zone at UTC+0 is in it, one in Tokyo
/// (UTC+9) is not, and one with no zone in their metadata runs in Los
/// Angeles (UTC-8 or -7), so not either, until they move to a UTC+0 zone.
async fn user_time_zones(postgres: bool) {
    let l = Local::start(postgres).await;
    let store = l.app.store.as_ref();
    let mut now = OffsetDateTime::now_utc();
    if now.minute() == 59 && now.second() >= 30 {
        // Not across an hour's end.
        tokio::time::sleep(Duration::from_secs(u64::from(61 - now.second()))).await;
        now = OffsetDateTime::now_utc();
    }
    let cron = format!("* * {} * * *", now.hour());
    let id = l.api.deploy(&scheduled("This hour", &cron, "{{user.meta.timezone}}")).await;
    let (abidjan, tokyo, plain) = (l.token("abidjan"), l.token("tokyo"), l.token("plain"));
    l.api.set_meta(&abidjan, json!({"timezone": "Africa/Abidjan"})).await;
    l.api.set_meta(&tokyo, json!({"timezone": "Asia/Tokyo"})).await;
    for token in [&abidjan, &tokyo, &plain] {
        l.api.enable(token, &id).await;
    }

    let all = wait_for(store, &l.api.project, &id, Duration::from_secs(30), "the UTC+0 user's firings", |all| {
        count(all, "abidjan") >= 2
    })
    .await;
    assert_eq!((count(&all, "tokyo"), count(&all, "plain")), (0, 0), "{all:?}");
    let f = all.iter().find(|f| f.user == "abidjan").unwrap();
    assert_eq!(f.output["timezone"], "Africa/Abidjan", "{f:?}");
    assert!(f.output["localTime"].as_str().unwrap().ends_with("+00:00"), "{f:?}");

    // The user without a zone moves to one at UTC+0: their schedule follows.
    l.api.set_meta(&plain, json!({"timezone": "Etc/UTC"})).await;
    let all = wait_for(store, &l.api.project, &id, Duration::from_secs(30), "the moved user's firing", |all| {
        count(all, "plain") >= 1
    })
    .await;
    assert_eq!(count(&all, "tokyo"), 0, "{all:?}");
    let f = all.iter().find(|f| f.user == "plain").unwrap();
    assert_eq!(f.output["timezone"], "Etc/UTC", "{f:?}");
}

/// A deployment of `weft serve` processes on one data directory and
/// database, set up with the CLI.
struct Binary {
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    env: Vec<(&'static str, String)>,
    project: String,
    key: String,
}

impl Binary {
    fn new(postgres: bool) -> Self {
        let dir = data_dir_with(&[]);
        let pg = postgres.then(PgDatabase::create);
        let env: Vec<(&'static str, String)> = pg.iter().map(|pg| ("WEFT__DATABASE__URL", pg.url())).collect();
        let created = weft_cli_env(dir.path(), &env, &["project", "create", "--name", "Clock"]);
        let project = created.split_whitespace().nth(2).expect("project id").to_owned();
        let key = weft_cli_env(dir.path(), &env, &["key", "create", "--project", &project]);
        let key = key.lines().nth(1).expect("key line").trim().to_owned();
        Self { dir, pg, env, project, key }
    }

    fn token(&self, user: &str) -> String {
        let args = ["token", "mint", "--project", &self.project, "--user", user];
        weft_cli_env(self.dir.path(), &self.env, &args).trim().to_owned()
    }

    async fn serve(&self) -> (tokio::process::Child, Api) {
        let (child, _, base) = start_binary_env(self.dir.path(), &self.env).await;
        let api = Api { base, client: reqwest::Client::new(), project: self.project.clone(), key: self.key.clone() };
        (child, api)
    }

    /// The test's own connection to the database.
    async fn store(&self) -> std::sync::Arc<dyn Store> {
        let location = match &self.pg {
            Some(pg) => pg.url(),
            None => self.dir.path().join(weft_store::DEFAULT_SQLITE_FILE).display().to_string(),
        };
        weft_store::open(&location).await.unwrap()
    }
}

/// Two processes see every firing due; the store's claim lets one run it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgresql_database_run_each_firing_once() {
    let b = Binary::new(true);
    let (mut one, a) = b.serve().await;
    let (mut two, other) = b.serve().await;
    let id = a.deploy(&scheduled("Both", "* * * * * *", "Europe/Paris")).await;
    other.enable(&b.token("u1"), &id).await;
    a.enable(&b.token("u2"), &id).await;
    let store = b.store().await;
    wait_for(store.as_ref(), &b.project, &id, Duration::from_secs(40), "five firings each", |all| {
        count(all, "u1") >= 5 && count(all, "u2") >= 5
    })
    .await;
    one.kill().await.unwrap();
    two.kill().await.unwrap();
    let listed = fired(store.as_ref(), &b.project, &id).await;
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in &listed {
        *per.entry((f.user.clone(), f.at())).or_default() += 1;
    }
    let twice: Vec<_> = per.iter().filter(|(_, runs)| **runs > 1).collect();
    assert!(twice.is_empty(), "firings run more than once: {twice:?}");
    assert!(listed.iter().all(|f| f.output["timezone"] == "Europe/Paris"), "{listed:?}");
    // Every second between a user's first and last firing ran.
    for user in ["u1", "u2"] {
        let secs: Vec<i64> = listed
            .iter()
            .filter(|f| f.user == user)
            .map(|f| OffsetDateTime::parse(&f.at(), &Rfc3339).unwrap().unix_timestamp())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let span = secs.last().unwrap() - secs.first().unwrap() + 1;
        assert_eq!(span, secs.len() as i64, "{user}: no second skipped: {secs:?}");
    }
}

/// The leader is killed: the standby takes over once the leader's lease
/// ran out and goes on from the mark the leader left, so no firing is lost
/// and none runs twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_scheduler_leader_is_replaced_and_no_firing_is_lost_on_postgresql() {
    let mut b = Binary::new(true);
    b.env.push(("WEFT__WORKFLOWS__SCHEDULER_LEASE_MS", "2000".to_owned()));
    let (mut leader, a) = b.serve().await;
    let holder = || b.pg.as_ref().unwrap().sql("SELECT holder FROM leaders WHERE name = 'scheduler'");
    // The first process leads before the second starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while holder().is_empty() {
        assert!(Instant::now() < deadline, "no process took the scheduler's lead");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first_holder = holder();
    let (mut standby, _) = b.serve().await;
    let id = a.deploy(&scheduled("Failover", "* * * * * *", "UTC")).await;
    a.enable(&b.token("u1"), &id).await;
    let store = b.store().await;
    wait_for(store.as_ref(), &b.project, &id, Duration::from_secs(20), "three firings", |all| count(all, "u1") >= 3)
        .await;
    leader.kill().await.unwrap();
    let killed = OffsetDateTime::now_utc().unix_timestamp();
    let secs = |all: &[Fired]| -> Vec<i64> {
        all.iter().map(|f| OffsetDateTime::parse(&f.at(), &Rfc3339).unwrap().unix_timestamp()).collect()
    };
    wait_for(store.as_ref(), &b.project, &id, Duration::from_secs(30), "firings after the failover", |all| {
        secs(all).iter().any(|s| *s >= killed + 6)
    })
    .await;
    standby.kill().await.unwrap();
    assert_ne!(holder(), first_holder, "the standby took over");
    let listed = fired(store.as_ref(), &b.project, &id).await;
    let all = secs(&listed);
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "no firing ran twice: {all:?}");
    let (first, last) = (*distinct.first().unwrap(), *distinct.last().unwrap());
    assert!(first < killed && last >= killed + 6, "{all:?}");
    assert_eq!((last - first + 1) as usize, distinct.len(), "no second lost across the failover: {distinct:?}");
}

#[tokio::test]
async fn after_downtime_only_the_latest_missed_firing_runs_on_sqlite() {
    missed_firings(false).await;
}

#[tokio::test]
async fn after_downtime_only_the_latest_missed_firing_runs_on_postgresql() {
    missed_firings(true).await;
}

/// A schedule that fires twice, 8 and 12 seconds from now (and then a
/// minute later each), while the only process is down from before the
/// first to after the second: the new process runs the second as a
/// catch-up, and never the first.
async fn missed_firings(postgres: bool) {
    let b = Binary::new(postgres);
    let (mut process, api) = b.serve().await;
    let token = b.token("u1");
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (first, second) = (t0 + time::Duration::seconds(8), t0 + time::Duration::seconds(12));
    let cron = format!("{},{} * * * * *", first.second(), second.second());
    let id = api.deploy(&scheduled("Twice a minute", &cron, "UTC")).await;
    api.enable(&token, &id).await;
    process.kill().await.unwrap();
    assert!(OffsetDateTime::now_utc() < first, "set up before the first firing");
    let store = b.store().await;
    let restart = second + time::Duration::seconds(2);
    tokio::time::sleep(Duration::try_from(restart - OffsetDateTime::now_utc()).unwrap_or_default()).await;
    assert!(fired(store.as_ref(), &b.project, &id).await.is_empty(), "nothing ran while down");

    let (mut process, _api) = b.serve().await;
    let all =
        wait_for(store.as_ref(), &b.project, &id, Duration::from_secs(20), "the catch-up", |all| !all.is_empty()).await;
    // The catch-up decision covers both missed firings in one pass; give
    // the process a few more passes all the same.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = fired(store.as_ref(), &b.project, &id).await;
    process.kill().await.unwrap();
    let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    let times: Vec<String> = again.iter().map(Fired::at).collect();
    assert_eq!(times, [at(second)], "only the latest missed firing ran: {all:?} then {again:?}");
}

#[tokio::test]
async fn bad_schedules_are_refused_with_their_path_on_sqlite() {
    bad_schedules(false).await;
}

#[tokio::test]
async fn bad_schedules_are_refused_with_their_path_on_postgresql() {
    bad_schedules(true).await;
}

async fn bad_schedules(postgres: bool) {
    let l = Local::start(postgres).await;
    let cases = [
        ("five fields", scheduled("A", "0 9 * * *", "UTC"), "/trigger/cron", "has 5 fields"),
        ("minute 61", scheduled("B", "0 61 9 * * *", "UTC"), "/trigger/cron", "not a valid cron expression"),
        ("never", scheduled("C", "0 0 0 30 2 *", "UTC"), "/trigger/cron", "never fires"),
        ("unknown zone", scheduled("D", "0 0 9 * * *", "Mars/Olympus"), "/trigger/timezone", "not an IANA time zone"),
        ("bad template", scheduled("E", "0 0 9 * * *", "{{user.userId}}"), "/trigger/timezone", "{{user.meta."),
    ];
    let files = tempfile::tempdir().unwrap();
    for (name, yaml, path, reason) in &cases {
        let (status, body) = l.api.create(yaml).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_WORKFLOW")), "{name}: {body}");
        let problems = body["meta"]["problems"].as_array().unwrap();
        let hit = problems.iter().find(|p| p["path"] == *path).unwrap_or_else(|| panic!("{name}: {body}"));
        assert!(hit["reason"].as_str().unwrap().contains(reason), "{name}: {hit}");

        let file = files.path().join(format!("{}.yaml", name.replace(' ', "-")));
        std::fs::write(&file, yaml).unwrap();
        let out = std::process::Command::new(weft_binary())
            .args(["workflow", "validate", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(&format!("at {path}")) && stderr.contains(reason), "{name}: {stderr}");
    }
    // A good one, with the default zone, is taken.
    let good = "name: Good\nintegration: custom.clock\ntrigger: {type: scheduler, cron: '0 0 12 * * MON'}\n\
                steps:\n  - {id: tick, type: delay, value: 1, unit: SECONDS}\n";
    let (status, body) = l.api.create(good).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["definition"]["trigger"]["cron"], "0 0 12 * * MON", "{body}");
}
