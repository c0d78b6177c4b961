//! Tenancy as a property (TESTING.md C7-97): random sequences of connects,
//! disconnects and proxy calls by random users of two projects, checked
//! against a model after every step. Whatever the sequence, a proxy call
//! presents the caller's own account's key and nobody else's, an answer
//! never holds another user's or project's secret, a disconnect takes effect
//! on the very next call, and a refused call never reaches the provider.
//!
//! Every key is a registered canary, so the end-of-suite sweep also checks
//! that none of them was logged or stored unsealed.

use crate::proxy::fixture::PERMITTED;
use crate::support::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use weft_tests::mock_api::MockApi;
use weft_tests::sweep;

const PROJECTS: usize = 2;
const USERS: usize = 3;

/// One step of a sequence.
#[derive(Debug, Clone)]
enum Step {
    /// The user connects another account (a fresh canary key).
    Connect { project: usize, user: usize },
    /// The user disconnects the account named with `X-Paragon-Credential`
    /// (`pick` among every account ever made), or all of theirs.
    Disconnect { project: usize, user: usize, pick: Option<usize> },
    /// A proxy call as the user, naming an account with
    /// `X-Paragon-Credential` (`pick` among every account ever made, any
    /// user's, any project's) or none.
    Proxy { project: usize, user: usize, pick: Option<usize> },
    /// A user token of one project on another project's proxy path.
    ForeignToken { project: usize, user: usize },
}

fn step() -> impl Strategy<Value = Step> {
    let who = (0..PROJECTS, 0..USERS);
    prop_oneof![
        3 => who.clone().prop_map(|(project, user)| Step::Connect { project, user }),
        1 => (who.clone(), proptest::option::of(0..64usize))
            .prop_map(|((project, user), pick)| Step::Disconnect { project, user, pick }),
        5 => (who.clone(), proptest::option::weighted(0.3, 0..64usize))
            .prop_map(|((project, user), pick)| Step::Proxy { project, user, pick }),
        1 => who.prop_map(|(project, user)| Step::ForeignToken { project, user }),
    ]
}

/// One account as the model knows it.
#[derive(Debug, Clone)]
struct Account {
    id: String,
    key: String,
    project: usize,
    user: usize,
    connected: bool,
}

/// Two projects with `test-proxy` on one mock provider.
struct Tenants {
    app: TestApp,
    mock: MockApi,
    projects: Vec<Tenant>,
    /// Numbers each sequence, so its users are new ones.
    sequence: AtomicUsize,
    /// How often each outcome was seen, so a run that never exercised one
    /// fails instead of passing vacuously.
    seen: Seen,
}

#[derive(Default, Debug)]
struct Seen {
    answered: AtomicUsize,
    refused: AtomicUsize,
    foreign_named: AtomicUsize,
    disconnected: AtomicUsize,
    foreign_token: AtomicUsize,
}

struct Tenant {
    id: String,
    integration: String,
    private_pem: String,
}

impl Tenants {
    async fn start() -> Self {
        let mock = MockApi::start_on(PERMITTED).await;
        let app = spawn_app(&["test_proxy"]).await;
        let mut projects = Vec::new();
        for name in ["Tenant A", "Tenant B"] {
            let (id, private_pem) = project_with_key(app.store.as_ref(), name).await;
            let admin = api_key(app.store.as_ref(), &id, weft_store::Role::Admin).await;
            let body = json!({ "type": "test-proxy", "active": true, "baseUrl": mock.api_base() });
            let path = format!("/admin/projects/{id}/integrations");
            let (status, created) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
            assert_eq!(status, 201, "{created}");
            let integration = created["id"].as_str().unwrap().to_owned();
            projects.push(Tenant { id, integration, private_pem });
        }
        Self { app, mock, projects, sequence: AtomicUsize::new(0), seen: Seen::default() }
    }

