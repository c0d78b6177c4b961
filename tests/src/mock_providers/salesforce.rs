//! A strict Salesforce REST API on loopback, as an org's instance
//! (`/services/data/v62.0/...`): a bearer token, sObject create, get,
//! update and delete with required fields, SOQL (a subset: a field list or
//! `FIELDS(STANDARD)`, one comparison, `ORDER BY`, `LIMIT`) answered in
//! batches with `nextRecordsUrl`, and Salesforce's error arrays
//! (`[{"message", "errorCode"}]`). An object's describe lists its custom
//! fields (the org's own, changeable by tests, or made to fail), and a
//! create naming a custom field the object lacks is refused, as Salesforce
//! does. Also Salesforce's documented token answer, whose `instance_url`
//! names this mock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::recorder::{Calls, Incoming, Tokens, serve};
use crate::mock_auth::TokenDialect;

/// The API version path every call goes under.
pub const VERSION_PATH: &str = "/services/data/v62.0";
/// The org.
pub const ORG_ID: &str = "00D000000000001EAA";
/// The org's name.
pub const ORG_NAME: &str = "Acme Corp";

/// Salesforce's token answer (help.salesforce.com, "OAuth 2.0 Web Server
/// Flow"): `instance_url` (this mock), the identity URL, `issued_at` and a
/// signature, and no `expires_in`.
pub fn token_dialect(instance_url: &str) -> TokenDialect {
    let instance = instance_url.to_owned();
    TokenDialect::answering(move |standard, user| {
        let mut answer = json!({
            "access_token": standard["access_token"],
            "signature": "d/SxeYBxH0GSVko0HMgcUxuZy0PA2cDDz1u7g7JtDHw=",
            "scope": "refresh_token api",
            "instance_url": instance,
            "id": format!("https://login.salesforce.com/id/{ORG_ID}/{user}"),
            "token_type": "Bearer",
            "issued_at": "1558553873237",
        });
        if let Some(r) = standard.get("refresh_token") {
            answer["refresh_token"] = r.clone();
        }
        answer
    })
}

/// A custom field as describe lists it: createable, nillable, of
/// Salesforce type `kind` (`string`, `double`, `boolean`, …).
pub fn custom_field(name: &str, label: &str, kind: &str) -> Value {
    json!({
        "name": name, "label": label, "type": kind, "custom": true, "createable": true,
        "nillable": kind != "boolean", "defaultedOnCreate": kind == "boolean", "picklistValues": [],
    })
}

/// A custom picklist field with `values`, all active.
pub fn picklist_field(name: &str, label: &str, values: &[&str]) -> Value {
    let mut field = custom_field(name, label, "picklist");
    field["picklistValues"] =
        values.iter().map(|v| json!({ "value": v, "label": v, "active": true, "defaultValue": false })).collect();
    field
}

/// The standard fields describe lists beside the custom ones (a few: the
/// real answer has dozens), so a plugin must pick the custom ones out.
fn standard_fields(object: &str) -> Vec<Value> {
    let mut fields = vec![json!({
        "name": "Id", "label": "Record ID", "type": "id", "custom": false, "createable": false, "nillable": false,
        "defaultedOnCreate": true, "picklistValues": [],
    })];
    for name in required(object).unwrap_or_default() {
        fields.push(json!({
            "name": name, "label": name, "type": "string", "custom": false, "createable": true, "nillable": false,
            "defaultedOnCreate": false, "picklistValues": [],
        }));
    }
    fields
}

/// `GET /sobjects/{object}/describe`: the object's fields, standard and
/// custom, with a formula field that cannot be set.
fn describe(org: &Org, object: &str) -> (u16, Value) {
    if let Some(status) = org.describe_failure {
        return errors(status, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId");
    }
    if required(object).is_none() {
        return errors(404, "NOT_FOUND", "The requested resource does not exist");
    }
    let mut fields = standard_fields(object);
    fields.extend(org.custom_fields.get(object).cloned().unwrap_or_default());
    fields.push(json!({
        "name": "Score_Formula__c", "label": "Score (formula)", "type": "double", "custom": true,
        "createable": false, "nillable": true, "defaultedOnCreate": false, "picklistValues": [],
    }));
    (200, json!({ "name": object, "custom": object.ends_with("__c"), "createable": true, "fields": fields }))
}

/// The first custom field of `fields` that `object` does not have.
fn unknown_custom_field<'a>(org: &Org, object: &str, fields: &'a Map<String, Value>) -> Option<&'a str> {
    let known = org.custom_fields.get(object);
    fields.keys().map(String::as_str).find(|name| {
        name.ends_with("__c") && !known.is_some_and(|k| k.iter().any(|f| f["name"].as_str() == Some(*name)))
    })
}

fn errors(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!([{ "message": message, "errorCode": code }]))
}

