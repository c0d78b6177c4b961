//! Typed actions: a key, a handler, and schemas generated on demand.

mod paged;

pub use paged::Paged;

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::bindings::exports::actions as wit;
use crate::schema::{self, SchemaFn};
use crate::{Ctx, Error, Result};

/// What running an action does to the provider's data; (de)serializes as
/// `"read"`, `"write"`, `"destructive"`.
///
/// ```no_run
/// use weft_sdk::{Action, Effect};
/// # fn delete_repo(_: &weft_sdk::Ctx, _: weft_sdk::Empty) -> weft_sdk::Result<weft_sdk::Empty> { todo!() }
/// let a = Action::new("DELETE_REPO", "Delete repository", delete_repo).effect(Effect::Destructive);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(description = "What running an action does to the provider's data.")]
pub enum Effect {
    /// Only reads (the default).
    #[default]
    Read,
    /// Creates or changes data.
    Write,
    /// Deletes data or does something that cannot be undone; UIs confirm it.
    Destructive,
}

/// An empty JSON object, `{}`: the input of actions that take nothing, the
/// output of actions that return nothing, the config of triggers that have
/// none. Extra fields in the input are ignored.
///
/// ```no_run
/// use weft_sdk::{Ctx, Empty, Result};
/// fn ping(cx: &Ctx, _: Empty) -> Result<Empty> {
///     cx.http().get("/ping").send()?;
///     Ok(Empty {})
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "An empty object.")]
pub struct Empty {}

/// What a type-erased handler produces: serialized output plus the cursor.
pub(crate) struct Page {
    pub(crate) output: String,
    pub(crate) next_page: Option<String>,
}

type RunFn = Box<dyn Fn(&Ctx, &str, Option<String>) -> Result<Page>>;

/// One action: a stable key, a display name and a typed handler.
///
/// The handler's input type `I` is deserialized from the request JSON (a
/// mismatch is answered with `invalid-input` carrying serde's message) and
/// its output `O` serialized back. Their JSON Schemas are only generated when
/// the host lists the actions, never when one runs.
///
/// ```no_run
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
/// use weft_sdk::{Action, Ctx, Effect, Result};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct CreateIssue { owner: String, repo: String, title: String }
///
/// #[derive(Serialize, JsonSchema)]
/// struct Issue { number: u64 }
///
/// fn create_issue(cx: &Ctx, input: CreateIssue) -> Result<Issue> {
///     let path = format!("/repos/{}/{}/issues", input.owner, input.repo);
///     let created: serde_json::Value =
///         cx.http().post(path).json(&serde_json::json!({ "title": input.title })).send()?.json()?;
///     Ok(Issue { number: created["number"].as_u64().unwrap_or_default() })
/// }
///
/// let action = Action::new("GITHUB_CREATE_ISSUE", "Create issue", create_issue)
///     .description("Open a new issue in a repository")
///     .effect(Effect::Write)
///     .scopes(["repo"]);
/// ```
pub struct Action {
    key: Cow<'static, str>,
    display_name: Cow<'static, str>,
    description: Cow<'static, str>,
    effect: Effect,
    scopes: Vec<Cow<'static, str>>,
    paginated: bool,
    dynamic_fields: bool,
    input_schema: SchemaFn,
    output_schema: SchemaFn,
    run: RunFn,
}

impl Action {
    /// An action whose `handler` answers in one page.
    ///
    /// ```no_run
    /// use weft_sdk::{Action, Ctx, Empty, Result};
    /// fn whoami(cx: &Ctx, _: Empty) -> Result<serde_json::Value> {
    ///     cx.http().get("/user").send()?.json()
    /// }
    /// let a = Action::new("WHOAMI", "Who am I", whoami);
    /// ```
    pub fn new<I, O>(
        key: impl Into<Cow<'static, str>>,
        display_name: impl Into<Cow<'static, str>>,
        handler: fn(&Ctx, I) -> Result<O>,
    ) -> Self
    where
        I: DeserializeOwned + JsonSchema + 'static,
        O: Serialize + JsonSchema + 'static,
    {
        let run = move |cx: &Ctx, input: &str, _page: Option<String>| {
            let output = handler(cx, parse_input(input)?)?;
            Ok(Page { output: serde_json::to_string(&output)?, next_page: None })
        };
        Self::with_runner::<I, O>(key, display_name, false, Box::new(run))
    }