    /// Runs one sequence against a fresh model; the first broken promise
    /// fails it.
    async fn run(&self, steps: &[Step]) -> Result<(), TestCaseError> {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut model = Model { sequence, accounts: Vec::new(), tokens: HashMap::new() };
        for (n, step) in steps.iter().enumerate() {
            self.check(&mut model, step).await.map_err(|e| TestCaseError::fail(format!("step {n} {step:?}: {e}")))?;
        }
        Ok(())
    }

    async fn check(&self, model: &mut Model, step: &Step) -> Result<(), String> {
        match *step {
            Step::Connect { project, user } => {
                let key = sweep::canary(&format!("tenancy-p{project}"));
                let path = format!("/projects/{}/sdk/connect/test-proxy/credentials", self.projects[project].id);
                let body = json!({ "fields": { "api_key": key }, "allowMultipleCredentials": true });
                let token = model.token(self, project, user);
                let (status, created) = self.app.call(Method::POST, &path, Some(&token), Some(body)).await;
                ensure(status == 201, format!("connect answered {status}: {created}"))?;
                let id = created["id"].as_str().ok_or("no id")?.to_owned();
                model.accounts.push(Account { id, key, project, user, connected: true });
            }
            Step::Disconnect { project, user, pick } => {
                let named = pick.and_then(|p| (!model.accounts.is_empty()).then(|| p % model.accounts.len()));
                let path = format!(
                    "/projects/{}/sdk/integrations/{}",
                    self.projects[project].id, self.projects[project].integration
                );
                let mut req = self.app.client.delete(format!("{}{path}", self.app.base));
                req = req.bearer_auth(model.token(self, project, user));
                if let Some(i) = named {
                    req = req.header("X-Paragon-Credential", &model.accounts[i].id);
                }
                // What goes: the named account if it is the caller's and
                // connected (anyone else's is "not found" and stays);
                // without a name, all of the caller's.
                let gone: Vec<usize> = match named {
                    Some(i) => model.live(project, user).filter(|&j| j == i).collect(),
                    None => model.live(project, user).collect(),
                };
                let before = self.mock.count();
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                let expected = if gone.is_empty() { 404 } else { 200 };
                ensure(status == expected, format!("disconnect answered {status}, expected {expected}: {body}"))?;
                ensure(self.mock.count() == before, "a disconnect called the provider".into())?;
                model.holds_no_secret(&body, None)?;
                for i in gone {
                    model.accounts[i].connected = false;
                    self.seen.disconnected.fetch_add(1, Ordering::Relaxed);
                }
            }
            Step::Proxy { project, user, pick } => {
                let named = pick.and_then(|p| (!model.accounts.is_empty()).then(|| p % model.accounts.len()));
                let mut req = self.proxy(project, model.token(self, project, user));
                if let Some(i) = named {
                    req = req.header("X-Paragon-Credential", &model.accounts[i].id);
                }
                // Who may answer: the named account if it is the caller's
                // and connected; without a name, any of the caller's.
                let allowed: Vec<usize> = match named {
                    Some(i) => model.live(project, user).filter(|&j| j == i).collect(),
                    None => model.live(project, user).collect(),
                };
                if let Some(i) = named {
                    let a = &model.accounts[i];
                    if (a.project, a.user) != (project, user) {
                        self.seen.foreign_named.fetch_add(1, Ordering::Relaxed);
                    }
                }
                self.expect(model, req, &allowed).await?;
            }
            Step::ForeignToken { project, user } => {
                let other = (project + 1) % PROJECTS;
                let req = self.proxy(other, model.token(self, project, user));
                let before = self.mock.count();
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                ensure(status == 401, format!("another project's token answered {status}: {body}"))?;
                self.seen.foreign_token.fetch_add(1, Ordering::Relaxed);
                ensure(self.mock.count() == before, "a refused call reached the provider".into())?;
                model.holds_no_secret(&body, None)?;
            }
        }
        Ok(())
    }

