//! Steps: what runs after the trigger. Any string inside a step's settings
//! may hold dynamic variables (see [`crate::template`]); [`Step::templated`]
//! is that part of a step.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::condition::Condition;

/// One step: its id and options, and what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::close_variants)]
pub struct Step {
    /// Unique in the workflow: 1 to 64 ASCII letters, digits, `_` or `-`.
    /// Later steps read its output as `{{<id>.output…}}`.
    pub id: String,
    /// The step's title in the task history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Retry a failed attempt on the retry schedule (Request, Integration
    /// Request, Integration Action and Function steps).
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_retry: bool,
    /// When the step fails, continue with its error as its output instead
    /// of failing the execution (the same kinds of steps).
    #[serde(default, skip_serializing_if = "is_false")]
    pub continue_workflow_on_error: bool,
    /// What the step does.
    #[serde(flatten)]
    pub kind: StepKind,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum StepKind {
    /// An HTTP request to any API; output `response` (`statusCode`,
    /// `headers`, `body`).
    Request(RequestStep),
    /// An HTTP request to the integration's API as the user's account: a
    /// path under its base URL, or a full URL on a host it permits; output
    /// `response`.
    IntegrationRequest(IntegrationRequestStep),
    /// An HTTP request to an API resource as the user's connection of it
    /// (or, for an app-level resource, the app's): a path under the
    /// resource's base URL, or a full URL on a host it permits; output
    /// `response`.
    ResourceRequest(ResourceRequestStep),
    /// One of the integration's actions; output the action's result.
    IntegrationAction(IntegrationActionStep),
    /// A function step component run with parameters; output `result`.
    Function(FunctionStep),
    /// Runs `then` or `else`; output `selectedChoice` (`"Yes"`/`"No"`).
    Conditional {
        /// The condition: rules combined as an OR of ANDs.
        #[serde(rename = "if")]
        condition: Condition,
        /// The steps run when it holds (none: carry on after the step).
        #[serde(default, rename = "then")]
        then: Vec<Step>,
        /// The steps run when it does not.
        #[serde(default, rename = "else")]
        otherwise: Vec<Step>,
    },
    /// Runs `steps` once per item of `iterator`, in parallel, and carries on
    /// once every run ended; inside, `{{<id>.output.instance}}` is the item.
    FanOut {
        /// The items: an array, or a reference to one.
        iterator: Value,
        /// The body, run per item.
        steps: Vec<Step>,
        /// The most items whose body runs at once (the next item starts as
        /// one ends); none: the engine's `workflows.fan_out_parallel`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 1))]
        max_parallel: Option<u32>,
    },
    /// Answers the request that started a Request-triggered execution.
    Response(ResponseStep),
    /// Waits before the next step (durably: the execution is parked).
    Delay {
        /// How long, in `unit`s; more than zero.
        value: f64,
        /// The unit of `value`.
        #[serde(default)]
        unit: DelayUnit,
    },
}

impl StepKind {
    /// The kind's name, as files spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Request(_) => "request",
            Self::IntegrationRequest(_) => "integrationRequest",
            Self::ResourceRequest(_) => "resourceRequest",
            Self::IntegrationAction(_) => "integrationAction",
            Self::Function(_) => "function",
            Self::Conditional { .. } => "conditional",
            Self::FanOut { .. } => "fanOut",
            Self::Response(_) => "response",
            Self::Delay { .. } => "delay",
        }
    }

    /// The step's type as the task history shows it: `ACTION/` and the
    /// kind in upper snake case (the reference's `ACTION/REQUEST` pattern).
    pub fn history_type(&self) -> &'static str {
        match self {
            Self::Request(_) => "ACTION/REQUEST",
            Self::IntegrationRequest(_) => "ACTION/INTEGRATION_REQUEST",
            Self::ResourceRequest(_) => "ACTION/RESOURCE_REQUEST",
            Self::IntegrationAction(_) => "ACTION/INTEGRATION_ACTION",
            Self::Function(_) => "ACTION/FUNCTION",
            Self::Conditional { .. } => "ACTION/CONDITIONAL",
            Self::FanOut { .. } => "ACTION/FAN_OUT",
            Self::Response(_) => "ACTION/RESPONSE",
            Self::Delay { .. } => "ACTION/DELAY",
        }
    }

    /// Whether it calls something that can fail on its own: only these
    /// steps take `autoRetry` and `continueWorkflowOnError`.
    pub fn calls_out(&self) -> bool {
        matches!(
            self,
            Self::Request(_)
                | Self::IntegrationRequest(_)
                | Self::ResourceRequest(_)
                | Self::IntegrationAction(_)
                | Self::Function(_)
        )
    }

    /// Whether it has an output later steps may read.
    pub fn has_output(&self) -> bool {
        !matches!(self, Self::Response(_) | Self::Delay { .. })
    }

    /// How a Request or Integration Request step pages by custom
    /// pagination, if it does.
    pub fn pagination(&self) -> Option<&Pagination> {
        match self {
            Self::Request(r) => r.pagination.as_ref(),
            Self::IntegrationRequest(r) => match &r.pagination {
                Some(IntegrationPagination::Custom(p)) => Some(p),
                _ => None,
            },
            _ => None,
        }
    }

    /// How an Integration Request step pages by its integration's
    /// pre-configured pagination, if it does.
    pub fn preset_pagination(&self) -> Option<&PresetPagination> {
        match self {
            Self::IntegrationRequest(IntegrationRequestStep {
                pagination: Some(IntegrationPagination::Preconfigured(p)),
                ..
            }) => Some(p),
            _ => None,
        }
    }
}