/// The required fields of the standard objects the mock knows.
fn required(object: &str) -> Option<&'static [&'static str]> {
    Some(match object {
        "Account" => &["Name"],
        "Contact" => &["LastName"],
        "Lead" => &["LastName", "Company"],
        "Opportunity" => &["Name", "StageName", "CloseDate"],
        "Case" | "Invoice__c" => &[],
        _ => return None,
    })
}

fn prefix(object: &str) -> &'static str {
    match object {
        "Account" => "001",
        "Contact" => "003",
        "Lead" => "00Q",
        "Opportunity" => "006",
        "Case" => "500",
        _ => "a00",
    }
}

struct Org {
    records: HashMap<String, Vec<Map<String, Value>>>,
    /// Each object's custom fields, as describe lists them.
    custom_fields: HashMap<String, Vec<Value>>,
    /// Describe answers this status instead, when set.
    describe_failure: Option<u16>,
    now: String,
    counter: u64,
    batch: usize,
    /// Rows left of each open query, with the query's total.
    cursors: HashMap<String, (usize, Vec<Value>)>,
}

/// A running Salesforce mock.
pub struct SalesforceMock {
    /// `http://127.0.0.1:<port>`: the instance URL.
    pub base: String,
    /// Every call received.
    pub calls: Calls,
    state: Arc<Mutex<Org>>,
}

#[derive(Clone)]
struct Shared {
    tokens: Tokens,
    calls: Calls,
    state: Arc<Mutex<Org>>,
}

impl SalesforceMock {
    /// Starts the mock with the org and no records, at `2024-05-01T10:00:00.000+0000`.
    pub async fn start(tokens: Tokens) -> Self {
        let mut records = HashMap::new();
        let org = json!({ "attributes": { "type": "Organization" }, "Id": ORG_ID, "Name": ORG_NAME });
        records.insert("Organization".to_owned(), vec![org.as_object().cloned().unwrap_or_default()]);
        let custom_fields = HashMap::from([
            ("Opportunity".to_owned(), vec![picklist_field("Priority__c", "Priority", &["High", "Low"])]),
            ("Invoice__c".to_owned(), vec![custom_field("Total__c", "Total", "currency")]),
        ]);
        let org = Org {
            records,
            custom_fields,
            describe_failure: None,
            now: "2024-05-01T10:00:00.000+0000".into(),
            counter: 0,
            batch: 2000,
            cursors: HashMap::new(),
        };
        let state = Arc::new(Mutex::new(org));
        let calls = Calls::default();
        let shared = Shared { tokens, calls: calls.clone(), state: state.clone() };
        let base = serve(Router::new().fallback(handle).with_state(shared)).await;
        Self { base, calls, state }
    }

    /// The REST API base URL (`{base}/services/data/v62.0`).
    pub fn api_base(&self) -> String {
        format!("{}{VERSION_PATH}", self.base)
    }

    /// Moves the mock's clock (`2024-05-01T10:00:01.000+0000`).
    pub fn set_now(&self, now: &str) {
        self.lock().now = now.into();
    }

    /// SOQL answers hold at most `size` records per batch (2000 by default).
    pub fn set_batch_size(&self, size: usize) {
        self.lock().batch = size.max(1);
    }

    /// Creates a record at the current time; its id.
    pub fn insert(&self, object: &str, fields: Value) -> String {
        self.lock().insert(object, fields.as_object().cloned().unwrap_or_default())
    }

    /// Changes a record at the current time.
    pub fn touch(&self, object: &str, id: &str) {
        let mut org = self.lock();
        let now = org.now.clone();
        if let Some(r) = org.records.get_mut(object).and_then(|rs| rs.iter_mut().find(|r| r["Id"] == id)) {
            r.insert("SystemModstamp".into(), json!(now));
        }
    }

    /// Adds a custom field to `object` (see [`custom_field`]).
    pub fn add_custom_field(&self, object: &str, field: Value) {
        self.lock().custom_fields.entry(object.to_owned()).or_default().push(field);
    }

    /// Makes every describe answer `status` (Salesforce's error array), or
    /// answer normally again with `None`.
    pub fn fail_describe(&self, status: Option<u16>) {
        self.lock().describe_failure = status;
    }

    /// The describe calls of `object` received so far.
    pub fn describe_calls(&self, object: &str) -> usize {
        self.calls.to(&format!("/sobjects/{object}/describe")).len()
    }