    /// A proxy call to the echo route of `project`, with `token`.
    fn proxy(&self, project: usize, token: String) -> reqwest::RequestBuilder {
        let url = format!("{}/projects/{}/sdk/proxy/test-proxy/echo", self.app.base, self.projects[project].id);
        self.app.client.get(url).bearer_auth(token)
    }

    /// Sends `req`: answered with one of `allowed`'s keys (the provider saw
    /// exactly that key, once), or refused without reaching the provider
    /// when `allowed` is empty.
    async fn expect(&self, model: &Model, req: reqwest::RequestBuilder, allowed: &[usize]) -> Result<(), String> {
        let before = self.mock.count();
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let hits = self.mock.hits();
        let new = &hits[before.min(hits.len())..];
        if allowed.is_empty() {
            ensure((400..500).contains(&status), format!("expected a refusal, got {status}: {body}"))?;
            ensure(new.is_empty(), "a refused call reached the provider".into())?;
            self.seen.refused.fetch_add(1, Ordering::Relaxed);
            return model.holds_no_secret(&body, None);
        }
        ensure(status == 200, format!("expected 200, got {status}: {body}"))?;
        ensure(new.len() == 1, format!("{} provider calls for one proxy call", new.len()))?;
        let presented = new[0].header("x-api-key").unwrap_or_default();
        let Some(&used) = allowed.iter().find(|&&i| model.accounts[i].key == presented) else {
            return Err(format!("the provider was shown a key that is not the caller's: {presented:?}"));
        };
        let echoed: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        ensure(echoed["output"]["headers"]["x-api-key"] == presented, "the answer is not the provider's".into())?;
        self.seen.answered.fetch_add(1, Ordering::Relaxed);
        model.holds_no_secret(&body, Some(used))
    }
}

fn ensure(ok: bool, why: String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why) }
}

/// What the server should know after the steps so far.
struct Model {
    sequence: usize,
    accounts: Vec<Account>,
    tokens: HashMap<(usize, usize), String>,
}

impl Model {
    /// The connected accounts of one user.
    fn live(&self, project: usize, user: usize) -> impl Iterator<Item = usize> + '_ {
        self.accounts
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.connected && a.project == project && a.user == user)
            .map(|(i, _)| i)
    }

    /// The token of `user` of `project` in this sequence (user ids are new
    /// per sequence, so earlier sequences' accounts never interfere).
    fn token(&mut self, tenants: &Tenants, project: usize, user: usize) -> String {
        let sequence = self.sequence;
        self.tokens
            .entry((project, user))
            .or_insert_with(|| {
                let id = format!("s{sequence}-u{user}");
                let pem = &tenants.projects[project].private_pem;
                weft_auth::mint_user_token(pem, Some("k"), &id, now_unix(), 3600).unwrap()
            })
            .clone()
    }

    /// No account's key is in `body`, except `own`'s.
    fn holds_no_secret(&self, body: &str, own: Option<usize>) -> Result<(), String> {
        for (i, a) in self.accounts.iter().enumerate() {
            if Some(i) != own && body.contains(&a.key) {
                return Err(format!("an answer holds the key of project {} user {}: {body}", a.project, a.user));
            }
        }
        Ok(())
    }
}

#[test]
fn no_answer_ever_holds_another_tenants_data() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let tenants = runtime.block_on(Tenants::start());
    // Each case is a few dozen real HTTP calls; 32 sequences of up to 30
    // steps explore the combinations without slowing the suite.
    let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
    let result = runner.run(&proptest::collection::vec(step(), 1..30), |steps| runtime.block_on(tenants.run(&steps)));
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = &tenants.seen;
    println!("outcomes: {seen:?}");
    for (what, count) in [
        ("answered", &seen.answered),
        ("refused", &seen.refused),
        ("another's account named", &seen.foreign_named),
        ("disconnected", &seen.disconnected),
        ("another project's token", &seen.foreign_token),
    ] {
        assert!(count.load(Ordering::Relaxed) > 0, "no step was {what}: the run proved nothing about it");
    }
    drop(tenants);
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
}