    /// An action that answers page by page. The handler gets the cursor of
    /// the page to produce (`None` for the first) and returns a [`Paged`]:
    /// the page's output and the cursor of the next one, if any. The host
    /// drives the paging, so each call stays short.
    ///
    /// ```no_run
    /// use weft_sdk::{cursor, Action, Ctx, Paged, Result};
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct ListRepos { org: String }
    ///
    /// fn list_repos(cx: &Ctx, input: ListRepos, page: Option<String>) -> Result<Paged<Vec<serde_json::Value>>> {
    ///     let n: u32 = cursor::decode(page.as_deref())?.unwrap_or(1);
    ///     let repos: Vec<serde_json::Value> = cx
    ///         .http()
    ///         .get(format!("/orgs/{}/repos", input.org))
    ///         .query("page", n)
    ///         .send()?
    ///         .json()?;
    ///     if repos.is_empty() { Ok(Paged::last(repos)) } else { Paged::next(repos, &(n + 1)) }
    /// }
    ///
    /// let a = Action::paginated("LIST_REPOS", "List repositories", list_repos);
    /// ```
    pub fn paginated<I, O>(
        key: impl Into<Cow<'static, str>>,
        display_name: impl Into<Cow<'static, str>>,
        handler: fn(&Ctx, I, Option<String>) -> Result<Paged<O>>,
    ) -> Self
    where
        I: DeserializeOwned + JsonSchema + 'static,
        O: Serialize + JsonSchema + 'static,
    {
        let run = move |cx: &Ctx, input: &str, page: Option<String>| {
            let paged = handler(cx, parse_input(input)?, page)?;
            Ok(Page { output: serde_json::to_string(&paged.output)?, next_page: paged.next_page })
        };
        Self::with_runner::<I, O>(key, display_name, true, Box::new(run))
    }

    fn with_runner<I: JsonSchema, O: JsonSchema>(
        key: impl Into<Cow<'static, str>>,
        display_name: impl Into<Cow<'static, str>>,
        paginated: bool,
        run: RunFn,
    ) -> Self {
        Self {
            key: key.into(),
            display_name: display_name.into(),
            description: Cow::Borrowed(""),
            effect: Effect::Read,
            scopes: Vec::new(),
            paginated,
            dynamic_fields: false,
            input_schema: schema::of::<I>,
            output_schema: schema::of::<O>,
            run,
        }
    }

    /// Sets the description shown to users and AI agents.
    ///
    /// ```no_run
    /// # let a: weft_sdk::Action = todo!();
    /// let a = a.description("Lists open issues, newest first");
    /// ```
    pub fn description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the [`Effect`]; the default is [`Effect::Read`].
    ///
    /// ```no_run
    /// # let a: weft_sdk::Action = todo!();
    /// let a = a.effect(weft_sdk::Effect::Write);
    /// ```
    pub fn effect(mut self, effect: Effect) -> Self {
        self.effect = effect;
        self
    }

    /// Sets the provider scopes the action needs.
    ///
    /// ```no_run
    /// # let a: weft_sdk::Action = todo!();
    /// let a = a.scopes(["chat:write", "channels:read"]);
    /// ```
    pub fn scopes<S: Into<Cow<'static, str>>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Marks the action's input as having per-connection fields on top of
    /// its typed ones (a CRM org's custom fields, say):
    /// [`Integration::fields`](crate::Integration::fields) answers them for
    /// each connected account, and the plugin must be exported with
    /// `export_integration!(YourType, fields)`. The host adds them to the
    /// schema it lists for that account and checks runs against it; read
    /// them in the handler with a `#[serde(flatten)]` map.
    ///
    /// ```no_run
    /// # let a: weft_sdk::Action = todo!();
    /// let a = a.dynamic_fields();
    /// ```
    pub fn dynamic_fields(mut self) -> Self {
        self.dynamic_fields = true;
        self
    }

    /// True when [`dynamic_fields`](Self::dynamic_fields) marked the action.
    ///
    /// ```no_run
    /// # let a: weft_sdk::Action = todo!();
    /// let marked = a.has_dynamic_fields();
    /// ```
    pub fn has_dynamic_fields(&self) -> bool {
        self.dynamic_fields
    }

    /// The stable key.
    ///
    /// ```no_run
    /// # let a: weft_sdk::Action = todo!();
    /// weft_sdk::debug!("registered"; action = a.key());
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn run(&self, cx: &Ctx, input: &str, page: Option<String>) -> Result<Page> {
        (self.run)(cx, input, page)
    }

    pub(crate) fn definition(&self) -> wit::ActionDefinition {
        wit::ActionDefinition {
            key: self.key.to_string(),
            display_name: self.display_name.to_string(),
            description: self.description.to_string(),
            input_schema: (self.input_schema)(),
            output_schema: Some((self.output_schema)()),
            effect: match self.effect {
                Effect::Read => wit::Effect::Read,
                Effect::Write => wit::Effect::Write,
                Effect::Destructive => wit::Effect::Destructive,
            },
            required_scopes: self.scopes.iter().map(|s| s.to_string()).collect(),
            paginated: self.paginated,
        }
    }
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Action")
            .field("key", &self.key)
            .field("effect", &self.effect)
            .field("paginated", &self.paginated)
            .field("dynamic_fields", &self.dynamic_fields)
            .finish_non_exhaustive()
    }
}

fn parse_input<I: DeserializeOwned>(input: &str) -> Result<I> {
    serde_json::from_str(input).map_err(|e| Error::invalid_input(e.to_string()))
}