    /// A record as the mock holds it.
    pub fn record(&self, object: &str, id: &str) -> Option<Value> {
        self.lock().records.get(object)?.iter().find(|r| r["Id"] == id).cloned().map(Value::Object)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Org> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Org {
    fn insert(&mut self, object: &str, mut fields: Map<String, Value>) -> String {
        self.counter += 1;
        let id = format!("{}{:012}AAA", prefix(object), self.counter);
        let url = format!("{VERSION_PATH}/sobjects/{object}/{id}");
        fields.insert("attributes".into(), json!({ "type": object, "url": url }));
        fields.insert("Id".into(), json!(id));
        fields.insert("CreatedDate".into(), json!(self.now));
        fields.insert("SystemModstamp".into(), json!(self.now));
        self.records.entry(object.to_owned()).or_default().push(fields);
        id
    }
}

async fn handle(State(shared): State<Shared>, req: Request) -> Response {
    let req = Incoming::read(req).await;
    let (status, body) = answer(&shared, &req);
    shared.calls.push(req.call(status));
    let status_code = axum::http::StatusCode::from_u16(status).unwrap_or_default();
    if status == 204 { status_code.into_response() } else { (status_code, axum::Json(body)).into_response() }
}

fn answer(shared: &Shared, req: &Incoming) -> (u16, Value) {
    if shared.tokens.account_of(&req.headers).is_none() {
        return errors(401, "INVALID_SESSION_ID", "Session expired or invalid");
    }
    let Some(rest) = req.path.strip_prefix(VERSION_PATH) else {
        return errors(404, "NOT_FOUND", "The requested resource does not exist");
    };
    let mut org = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["query"]) => match req.query_value("q") {
            Some(q) => run_query(&mut org, q),
            None => errors(400, "MALFORMED_QUERY", "A query string has to be specified"),
        },
        ("GET", ["query", locator]) => match org.cursors.remove(*locator) {
            Some((total, rows)) => batch(&mut org, total, rows),
            None => errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator"),
        },
        ("GET", ["sobjects", object, "describe"]) => describe(&org, object),
        ("POST", ["sobjects", object]) => {
            let Some(needed) = required(object) else {
                return errors(404, "NOT_FOUND", "The requested resource does not exist");
            };
            let fields = match (req.media_type().as_str(), req.json()) {
                ("application/json", Some(Value::Object(f))) => f,
                _ => return errors(400, "JSON_PARSER_ERROR", "The request body is not a JSON object"),
            };
            if let Some(name) = unknown_custom_field(&org, object, &fields) {
                let message = format!("No such column '{name}' on sobject of type {object}");
                return errors(400, "INVALID_FIELD", &message);
            }
            let missing: Vec<&str> =
                needed.iter().copied().filter(|f| fields.get(*f).is_none_or(Value::is_null)).collect();
            if !missing.is_empty() {
                let message = format!("Required fields are missing: [{}]", missing.join(", "));
                return (
                    400,
                    json!([{ "message": message, "errorCode": "REQUIRED_FIELD_MISSING", "fields": missing }]),
                );
            }
            let id = org.insert(object, fields);
            (201, json!({ "id": id, "success": true, "errors": [] }))
        }
        (method, ["sobjects", object, id]) => {
            let now = org.now.clone();
            let Some(records) = org.records.get_mut(*object) else {
                return errors(404, "NOT_FOUND", "The requested resource does not exist");
            };
            let Some(at) = records.iter().position(|r| r["Id"] == *id) else {
                return errors(404, "NOT_FOUND", "The requested resource does not exist");
            };
            match method {
                "GET" => {
                    let record = &records[at];
                    match req.query_value("fields") {
                        Some(list) => (
                            200,
                            Value::Object(project(record, &list.split(',').map(str::to_owned).collect::<Vec<_>>())),
                        ),
                        None => (200, Value::Object(record.clone())),
                    }
                }
                "PATCH" => match req.json() {
                    Some(Value::Object(fields)) if req.media_type() == "application/json" => {
                        records[at].extend(fields);
                        records[at].insert("SystemModstamp".into(), json!(now));
                        (204, Value::Null)
                    }
                    _ => errors(400, "JSON_PARSER_ERROR", "The request body is not a JSON object"),
                },
                "DELETE" => {
                    records.remove(at);
                    (204, Value::Null)
                }
                _ => errors(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed"),
            }
        }
        _ => errors(404, "NOT_FOUND", "The requested resource does not exist"),
    }
}

/// `record` with only `fields` (and its attributes).
fn project(record: &Map<String, Value>, fields: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("attributes".into(), record.get("attributes").cloned().unwrap_or(Value::Null));
    for f in fields {
        out.insert(f.clone(), record.get(f).cloned().unwrap_or(Value::Null));
    }
    out
}

/// One batch of `rows` (of a query of `total` rows); the rest is kept under a locator.
fn batch(org: &mut Org, total: usize, rows: Vec<Value>) -> (u16, Value) {
    if rows.len() <= org.batch {
        return (200, json!({ "totalSize": total, "done": true, "records": rows }));
    }
    let (first, rest) = rows.split_at(org.batch);
    org.counter += 1;
    let locator = format!("01gMOCK{:08}-{}", org.counter, org.batch);
    org.cursors.insert(locator.clone(), (total, rest.to_vec()));
    let next = format!("{VERSION_PATH}/query/{locator}");
    (200, json!({ "totalSize": total, "done": false, "nextRecordsUrl": next, "records": first }))
}

/// A parsed SOQL query of the subset the mock answers.
struct Soql {
    fields: Option<Vec<String>>,
    object: String,
    filter: Option<(String, String, String)>,
    order: Vec<(String, bool)>,
    limit: Option<usize>,
}

fn parse(q: &str) -> Result<Soql, String> {
    let upper = q.to_ascii_uppercase();
    let from = upper.find(" FROM ").ok_or("no FROM")?;
    let select = q.get(..from).filter(|s| s.to_ascii_uppercase().starts_with("SELECT ")).ok_or("no SELECT")?;
    let list = select[7..].trim();
    let fields = if list.eq_ignore_ascii_case("FIELDS(STANDARD)") {
        None
    } else {
        Some(list.split(',').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect())
    };
    let rest = q[from + 6..].replace(',', " , ");
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let object = tokens.first().ok_or("no object")?.to_string();
    let (mut filter, mut order, mut limit, mut i) = (None, Vec::new(), None, 1);
    while i < tokens.len() {
        match tokens[i].to_ascii_uppercase().as_str() {
            "WHERE" => {
                let [field, op, literal] = tokens.get(i + 1..i + 4).ok_or("incomplete WHERE")? else {
                    return Err("WHERE".into());
                };
                filter = Some((field.to_string(), op.to_string(), literal.to_string()));
                i += 4;
            }
            "ORDER" if tokens.get(i + 1).is_some_and(|t| t.eq_ignore_ascii_case("BY")) => {
                i += 2;
                while i < tokens.len() && !tokens[i].eq_ignore_ascii_case("LIMIT") {
                    let field = tokens[i].to_string();
                    i += 1;
                    let mut descending = false;
                    if let Some(dir) =
                        tokens.get(i).filter(|t| t.eq_ignore_ascii_case("ASC") || t.eq_ignore_ascii_case("DESC"))
                    {
                        descending = dir.eq_ignore_ascii_case("DESC");
                        i += 1;
                    }
                    order.push((field, descending));
                    if tokens.get(i) == Some(&",") {
                        i += 1;
                    }
                }
            }
            "LIMIT" => {
                limit = Some(tokens.get(i + 1).and_then(|n| n.parse().ok()).ok_or("bad LIMIT")?);
                i += 2;
            }
            other => return Err(format!("unexpected token {other}")),
        }
    }
    Ok(Soql { fields, object, filter, order, limit })
}

/// A SOQL literal as the stored value it compares with: a quoted string,
/// or a dateTime (`2024-05-01T10:00:00Z`) in the API's own format.
fn literal(text: &str) -> Result<String, String> {
    if let Some(s) = text.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Ok(s.to_owned());
    }
    let ok = text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T';
    if ok { Ok(format!("{}.000+0000", &text[..19])) } else { Err(format!("bad literal {text}")) }
}

