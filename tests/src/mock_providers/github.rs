//! A strict GitHub REST API: the authenticated user, issues (create, get,
//! update, lock), issue search with `Link` pagination, releases and
//! repository webhooks, for repositories seeded with [`GitHub::add_repo`].
//!
//! Checked as GitHub documents it: `Authorization: Bearer <token>` (401
//! "Bad credentials" otherwise), a `User-Agent` (403 without one), a
//! supported `X-GitHub-Api-Version` (400 otherwise), JSON bodies (400
//! "Problems parsing JSON"), required fields and enum values (422
//! "Validation Failed" with GitHub's `errors` entries), `per_page` at most
//! 100 and `page` at least 1. Errors carry GitHub's
//! `{"message", "documentation_url"}` body.

use super::server::{MockServer, Provider, Reply, Request, Tokens, rfc3339};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const DOCS: &str = "https://docs.github.com/rest";
/// The API version the mock serves.
pub const API_VERSION: &str = "2022-11-28";
/// The epoch second the mock's clock starts at (2024-05-01T12:00:00Z).
const EPOCH: i64 = 1_714_564_800;

/// One repository's data.
#[derive(Debug, Default)]
pub struct Repo {
    /// Issues by number.
    pub issues: BTreeMap<u64, Value>,
    /// Releases by id.
    pub releases: BTreeMap<u64, Value>,
    /// Webhooks by id, with the secret they were created with.
    pub hooks: BTreeMap<u64, (Value, Option<String>)>,
}

/// The mock's state.
#[derive(Debug, Default)]
pub struct GitHub {
    /// Accepted tokens and the login each acts as.
    pub tokens: Tokens,
    /// Repositories by `owner/repo`.
    pub repos: BTreeMap<String, Repo>,
    next_id: u64,
    clock: i64,
}

/// Starts a mock GitHub API.
pub async fn start() -> MockServer<GitHub> {
    MockServer::start(GitHub::default()).await
}

fn error(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({ "message": message, "documentation_url": DOCS, "status": status.to_string() }))
}

fn invalid(resource: &str, field: &str, code: &str) -> Reply {
    Reply::json(
        422,
        json!({
            "message": "Validation Failed",
            "errors": [{ "resource": resource, "field": field, "code": code }],
            "documentation_url": DOCS,
            "status": "422",
        }),
    )
}

fn not_found() -> Reply {
    error(404, "Not Found")
}