impl Step {
    /// The steps directly nested in this one: a conditional's `then` then
    /// `else`, a fan-out's body.
    pub fn children(&self) -> impl DoubleEndedIterator<Item = &Step> {
        let (first, second): (&[Step], &[Step]) = match &self.kind {
            StepKind::Conditional { then, otherwise, .. } => (then, otherwise),
            StepKind::FanOut { steps, .. } => (steps, &[]),
            _ => (&[], &[]),
        };
        first.iter().chain(second)
    }

    /// The parts of the step that may hold dynamic variables, keyed as in
    /// the file: what the executor resolves into the step's input (and
    /// records), and where references are checked. Nested steps, the kind
    /// and a function's code are not part of it.
    pub fn templated(&self) -> Value {
        let mut value = serde_json::to_value(&self.kind).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            for key in ["type", "then", "else", "steps", "code"] {
                object.remove(key);
            }
        }
        value
    }

    /// How long a Delay step waits; `None` for other steps, or a value
    /// out of range (which validation refuses).
    pub fn delay(&self) -> Option<std::time::Duration> {
        let StepKind::Delay { value, unit } = &self.kind else { return None };
        std::time::Duration::try_from_secs_f64(value * unit.seconds()).ok()
    }
}

/// The HTTP methods a request step may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)] // The names say it all; the schema lists them as an `enum`.
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// How a request body is encoded: `json`, `form-data` (multipart),
/// `x-www-form-urlencoded`, `xml` or `raw` (text as given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)] // Listed above; the schema lists them as an `enum`.
pub enum BodyType {
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "form-data")]
    FormData,
    #[serde(rename = "x-www-form-urlencoded")]
    UrlEncoded,
    #[serde(rename = "xml")]
    Xml,
    #[serde(rename = "raw")]
    Raw,
}

/// What both request steps send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpFields {
    /// The method.
    pub method: Method,
    /// The URL (a path under the integration's base URL, for an
    /// Integration Request).
    pub url: String,
    /// Query parameters added to the URL's own.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "scalar_map")]
    pub params: Map<String, Value>,
    /// Request headers.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "scalar_map")]
    pub headers: Map<String, Value>,
    /// How `body` is encoded; required with a body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_type: Option<BodyType>,
    /// The body: any JSON for `json`, an object of fields for the form
    /// types, a string for `xml` and `raw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A request to an API resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequestStep {
    /// The resource's id (a UUID, as the admin API answers it).
    pub resource: String,
    /// What is sent; `url` is a path under the resource's base URL.
    #[serde(flatten)]
    pub http: HttpFields,
}

/// An object whose values are strings, numbers or booleans (query
/// parameters and headers).
fn scalar_map(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
    })
}

/// A Request step: an HTTP request to any API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestStep {
    /// Method, URL, parameters, headers and body.
    #[serde(flatten)]
    pub http: HttpFields,
    /// How the request authenticates, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Fetch every page of the answer, not just the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// An Integration Request step: an HTTP request to the integration's API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationRequestStep {
    /// Method, URL (a path under the integration's base URL, or a full URL
    /// on a host it permits), parameters, headers and body.
    #[serde(flatten)]
    pub http: HttpFields,
    /// Fetch every page of the answer, not just the first: by custom
    /// pagination, or the integration's own (`{}`, or with `limit`, `skip`
    /// or `previousPage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<IntegrationPagination>,
}

/// How an Integration Request step pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IntegrationPagination {
    /// Custom pagination, as a Request step's.
    Custom(Pagination),
    /// The integration's pre-configured pagination (its definition's or
    /// plugin's `pagination`), optionally bounded.
    Preconfigured(PresetPagination),
}

/// Options of an integration's pre-configured pagination. The step's output
/// is every page's results in order (`response.results`); when `limit`
/// stopped it at the end of a page with more to fetch, or the integration
/// pages by offset, `response.nextPage` is where a later step may go on
/// (its `previousPage`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresetPagination {
    /// At most this many results in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u64>,
    /// Leave out this many results first (an offset where the integration
    /// pages by offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u64>,
    /// Start at this page: a next page's URL or cursor (an earlier output's
    /// `response.nextPage`); may read `{{…}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_page: Option<String>,
}

impl PresetPagination {
    /// Why an integration without a pagination strategy cannot page this
    /// way, and what to write instead.
    pub fn unavailable(integration: &str) -> String {
        format!(
            "`{integration}` has no pre-configured pagination: give `outputPath`, `pageToken` and `stopCondition` \
             (custom pagination)"
        )
    }
}