fn run_query(org: &mut Org, q: &str) -> (u16, Value) {
    let soql = match parse(q) {
        Ok(s) => s,
        Err(why) => return errors(400, "MALFORMED_QUERY", &format!("unexpected query: {why}")),
    };
    let Some(records) = org.records.get(&soql.object) else {
        let message = format!("sObject type '{}' is not supported.", soql.object);
        return errors(400, "INVALID_TYPE", &message);
    };
    let mut rows: Vec<Map<String, Value>> = records.clone();
    if let Some((field, op, text)) = &soql.filter {
        let value = match literal(text) {
            Ok(v) => v,
            Err(why) => return errors(400, "MALFORMED_QUERY", &why),
        };
        rows.retain(|r| {
            let have = r.get(field).and_then(Value::as_str).unwrap_or_default();
            match op.as_str() {
                "=" => have == value,
                ">" => have > value.as_str(),
                ">=" => have >= value.as_str(),
                "<" => have < value.as_str(),
                "<=" => have <= value.as_str(),
                _ => false,
            }
        });
    }
    for (field, descending) in soql.order.iter().rev() {
        rows.sort_by(|a, b| {
            let order = a.get(field).and_then(Value::as_str).cmp(&b.get(field).and_then(Value::as_str));
            if *descending { order.reverse() } else { order }
        });
    }
    rows.truncate(soql.limit.unwrap_or(usize::MAX));
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Object(match &soql.fields {
                Some(f) => project(r, f),
                None => r.clone(),
            })
        })
        .collect();
    batch(org, rows.len(), rows)
}