impl GitHub {
    /// Adds an empty repository `owner/name`.
    pub fn add_repo(&mut self, full_name: &str) {
        self.repos.entry(full_name.to_owned()).or_default();
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn now(&mut self) -> String {
        self.clock += 1;
        rfc3339(EPOCH + self.clock)
    }

    /// Checks what every request must carry; the account on success.
    fn admit(&self, req: &Request) -> Result<String, Reply> {
        let Some(login) = self.tokens.account(req) else { return Err(error(401, "Bad credentials")) };
        if req.header("user-agent").is_none_or(str::is_empty) {
            return Err(error(
                403,
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
            ));
        }
        if let Some(version) = req.header("x-github-api-version")
            && version != API_VERSION
        {
            return Err(error(400, &format!("API version {version} is not supported.")));
        }
        Ok(login)
    }
}

impl Provider for GitHub {
    fn handle(&mut self, req: &Request, base: &str) -> Reply {
        let login = match self.admit(req) {
            Ok(login) => login,
            Err(reply) => return reply,
        };
        let writes = matches!(req.method.as_str(), "POST" | "PATCH" | "PUT");
        let body = match (writes, req.json()) {
            (true, Some(Value::Object(body))) => body,
            (true, None) if req.body.is_empty() && req.method == "PUT" => Map::new(),
            (true, _) => return error(400, "Problems parsing JSON"),
            (false, _) => Map::new(),
        };
        let segments = req.segments();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (req.method.as_str(), s.as_slice()) {
            ("GET", ["user"]) => Reply::json(
                200,
                json!({ "login": login, "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User",
                    "name": format!("The {login}"), "html_url": format!("https://github.com/{login}") }),
            ),
            ("GET", ["search", "issues"]) => self.search(req, base),
            (method, ["repos", owner, repo, rest @ ..]) => {
                let full = format!("{owner}/{repo}");
                if !self.repos.contains_key(&full) {
                    return not_found();
                }
                self.repo_route(method, &full, rest, body, &login)
            }
            _ => not_found(),
        }
    }
}

impl GitHub {
    fn repo_route(&mut self, method: &str, full: &str, rest: &[&str], body: Map<String, Value>, login: &str) -> Reply {
        match (method, rest) {
            ("POST", ["issues"]) => self.create_issue(full, body, login),
            ("GET", ["issues", n]) => self.issue(full, n).map_or_else(not_found, |i| Reply::json(200, i.clone())),
            ("PATCH", ["issues", n]) => self.update_issue(full, n, body),
            ("PUT", ["issues", n, "lock"]) => self.lock_issue(full, n, body),
            ("POST", ["releases"]) => self.create_release(full, body, login),
            ("GET", ["releases", "tags", tag]) => {
                let found = self.repo(full).releases.values().find(|r| r["tag_name"] == *tag).cloned();
                found.map_or_else(not_found, |r| Reply::json(200, r))
            }
            ("GET", ["releases", id]) => {
                let found = id.parse().ok().and_then(|id: u64| self.repo(full).releases.get(&id).cloned());
                found.map_or_else(not_found, |r| Reply::json(200, r))
            }
            ("PATCH", ["releases", id]) => self.update_release(full, id, body),
            ("DELETE", ["releases", id]) => {
                let gone = id.parse().ok().and_then(|id: u64| self.repo(full).releases.remove(&id));
                gone.map_or_else(not_found, |_| Reply::empty(204))
            }
            ("POST", ["hooks"]) => self.create_hook(full, body),
            ("DELETE", ["hooks", id]) => {
                let gone = id.parse().ok().and_then(|id: u64| self.repo(full).hooks.remove(&id));
                gone.map_or_else(not_found, |_| Reply::empty(204))
            }
            _ => not_found(),
        }
    }

    fn repo(&mut self, full: &str) -> &mut Repo {
        self.repos.entry(full.to_owned()).or_default()
    }

    fn issue(&mut self, full: &str, number: &str) -> Option<&mut Value> {
        let n: u64 = number.parse().ok()?;
        self.repo(full).issues.get_mut(&n)
    }

    fn create_issue(&mut self, full: &str, body: Map<String, Value>, login: &str) -> Reply {
        let Some(title) = body.get("title").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
            return invalid("Issue", "title", "missing_field");
        };
        if let Some(reply) = check_issue_fields(&body) {
            return reply;
        }
        let (id, now) = (self.id(), self.now());
        let number = self.repo(full).issues.len() as u64 + 1;
        let issue = json!({
            "id": id, "number": number, "title": title, "body": body.get("body").cloned().unwrap_or(Value::Null),
            "state": "open", "state_reason": null, "locked": false, "active_lock_reason": null,
            "labels": names(&body, "labels", "name"), "assignees": names(&body, "assignees", "login"),
            "milestone": body.get("milestone").map(|m| json!({ "number": m })).unwrap_or(Value::Null),
            "user": { "login": login }, "created_at": now, "updated_at": now,
            "url": format!("https://api.github.com/repos/{full}/issues/{number}"),
            "html_url": format!("https://github.com/{full}/issues/{number}"),
        });
        self.repo(full).issues.insert(number, issue.clone());
        Reply::json(201, issue)
    }

    fn update_issue(&mut self, full: &str, number: &str, body: Map<String, Value>) -> Reply {
        if let Some(reply) = check_issue_fields(&body) {
            return reply;
        }
        if let Some(state) = body.get("state")
            && !matches!(state.as_str(), Some("open" | "closed"))
        {
            return invalid("Issue", "state", "invalid");
        }
        let now = self.now();
        let Some(issue) = self.issue(full, number) else { return not_found() };
        for (k, v) in &body {
            issue[k.as_str()] = match k.as_str() {
                "labels" => names(&body, "labels", "name"),
                "assignees" => names(&body, "assignees", "login"),
                _ => v.clone(),
            };
        }
        issue["updated_at"] = now.into();
        Reply::json(200, issue.clone())
    }