/// Custom pagination of a request step: the step sends its request again
/// with each next page's token (`{{self.pageToken}}` in its URL,
/// parameters, headers or body; nothing on the first page) until the stop
/// condition holds, and its output is every page's results in order. Here
/// `{{self.output…}}` is the page just fetched, shaped like a request
/// step's output (`{{self.output.response.body…}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pagination {
    /// The array of one page's results:
    /// `{{self.output.response.body.data}}`.
    pub output_path: String,
    /// The token of the page after this one:
    /// `{{self.output.response.body.nextPageToken}}`.
    pub page_token: String,
    /// When the page just fetched is the last one:
    /// `{left: "{{self.output.response.body.nextPageToken}}", operator: doesNotExist}`.
    pub stop_condition: Condition,
}

/// How a Request step authenticates. Values usually come from
/// `{{secrets.<NAME>}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Authorization {
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// A bearer token.
    Bearer {
        /// The token.
        token: String,
    },
    /// An OAuth 2.0 client credentials grant; its access token is sent as a
    /// bearer token.
    ClientCredentials {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: String,
        /// Scopes to ask for, space separated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
}

/// An Integration Action step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationActionStep {
    /// The action's name (`SLACK_SEND_MESSAGE`).
    pub action: String,
    /// The action's input.
    #[serde(default)]
    pub input: Map<String, Value>,
}

/// A Function step: a function-step component, or (a later issue)
/// JavaScript code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStep {
    /// The id of the installed function-step component to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// JavaScript source (`function execute(parameters, libraries) {…}`),
    /// instead of a component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What the function receives.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

/// A Response step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseStep {
    /// The HTTP status of the answer.
    #[serde(default = "ok")]
    #[schemars(range(min = 100, max = 599))]
    pub status_code: u16,
    /// A JSON answer, or a file's bytes.
    #[serde(default)]
    pub response_type: ResponseType,
    /// The JSON to answer, or (for `FILE`) a reference to a file object.
    pub body: Value,
}

fn ok() -> u16 {
    200
}

/// What a Response step answers: `JSON`, or `FILE` (the bytes of a file
/// object, with its MIME type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)] // Listed above; the schema lists them as an `enum`.
pub enum ResponseType {
    #[default]
    Json,
    File,
}

/// The unit of a delay: `SECONDS`, `MINUTES` (the default), `HOURS` or
/// `DAYS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)] // Listed above; the schema lists them as an `enum`.
pub enum DelayUnit {
    Seconds,
    #[default]
    Minutes,
    Hours,
    Days,
}

impl DelayUnit {
    /// Seconds in one unit.
    pub fn seconds(self) -> f64 {
        match self {
            Self::Seconds => 1.0,
            Self::Minutes => 60.0,
            Self::Hours => 3_600.0,
            Self::Days => 86_400.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(value: Value) -> Step {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_request_step_flattens_its_http_fields() {
        let s = step(json!({
            "id": "post", "type": "request", "method": "POST", "url": "https://api.test/x",
            "headers": {"X-Team": "{{settings.team}}"}, "bodyType": "json", "body": {"a": 1},
            "authorization": {"type": "bearer", "token": "{{secrets.API_KEY}}"}, "autoRetry": true
        }));
        let StepKind::Request(r) = &s.kind else { panic!("a request step") };
        assert_eq!(r.http.method, Method::Post);
        assert_eq!(r.http.body_type, Some(BodyType::Json));
        assert!(matches!(&r.authorization, Some(Authorization::Bearer { token }) if token == "{{secrets.API_KEY}}"));
        assert!(s.auto_retry && !s.continue_workflow_on_error);
        assert!(s.kind.calls_out() && s.kind.has_output());
        assert_eq!((s.kind.name(), s.kind.history_type()), ("request", "ACTION/REQUEST"));
        assert_eq!(serde_json::from_value::<Step>(serde_json::to_value(&s).unwrap()).unwrap(), s);
    }

    #[test]
    fn templated_leaves_out_nested_steps_the_kind_and_code() {
        let s = step(json!({
            "id": "c", "type": "conditional", "if": {"left": "{{a.output.ok}}", "operator": "isTrue"},
            "then": [{"id": "d", "type": "delay", "value": 1}]
        }));
        assert_eq!(s.templated(), json!({"if": {"left": "{{a.output.ok}}", "operator": "isTrue"}}));
        assert_eq!(s.children().count(), 1);
        let f = step(json!({"id": "f", "type": "function", "code": "return 1", "parameters": {"x": "{{a.output}}"}}));
        assert_eq!(f.templated(), json!({"parameters": {"x": "{{a.output}}"}}));
    }

    #[test]
    fn delays_convert_their_unit() {
        let d = step(json!({"id": "d", "type": "delay", "value": 1.5}));
        assert_eq!(d.delay(), Some(std::time::Duration::from_secs(90)));
        let d = step(json!({"id": "d", "type": "delay", "value": 2, "unit": "DAYS"}));
        assert_eq!(d.delay(), Some(std::time::Duration::from_secs(2 * 86_400)));
        assert!(!d.kind.has_output() && !d.kind.calls_out());
        let d = step(json!({"id": "d", "type": "delay", "value": -1}));
        assert_eq!(d.delay(), None);
    }
}
