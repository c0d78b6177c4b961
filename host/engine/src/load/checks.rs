//! The checks a schema cannot express, in one walk over the steps in
//! document order, so problems come out in the order a reader meets them.

use std::collections::HashSet;

use serde_json::Value;

use super::scope::{Branch, Scope};
use super::{MAX_DELAY_SECONDS, MAX_DEPTH, MAX_STEPS, Problem, valid_step_id};
use crate::condition::Condition;
use crate::definition::{
    Authorization, BodyType, FunctionStep, HttpFields, Method, Pagination, ResponseStep, ResponseType, Step, StepKind,
    TriggerKind, Workflow,
};
use crate::template::{self, Piece, RESERVED_ROOTS, Template};

pub(super) fn problems(workflow: &Workflow) -> Vec<Problem> {
    let mut c = Checker { workflow, scope: Scope::new(workflow), ids: HashSet::new(), problems: Vec::new() };
    c.header();
    c.sequence(&workflow.steps, "/steps", false);
    c.problems
}

struct Checker<'w> {
    workflow: &'w Workflow,
    scope: Scope<'w>,
    /// Ids met so far, the trigger's included.
    ids: HashSet<&'w str>,
    problems: Vec<Problem>,
}

impl<'w> Checker<'w> {
    fn problem(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem { path: path.into(), reason: reason.into() });
    }

    /// The workflow's own fields and its trigger.
    fn header(&mut self) {
        let w = self.workflow;
        if w.name.trim().is_empty() {
            self.problem("/name", "must not be empty");
        }
        if let Some(integration) = &w.integration
            && !valid_integration(integration)
        {
            self.problem(
                "/integration",
                "must be an integration type: 1 to 64 ASCII letters, digits, '-', '_' or '.' (`salesforce`, `custom.tasklab`)",
            );
        }
        if let Some(permissions) = &w.permissions {
            self.condition(permissions, "/permissions");
            self.permissions(permissions);
        }
        self.portal();
        self.trigger();
        let total = w.all_steps().count();
        if total > MAX_STEPS {
            self.problem("/steps", format!("{total} steps in all; at most {MAX_STEPS} are allowed"));
        }
    }

    /// The portal's description, settings and default.
    fn portal(&mut self) {
        let w = self.workflow;
        if w.description.as_ref().is_some_and(|d| d.len() > 2000) {
            self.problem("/description", "at most 2000 bytes");
        }
        for (at, reason) in crate::definition::setting_problems(&w.portal.settings) {
            self.problem(format!("/portal/settings{at}"), reason);
        }
        if w.portal.default_enabled && w.portal.settings.iter().any(|s| s.required) {
            self.problem(
                "/portal/defaultEnabled",
                "a workflow with a required setting cannot be enabled by default: the user has not filled it in yet",
            );
        }
    }

    /// The trigger's id and settings.
    fn trigger(&mut self) {
        let w = self.workflow;
        self.id(&w.trigger.id, "/trigger/id");
        match &w.trigger.kind {
            TriggerKind::AppEvent { event } if event.trim().is_empty() => {
                self.problem("/trigger/event", "name the App Event the workflow listens to (`Contact Created`)");
            }
            TriggerKind::Request(r) => {
                let declared = !(r.header_validations.is_empty()
                    && r.body_validations.is_empty()
                    && r.param_validations.is_empty());
                if !r.allow_arbitrary_payload && !declared {
                    self.problem(
                        "/trigger/allowArbitraryPayload",
                        "with `allowArbitraryPayload: false`, declare what is accepted in `headerValidations`, \
                         `bodyValidations` or `paramValidations`",
                    );
                }
                let lists = [
                    ("headerValidations", r.header_validations.iter().map(|v| v.key.to_ascii_lowercase()).collect()),
                    ("bodyValidations", r.body_validations.iter().map(|v| v.key.clone()).collect()),
                    ("paramValidations", r.param_validations.iter().map(|v| v.key.clone()).collect::<Vec<_>>()),
                ];
                for (list, keys) in lists {
                    self.keys(&format!("/trigger/{list}"), &keys);
                }
            }
            TriggerKind::IntegrationEnabled if w.integration.is_none() => self.problem(
                "/trigger/type",
                "an Integration Enabled trigger fires for the workflow's integration; set `integration`",
            ),
            TriggerKind::Integration(_) if w.integration.is_none() => self.problem(
                "/trigger/type",
                "an Integration trigger listens to the workflow's integration; set `integration`",
            ),
            TriggerKind::Integration(t) if t.event.trim().is_empty() => {
                self.problem("/trigger/event", "name the integration's trigger (`SLACK_MESSAGE_POSTED`)");
            }
            TriggerKind::Integration(t) if !t.config.is_object() => {
                self.problem("/trigger/config", "must be an object of the trigger's settings");
            }
            TriggerKind::Scheduler(t) => {
                if let Err(problems) = crate::schedule::Schedule::new(&t.cron, t.timezone.as_deref(), "/trigger") {
                    self.problems.extend(problems);
                }
            }
            _ => {}
        }
    }

    /// Validation keys: present, and each once.
    fn keys(&mut self, list: &str, keys: &[String]) {
        let mut seen = HashSet::new();
        for (i, key) in keys.iter().enumerate() {
            if key.trim().is_empty() {
                self.problem(format!("{list}/{i}/key"), "must not be empty");
            } else if !seen.insert(key) {
                self.problem(format!("{list}/{i}/key"), format!("`{key}` is validated twice; merge the two"));
            }
        }
    }

    /// A step or trigger id: well formed, not reserved, not taken.
    fn id(&mut self, id: &'w str, path: &str) {
        if RESERVED_ROOTS.contains(&id) {
            self.problem(
                path,
                format!("`{id}` is reserved (`{{{{{id}.…}}}}` means something else); choose another id"),
            );
        } else if !valid_step_id(id) {
            self.problem(path, "must be 1 to 64 ASCII letters, digits, '_' or '-'");
        } else if !self.ids.insert(id) {
            let first = if id == self.workflow.trigger.id {
                "the trigger".to_owned()
            } else {
                self.scope.place(id).map_or_else(String::new, |p| format!("the step at {}", p.pointer))
            };
            self.problem(path, format!("`{id}` is already the id of {first}; ids must be unique"));
        }
    }

    /// A sequence of steps; `answered` tells whether a Response step has
    /// run on every path to it. Returns the same at its end.
    fn sequence(&mut self, steps: &'w [Step], pointer: &str, mut answered: bool) -> bool {
        for (i, step) in steps.iter().enumerate() {
            answered = self.step(step, &format!("{pointer}/{i}"), answered);
        }
        answered
    }

    fn step(&mut self, step: &'w Step, at: &str, answered: bool) -> bool {
        self.id(&step.id, &format!("{at}/id"));
        self.options(step, at);
        self.settings(step, at, answered);
        if let Some(pagination) = step.kind.pagination() {
            self.pagination(step, pagination, at);
        }
        self.references(step, at);
        self.walk_on(step, at, answered)
    }

    /// `autoRetry` and `continueWorkflowOnError` only where a call can fail.
    fn options(&mut self, step: &Step, at: &str) {
        if step.kind.calls_out() {
            return;
        }
        let kind = step.kind.name();
        for (set, field) in
            [(step.auto_retry, "autoRetry"), (step.continue_workflow_on_error, "continueWorkflowOnError")]
        {
            if set {
                self.problem(
                    format!("{at}/{field}"),
                    format!("only request, integration and function steps take `{field}`, not a {kind} step"),
                );
            }
        }
    }

    /// Walks into a conditional's branches or a fan-out's body, and marks
    /// the step as passed for the steps after it.
    fn walk_on(&mut self, step: &'w Step, at: &str, answered: bool) -> bool {
        match &step.kind {
            StepKind::Conditional { then, otherwise, .. } => {
                if !self.room_for(&[then, otherwise], at) {
                    self.scope.ran(step);
                    return answered;
                }
                let mark = self.scope.enter(step, Branch::Then);
                let yes = self.sequence(then, &format!("{at}/then"), answered);
                let then_steps = self.scope.leave(mark);
                let mark = self.scope.enter(step, Branch::Else);
                let no = self.sequence(otherwise, &format!("{at}/else"), answered);
                let else_steps = self.scope.leave(mark);
                self.scope.ran(step);
                self.scope.keep(then_steps);
                self.scope.keep(else_steps);
                yes && no
            }
            StepKind::FanOut { steps, .. } => {
                if self.room_for(&[steps], at) {
                    let mark = self.scope.enter(step, Branch::Body);
                    self.sequence(steps, &format!("{at}/steps"), answered);
                    self.scope.leave(mark);
                }
                self.scope.fanned_out(step);
                answered
            }
            kind => {
                self.scope.ran(step);
                answered || matches!(kind, StepKind::Response(_))
            }
        }
    }

    /// Whether the nested sequences fit under [`MAX_DEPTH`]; reports them
    /// when they do not.
    fn room_for(&mut self, nested: &[&Vec<Step>], at: &str) -> bool {
        if self.scope.depth() < MAX_DEPTH || nested.iter().all(|n| n.is_empty()) {
            return true;
        }
        self.problem(
            at,
            format!("nests steps more than {MAX_DEPTH} conditionals and fan-outs deep; flatten the workflow"),
        );
        false
    }

    /// What each kind of step requires of its settings.
    fn settings(&mut self, step: &'w Step, at: &str, answered: bool) {
        match &step.kind {
            StepKind::Request(r) => {
                self.http(&r.http, at);
                if let Err(reason) = full_url(&r.http.url) {
                    let hint = "a Request step calls a full URL (an integrationRequest calls the integration's API)";
                    self.problem(format!("{at}/url"), format!("{reason}; {hint}"));
                }
                if let Some(Authorization::ClientCredentials { token_url, .. }) = &r.authorization
                    && let Err(reason) = full_url(token_url)
                {
                    self.problem(format!("{at}/authorization/tokenUrl"), reason);
                }
                if r.authorization.is_some()
                    && let Some(name) = authorization_header(&r.http)
                {
                    self.problem(
                        format!("{at}/headers/{}", template::escape_pointer(name)),
                        "the step has `authorization` already; keep one of the two",
                    );
                }
            }
            StepKind::IntegrationRequest(r) => {
                self.needs_integration(at, "an Integration Request calls");
                self.http(&r.http, at);
                if let Some(name) = authorization_header(&r.http) {
                    self.problem(
                        format!("{at}/headers/{}", template::escape_pointer(name)),
                        "an Integration Request sends the connected account's own authorization; use a Request step \
                         to send another",
                    );
                }
                if let Err(reason) = integration_url(&r.http.url) {
                    self.problem(format!("{at}/url"), reason);
                }
            }
            StepKind::ResourceRequest(r) => {
                if uuid::Uuid::parse_str(&r.resource).is_err() {
                    self.problem(format!("{at}/resource"), "must be an API resource's id (a UUID)");
                }
                self.http(&r.http, at);
                if let Err(reason) = integration_url(&r.http.url) {
                    self.problem(format!("{at}/url"), reason.replace("integration's", "resource's"));
                }
            }
            StepKind::IntegrationAction(a) => {
                self.needs_integration(at, "an Integration Action runs");
                if a.action.trim().is_empty() || a.action.chars().any(char::is_whitespace) {
                    self.problem(format!("{at}/action"), "name the action, without spaces (`SLACK_SEND_MESSAGE`)");
                }
            }
            StepKind::Function(f) => self.function(f, at),
            StepKind::Conditional { condition, .. } => self.condition(condition, &format!("{at}/if")),
            StepKind::FanOut { iterator, steps, max_parallel } => {
                if *max_parallel == Some(0) {
                    self.problem(format!("{at}/maxParallel"), "must be at least 1 (leave it out for the default)");
                }
                if steps.is_empty() {
                    self.problem(format!("{at}/steps"), "a fan-out needs at least one step to run per item");
                }
                if !iterator.is_array() && !is_single_reference(iterator) {
                    self.problem(
                        format!("{at}/iterator"),
                        "must be an array, or exactly one reference to one (`{{step.output.items}}`)",
                    );
                }
            }
            StepKind::Response(r) => self.response(r, at, answered),
            StepKind::Delay { value, unit } => {
                if !value.is_finite() || *value <= 0.0 || value * unit.seconds() > MAX_DELAY_SECONDS {
                    self.problem(format!("{at}/value"), "must be a number above 0, and at most 365 days in all");
                }
            }
        }
    }

    /// A Response step answers the trigger's request, once, outside
    /// fan-outs.
    fn response(&mut self, r: &ResponseStep, at: &str, answered: bool) {
        if !matches!(self.workflow.trigger.kind, TriggerKind::Request(_)) {
            self.problem(format!("{at}/type"), "only a workflow with a request trigger has a request to answer");
        } else if self.scope.in_fan_out() {
            self.problem(at, "a Response step cannot run once per item; move it out of the fan-out");
        } else if answered {
            self.problem(
                at,
                "a Response step has already answered on every path to this one, so it would never be sent",
            );
        }
        if r.response_type == ResponseType::File && !is_single_reference(&r.body) {
            self.problem(
                format!("{at}/body"),
                "a FILE response's body is one reference to a file object (`{{step.output.file}}`)",
            );
        }
    }

    fn needs_integration(&mut self, at: &str, what: &str) {
        if self.workflow.integration.is_none() {
            self.problem(
                format!("{at}/type"),
                format!("{what} as the user's account of the workflow's integration; set `integration` at the top"),
            );
        }
    }

    /// Body and body type agree; header names are names.
    fn http(&mut self, http: &HttpFields, at: &str) {
        match (&http.body, http.body_type) {
            (Some(_), None) => self.problem(
                at,
                "`bodyType` is missing: a body needs one of json, form-data, x-www-form-urlencoded, xml, raw",
            ),
            (None, Some(_)) => {
                self.problem(format!("{at}/bodyType"), "a `bodyType` without a `body`; add the body or remove it")
            }
            (Some(body), Some(kind)) => {
                let fits = match kind {
                    BodyType::Json => true,
                    BodyType::FormData | BodyType::UrlEncoded => body.is_object() || is_single_reference(body),
                    BodyType::Xml | BodyType::Raw => body.is_string(),
                };
                if !fits {
                    let shape =
                        if matches!(kind, BodyType::Xml | BodyType::Raw) { "text" } else { "an object of fields" };
                    self.problem(format!("{at}/body"), format!("a {} body is {shape}", spelt(&kind)));
                }
                if http.method == Method::Get {
                    self.problem(
                        format!("{at}/body"),
                        "a GET request carries no body; use `params`, or another method",
                    );
                }
            }
            (None, None) => {}
        }
        for name in http.headers.keys() {
            if !name.contains("{{") && (name.is_empty() || !name.bytes().all(is_token_byte)) {
                self.problem(
                    format!("{at}/headers/{}", template::escape_pointer(name)),
                    "not a valid HTTP header name",
                );
            }
        }
    }

    fn function(&mut self, f: &FunctionStep, at: &str) {
        match (&f.function, &f.code) {
            (Some(_), Some(_)) => self.problem(at, "give either `function` (a component) or `code`, not both"),
            (None, None) => self.problem(
                at,
                "give the step `code` (JavaScript: `function execute(parameters, libraries) {…}`) or `function` \
                 (an installed function-step component)",
            ),
            (Some(id), None) if !valid_integration(id) => self.problem(
                format!("{at}/function"),
                "must be an installed component's id: 1 to 64 ASCII letters, digits, '-', '_' or '.'",
            ),
            _ => {}
        }
    }

    /// Each rule has the operands its operator takes.
    fn condition(&mut self, condition: &Condition, at: &str) {
        let pointers: Vec<String> = match condition {
            Condition::Rule(_) => vec![at.to_owned()],
            Condition::All(all) => (0..all.and.len()).map(|j| format!("{at}/and/{j}")).collect(),
            Condition::Any { or } => or
                .iter()
                .enumerate()
                .flat_map(|(i, all)| (0..all.and.len()).map(move |j| format!("{at}/or/{i}/and/{j}")))
                .collect(),
        };
        let rules = condition.groups().into_iter().flatten();
        for (rule, pointer) in rules.zip(pointers) {
            let name = spelt(&rule.operator);
            match (rule.operator.takes_right(), &rule.right) {
                (true, None) => self.problem(pointer, format!("`{name}` compares `left` with `right`; add `right`")),
                (false, Some(_)) => {
                    self.problem(format!("{pointer}/right"), format!("`{name}` takes no `right`; remove it"))
                }
                _ => {}
            }
        }
    }

    /// A paginated request reads its results and next token from the page
    /// (`{{self.output…}}`), and sends the token somewhere.
    fn pagination(&mut self, step: &Step, p: &Pagination, at: &str) {
        for (field, value, example) in [
            ("outputPath", &p.output_path, "{{self.output.response.body.data}}"),
            ("pageToken", &p.page_token, "{{self.output.response.body.nextPageToken}}"),
        ] {
            let page = Template::parse(value).ok().and_then(|t| t.single().cloned());
            if !matches!(page, Some(template::Reference::Page { .. })) {
                self.problem(
                    format!("{at}/pagination/{field}"),
                    format!("must be one reference into the page just fetched (`{example}`)"),
                );
            }
        }
        self.condition(&p.stop_condition, &format!("{at}/pagination/stopCondition"));
        let mut request = step.templated();
        if let Some(fields) = request.as_object_mut() {
            fields.remove("pagination");
        }
        if !template::references(&request).contains(&template::Reference::PageToken) {
            self.problem(
                format!("{at}/pagination"),
                "the request never sends `{{self.pageToken}}`, so every page would be the first; put it in \
                 `params`, `headers`, `body` or `url`",
            );
        }
    }

    /// Permissions are decided before anything runs, on the user alone:
    /// their operands read the user's id and metadata, nothing else.
    fn permissions(&mut self, permissions: &Condition) {
        let value = serde_json::to_value(permissions).unwrap_or(Value::Null);
        let mut found = Vec::new();
        template::visit_strings(&value, &mut |pointer, text, _| found.push((pointer.to_owned(), text.to_owned())));
        for (pointer, text) in found {
            let at = format!("/permissions{pointer}");
            match Template::parse(&text) {
                Err(e) => self.problem(at, e.to_string()),
                Ok(t) => {
                    for reference in t.references() {
                        if !matches!(reference, template::Reference::UserId | template::Reference::UserMeta { .. }) {
                            self.problem(
                                at.clone(),
                                format!(
                                    "`{{{{{reference}}}}}`: permissions read only `{{{{user.userId}}}}` and `{{{{user.meta.…}}}}`"
                                ),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Every dynamic variable of the step parses and reads something the
    /// step may read.
    fn references(&mut self, step: &'w Step, at: &str) {
        let mut found = Vec::new();
        template::visit_strings(&step.templated(), &mut |pointer, text, key| {
            found.push((format!("{at}{pointer}"), text.to_owned(), key));
        });
        for (pointer, text, key) in found {
            if key {
                self.problem(pointer, "object keys are not resolved; move the `{{…}}` into a value");
                continue;
            }
            match Template::parse(&text) {
                Err(e) => self.problem(pointer, e.to_string()),
                Ok(t) => {
                    // Custom pagination reads the page just fetched; a
                    // pre-configured one's options read what a step may.
                    let paging = step.kind.pagination().is_some() && pointer.starts_with(&format!("{at}/pagination/"));
                    for reference in t.references() {
                        if let Err(reason) = self.readable(step, reference, paging) {
                            self.problem(pointer.clone(), format!("`{{{{{reference}}}}}`: {reason}"));
                        }
                    }
                }
            }
        }
    }

    /// Whether `step` may read `reference`, in its `pagination` when
    /// `paging` (where `{{self.output…}}` is the page) or elsewhere (where
    /// `{{self.pageToken}}` is the token its request sends).
    fn readable(&self, step: &Step, reference: &template::Reference, paging: bool) -> Result<(), String> {
        use template::Reference::{Page, PageToken};
        match reference {
            PageToken if paging => {
                Err("`pagination` reads the page just fetched: its next token is in `{{self.output…}}`".into())
            }
            PageToken if step.kind.pagination().is_none() => {
                Err("only a request or integrationRequest step with `pagination` has a page token; add `pagination`"
                    .into())
            }
            Page { .. } if !paging => {
                Err("the page just fetched is readable only in a paginated step's `pagination`; read an earlier \
                 step's output as `{{<id>.output…}}`"
                    .into())
            }
            PageToken | Page { .. } => Ok(()),
            other => self.scope.check(&step.id, other),
        }
    }
}

/// How a value of the model is spelt in files.
fn spelt(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Integration types and component ids (the catalog's rule for ids).
fn valid_integration(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_single_reference(value: &Value) -> bool {
    value.as_str().and_then(|s| Template::parse(s).ok()).is_some_and(|t| t.single().is_some())
}

/// `url` with each reference replaced by a sample value, or `None` when
/// it starts with one (the host comes from a variable) or does not parse.
fn sample(url: &str) -> Option<String> {
    let t = Template::parse(url).ok()?;
    if matches!(t.pieces.first(), Some(Piece::Ref(..))) {
        return None;
    }
    Some(t.pieces.iter().map(|p| if let Piece::Text(s) = p { s.as_str() } else { "x" }).collect())
}

/// A full http(s) URL once its references are filled.
fn full_url(url: &str) -> Result<(), String> {
    let Some(sample) = sample(url) else { return Ok(()) };
    match url::Url::parse(&sample) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(u) => Err(format!("must be an http(s) URL with a host, not `{}:`", u.scheme())),
        Err(e) => Err(format!("not a URL ({e})")),
    }
}

/// A path under the integration's base URL, or a full http(s) URL.
fn integration_url(url: &str) -> Result<(), String> {
    let Some(sample) = sample(url) else { return Ok(()) };
    let reason = "must be a path under the integration's base URL (`/contacts`) or a full http(s) URL";
    if sample.starts_with("//") || sample.trim().is_empty() {
        return Err(reason.into());
    }
    match url::Url::parse(&sample) {
        Ok(_) => full_url(url).map_err(|_| reason.to_owned()),
        Err(_) => Ok(()),
    }
}

/// The name under which `http` sets an `Authorization` header, if it does.
fn authorization_header(http: &HttpFields) -> Option<&str> {
    http.headers.keys().map(String::as_str).find(|name| name.eq_ignore_ascii_case("authorization"))
}