    fn lock_issue(&mut self, full: &str, number: &str, body: Map<String, Value>) -> Reply {
        let reason = body.get("lock_reason").cloned().unwrap_or(Value::Null);
        let allowed = ["off-topic", "too heated", "resolved", "spam"];
        if !(reason.is_null() || reason.as_str().is_some_and(|r| allowed.contains(&r))) {
            return invalid("Issue", "lock_reason", "invalid");
        }
        let Some(issue) = self.issue(full, number) else { return not_found() };
        issue["locked"] = true.into();
        issue["active_lock_reason"] = reason;
        Reply::empty(204)
    }

    /// `q` words must all be in the title; `repo:owner/name` narrows the
    /// repositories; `is:…`, `label:…` and other qualifiers are accepted.
    fn search(&mut self, req: &Request, base: &str) -> Reply {
        let Some(q) = req.query_value("q").filter(|q| !q.trim().is_empty()) else {
            return invalid("Search", "q", "missing");
        };
        let per_page: usize = match req.query_value("per_page").map(str::parse) {
            None => 30,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => return error(422, "per_page must be between 1 and 100"),
        };
        let page: usize = match req.query_value("page").map(str::parse) {
            None => 1,
            Some(Ok(n)) if n >= 1 => n,
            Some(_) => return error(422, "page must be at least 1"),
        };
        let repo = q.split_whitespace().find_map(|w| w.strip_prefix("repo:"));
        let words: Vec<String> = q.split_whitespace().filter(|w| !w.contains(':')).map(str::to_lowercase).collect();
        let found: Vec<Value> = self
            .repos
            .iter()
            .filter(|(name, _)| repo.is_none_or(|r| r == name.as_str()))
            .flat_map(|(_, r)| r.issues.values())
            .filter(|i| {
                let title = i["title"].as_str().unwrap_or_default().to_lowercase();
                words.iter().all(|w| title.contains(w.as_str()))
            })
            .cloned()
            .collect();
        let last = found.len().div_ceil(per_page).max(1);
        let items: Vec<Value> = found.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
        let mut reply =
            Reply::json(200, json!({ "total_count": found.len(), "incomplete_results": false, "items": items }));
        let link = |n: usize| {
            let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
            format!("<{base}/search/issues?q={q}&per_page={per_page}&page={n}>")
        };
        let mut links = Vec::new();
        if page < last {
            links.push(format!("{}; rel=\"next\"", link(page + 1)));
            links.push(format!("{}; rel=\"last\"", link(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", link(page - 1)));
            links.push(format!("{}; rel=\"first\"", link(1)));
        }
        if !links.is_empty() {
            reply = reply.header("link", links.join(", "));
        }
        reply
    }

    fn create_release(&mut self, full: &str, body: Map<String, Value>, login: &str) -> Reply {
        let Some(tag) = body.get("tag_name").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
            return invalid("Release", "tag_name", "missing_field");
        };
        if let Some(reply) = check_release_fields(&body) {
            return reply;
        }
        if self.repo(full).releases.values().any(|r| r["tag_name"] == tag) {
            return invalid("Release", "tag_name", "already_exists");
        }
        let (id, now) = (self.id(), self.now());
        let draft = body.get("draft").and_then(Value::as_bool).unwrap_or(false);
        let mut release = json!({
            "id": id, "tag_name": tag, "target_commitish": "main", "name": null, "body": null,
            "draft": draft, "prerelease": false, "author": { "login": login }, "created_at": now,
            "published_at": if draft { Value::Null } else { now.clone().into() },
            "url": format!("https://api.github.com/repos/{full}/releases/{id}"),
            "html_url": format!("https://github.com/{full}/releases/tag/{tag}"),
        });
        for (k, v) in &body {
            release[k.as_str()] = v.clone();
        }
        self.repo(full).releases.insert(id, release.clone());
        Reply::json(201, release)
    }

    fn update_release(&mut self, full: &str, id: &str, body: Map<String, Value>) -> Reply {
        if let Some(reply) = check_release_fields(&body) {
            return reply;
        }
        let Some(release) = id.parse().ok().and_then(|id: u64| self.repo(full).releases.get_mut(&id)) else {
            return not_found();
        };
        for (k, v) in body {
            release[k.as_str()] = v;
        }
        Reply::json(200, release.clone())
    }

    fn create_hook(&mut self, full: &str, body: Map<String, Value>) -> Reply {
        let config = body.get("config").and_then(Value::as_object).cloned().unwrap_or_default();
        let Some(url) = config.get("url").and_then(Value::as_str).filter(|u| u.starts_with("http")) else {
            return invalid("Hook", "url", "missing_field");
        };
        if body.get("name").is_some_and(|n| n != "web") {
            return invalid("Hook", "name", "invalid");
        }
        let events = body.get("events").cloned().unwrap_or(json!(["push"]));
        let known = ["push", "issues", "pull_request", "release", "issue_comment", "*"];
        let ok = events
            .as_array()
            .is_some_and(|e| !e.is_empty() && e.iter().all(|e| e.as_str().is_some_and(|e| known.contains(&e))));
        if !ok {
            return invalid("Hook", "events", "invalid");
        }
        let content_type = config.get("content_type").and_then(Value::as_str).unwrap_or("form");
        if !matches!(content_type, "json" | "form") {
            return invalid("Hook", "content_type", "invalid");
        }
        let secret = config.get("secret").and_then(Value::as_str).map(str::to_owned);
        let (id, now) = (self.id(), self.now());
        let hook = json!({
            "type": "Repository", "id": id, "name": "web", "active": body.get("active").cloned().unwrap_or(true.into()),
            "events": events, "created_at": now, "updated_at": now,
            "config": { "url": url, "content_type": content_type, "insecure_ssl": config.get("insecure_ssl").cloned().unwrap_or("0".into()),
                // GitHub never shows a hook's secret again.
                "secret": secret.as_ref().map(|_| "********") },
            "url": format!("https://api.github.com/repos/{full}/hooks/{id}"),
            "ping_url": format!("https://api.github.com/repos/{full}/hooks/{id}/pings"),
        });
        self.repo(full).hooks.insert(id, (hook.clone(), secret));
        Reply::json(201, hook)
    }
}

/// Refuses fields of the wrong type.
fn check_issue_fields(body: &Map<String, Value>) -> Option<Reply> {
    for (field, ok) in [
        ("title", body.get("title").is_none_or(Value::is_string)),
        ("body", body.get("body").is_none_or(|v| v.is_string() || v.is_null())),
        ("labels", body.get("labels").is_none_or(is_string_array)),
        ("assignees", body.get("assignees").is_none_or(is_string_array)),
        ("milestone", body.get("milestone").is_none_or(|v| v.is_u64() || v.is_null())),
    ] {
        if !ok {
            return Some(invalid("Issue", field, "invalid"));
        }
    }
    None
}

fn check_release_fields(body: &Map<String, Value>) -> Option<Reply> {
    for (field, ok) in [
        ("tag_name", body.get("tag_name").is_none_or(Value::is_string)),
        ("name", body.get("name").is_none_or(Value::is_string)),
        ("body", body.get("body").is_none_or(Value::is_string)),
        ("target_commitish", body.get("target_commitish").is_none_or(Value::is_string)),
        ("draft", body.get("draft").is_none_or(Value::is_boolean)),
        ("prerelease", body.get("prerelease").is_none_or(Value::is_boolean)),
    ] {
        if !ok {
            return Some(invalid("Release", field, "invalid"));
        }
    }
    None
}

fn is_string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

/// `["a", "b"]` of `body[field]` as `[{key: "a"}, {key: "b"}]`.
fn names(body: &Map<String, Value>, field: &str, key: &str) -> Value {
    let list = body.get(field).and_then(Value::as_array).cloned().unwrap_or_default();
    list.into_iter().map(|n| json!({ key: n })).collect()
}
