//! A strict HubSpot API: the account-info details of the token's portal
//! and the CRM v3 objects API (create, read, update, archive, search with
//! `after` paging) for contacts, companies and deals.
//!
//! Checked as HubSpot documents it: `Authorization: Bearer <token>` (401
//! `INVALID_AUTHENTICATION`, or `EXPIRED_AUTHENTICATION` for a token
//! [`HubSpot::expire`]d), JSON bodies with a `properties` object of known
//! properties (400 `VALIDATION_ERROR` naming `PROPERTY_DOESNT_EXIST`), one
//! contact per email (409 `CONFLICT`), search `limit` at most 200, filter
//! operators from HubSpot's list and numeric `after` cursors. Errors carry
//! HubSpot's `{"status": "error", "message", "correlationId", "category"}`.

use super::server::{MockServer, Provider, Reply, Request, Tokens, rfc3339};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

/// The epoch second the mock's clock starts at.
const EPOCH: i64 = 1_714_564_800;

/// The mock's state.
#[derive(Debug)]
pub struct HubSpot {
    /// Accepted tokens and the portal id each belongs to.
    pub tokens: Tokens,
    expired: HashSet<String>,
    /// Records by object type, then id.
    pub records: BTreeMap<String, BTreeMap<u64, Value>>,
    /// Custom properties defined per object type, besides the standard ones.
    pub custom: BTreeMap<String, Vec<String>>,
    next_id: u64,
    clock: i64,
    correlation: u64,
}

impl Default for HubSpot {
    fn default() -> Self {
        Self {
            tokens: Tokens::default(),
            expired: HashSet::new(),
            records: ["contacts", "companies", "deals"].iter().map(|t| (t.to_string(), BTreeMap::new())).collect(),
            custom: BTreeMap::new(),
            next_id: 100,
            clock: 0,
            correlation: 0,
        }
    }
}

/// Starts a mock HubSpot API.
pub async fn start() -> MockServer<HubSpot> {
    MockServer::start(HubSpot::default()).await
}

/// The standard properties of an object type that the mock knows.
fn standard(object: &str) -> &'static [&'static str] {
    match object {
        "contacts" => &[
            "email",
            "firstname",
            "lastname",
            "jobtitle",
            "company",
            "phone",
            "hubspot_owner_id",
            "lifecyclestage",
            "hs_lead_status",
            "website",
            "city",
            "state",
        ],
        "companies" => &[
            "name",
            "domain",
            "industry",
            "phone",
            "city",
            "state",
            "hubspot_owner_id",
            "numberofemployees",
            "description",
        ],
        "deals" => &["dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id", "description"],
        _ => &[],
    }
}

/// The properties returned when a request names none.
fn defaults(object: &str) -> &'static [&'static str] {
    match object {
        "contacts" => &["email", "firstname", "lastname"],
        "companies" => &["name", "domain"],
        _ => &["dealname", "amount", "dealstage", "pipeline", "closedate"],
    }
}

const OPERATORS: [&str; 12] = [
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
];

impl HubSpot {
    /// Accepts `token` for `portal`.
    pub fn accept(&mut self, token: &str, portal: u64) {
        self.tokens.accept(token, &portal.to_string());
    }

    /// Answers `token` with 401 `EXPIRED_AUTHENTICATION` from now on.
    pub fn expire(&mut self, token: &str) {
        self.expired.insert(token.to_owned());
    }

    /// Stores a record of `object` with `properties` (as if created in
    /// HubSpot's UI); its id.
    pub fn seed(&mut self, object: &str, properties: Value) -> u64 {
        self.next_id += 1;
        let (id, now) = (self.next_id, self.now());
        let mut properties = properties.as_object().cloned().unwrap_or_default();
        properties.insert("hs_object_id".into(), id.to_string().into());
        properties.insert("createdate".into(), now.clone().into());
        properties.insert("lastmodifieddate".into(), now.clone().into());
        let record = json!({ "id": id.to_string(), "properties": properties, "createdAt": now, "updatedAt": now, "archived": false });
        self.records.entry(object.to_owned()).or_default().insert(id, record);
        id
    }

    /// Defines a custom property of an object type.
    pub fn define_property(&mut self, object: &str, name: &str) {
        self.custom.entry(object.to_owned()).or_default().push(name.to_owned());
    }

    fn error(&mut self, status: u16, category: &str, message: &str) -> Reply {
        self.correlation += 1;
        let id = format!("4f9c2d7e-0000-4000-8000-{:012}", self.correlation);
        Reply::json(status, json!({ "status": "error", "message": message, "correlationId": id, "category": category }))
    }

    fn known(&self, object: &str, property: &str) -> bool {
        let builtin = ["hs_object_id", "createdate", "lastmodifieddate"];
        builtin.contains(&property)
            || standard(object).contains(&property)
            || self.custom.get(object).is_some_and(|c| c.iter().any(|p| p == property))
    }

    /// Checks a write body: `{"properties": {known name: scalar}}`.
    fn properties(&mut self, object: &str, req: &Request) -> Result<Map<String, Value>, Reply> {
        let Some(body) = req.json() else {
            return Err(self.error(400, "VALIDATION_ERROR", "Invalid input JSON: the body is not JSON"));
        };
        let Some(properties) = body.get("properties").and_then(Value::as_object).cloned() else {
            return Err(self.error(400, "VALIDATION_ERROR", "Invalid input JSON: `properties` is required"));
        };
        let unknown: Vec<String> = properties.keys().filter(|k| !self.known(object, k)).cloned().collect();
        if let Some(name) = unknown.first() {
            let detail = json!([{ "isValid": false, "message": format!("Property \"{name}\" does not exist"),
                "error": "PROPERTY_DOESNT_EXIST", "name": name }]);
            return Err(self.error(400, "VALIDATION_ERROR", &format!("Property values were not valid: {detail}")));
        }
        if let Some((name, _)) = properties.iter().find(|(_, v)| v.is_object() || v.is_array()) {
            return Err(self.error(
                400,
                "VALIDATION_ERROR",
                &format!("Property values were not valid: {name} must be a scalar"),
            ));
        }
        Ok(properties
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.as_str().map_or_else(|| v.to_string(), str::to_owned))))
            .collect())
    }

    /// A record as the API shows it, with `wanted` (or the defaults).
    fn view(object: &str, record: &Value, wanted: Option<&[String]>) -> Value {
        let all = record["properties"].as_object().cloned().unwrap_or_default();
        let mut names: Vec<String> = ["hs_object_id", "createdate", "lastmodifieddate"].map(String::from).to_vec();
        match wanted {
            Some(w) if !w.is_empty() => names.extend(w.iter().cloned()),
            _ => names.extend(defaults(object).iter().map(|s| s.to_string())),
        }
        let properties: Map<String, Value> =
            names.into_iter().map(|n| (n.clone(), all.get(&n).cloned().unwrap_or(Value::Null))).collect();
        let mut out = record.clone();
        out["properties"] = Value::Object(properties);
        out
    }
}

impl Provider for HubSpot {
    fn handle(&mut self, req: &Request, _base: &str) -> Reply {
        let token = req.bearer().unwrap_or_default().to_owned();
        if self.expired.contains(&token) {
            return self.error(
                401,
                "EXPIRED_AUTHENTICATION",
                "The OAuth token used to make this call expired 1 minute(s) ago.",
            );
        }
        let Some(portal) = self.tokens.account(req) else {
            return self.error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
            );
        };
        let segments = req.segments();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (req.method.as_str(), s.as_slice()) {
            ("GET", ["account-info", "v3", "details"]) => Reply::json(
                200,
                json!({ "portalId": portal.parse::<u64>().unwrap_or(0), "accountType": "STANDARD", "timeZone": "US/Eastern",
                    "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
                    "utcOffsetMilliseconds": -18_000_000, "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1" }),
            ),
            (method, ["crm", "v3", "objects", object, rest @ ..]) if self.records.contains_key(*object) => {
                let object = object.to_string();
                match (method, rest) {
                    ("POST", []) => self.create(&object, req),
                    ("POST", ["search"]) => self.search(&object, req),
                    ("GET", [id]) => self.read(&object, id, req),
                    ("PATCH", [id]) => self.update(&object, id, req),
                    ("DELETE", [id]) => self.archive(&object, id),
                    _ => self.error(404, "OBJECT_NOT_FOUND", "Unable to infer object type from the path."),
                }
            }
            _ => self.error(404, "OBJECT_NOT_FOUND", "Resource not found"),
        }
    }
}

impl HubSpot {
    fn now(&mut self) -> String {
        self.clock += 1;
        rfc3339(EPOCH + self.clock)
    }

    fn create(&mut self, object: &str, req: &Request) -> Reply {
        let mut properties = match self.properties(object, req) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        let duplicate = match properties.get("email").and_then(Value::as_str) {
            Some(email) if object == "contacts" => {
                self.records[object].iter().find(|(_, r)| r["properties"]["email"] == email).map(|(id, _)| *id)
            }
            _ => None,
        };
        if let Some(id) = duplicate {
            return self.error(409, "CONFLICT", &format!("Contact already exists. Existing ID: {id}"));
        }
        self.next_id += 1;
        let (id, now) = (self.next_id, self.now());
        properties.insert("hs_object_id".into(), id.to_string().into());
        properties.insert("createdate".into(), now.clone().into());
        properties.insert("lastmodifieddate".into(), now.clone().into());
        let record = json!({ "id": id.to_string(), "properties": properties, "createdAt": now, "updatedAt": now, "archived": false });
        let view = Self::view(object, &record, None);
        self.records.get_mut(object).map(|r| r.insert(id, record));
        Reply::json(201, view)
    }

    fn find(&mut self, object: &str, id: &str) -> Result<u64, Reply> {
        match id.parse::<u64>().ok().filter(|n| self.records[object].contains_key(n)) {
            Some(n) => Ok(n),
            None => Err(self.error(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.")),
        }
    }

    fn read(&mut self, object: &str, id: &str, req: &Request) -> Reply {
        let n = match self.find(object, id) {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        let wanted: Option<Vec<String>> =
            req.query_value("properties").map(|p| p.split(',').map(str::to_owned).filter(|p| !p.is_empty()).collect());
        Reply::json(200, Self::view(object, &self.records[object][&n], wanted.as_deref()))
    }

    fn update(&mut self, object: &str, id: &str, req: &Request) -> Reply {
        let n = match self.find(object, id) {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        let changes = match self.properties(object, req) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        let now = self.now();
        let Some(record) = self.records.get_mut(object).and_then(|r| r.get_mut(&n)) else {
            return Reply::empty(500);
        };
        for (k, v) in changes {
            record["properties"][k] = v;
        }
        record["properties"]["lastmodifieddate"] = now.clone().into();
        record["updatedAt"] = now.into();
        let record = record.clone();
        Reply::json(200, Self::view(object, &record, None))
    }

    fn archive(&mut self, object: &str, id: &str) -> Reply {
        match self.find(object, id) {
            Ok(n) => {
                self.records.get_mut(object).map(|r| r.remove(&n));
                Reply::empty(204)
            }
            Err(reply) => reply,
        }
    }

    fn search(&mut self, object: &str, req: &Request) -> Reply {
        let Some(body) = req.json().and_then(|b| b.as_object().cloned()) else {
            return self.error(400, "VALIDATION_ERROR", "Invalid input JSON: the body is not a JSON object");
        };
        let limit = match body.get("limit") {
            None => 10,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=200).contains(&n) => n as usize,
                _ => return self.error(400, "VALIDATION_ERROR", "limit must be between 1 and 200"),
            },
        };
        let after = match body.get("after") {
            None => 0,
            Some(v) => match v.as_str().and_then(|a| a.parse::<usize>().ok()) {
                Some(n) => n,
                None => return self.error(400, "VALIDATION_ERROR", "after must be a numeric string cursor"),
            },
        };
        let filters = match self.filters(object, &body) {
            Ok(f) => f,
            Err(reply) => return reply,
        };
        let query = body.get("query").and_then(Value::as_str).map(str::to_lowercase);
        let wanted: Option<Vec<String>> = body
            .get("properties")
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).map(str::to_owned).collect());
        let matching: Vec<&Value> = self.records[object]
            .values()
            .filter(|r| filters.iter().all(|f| f.holds(&r["properties"])))
            .filter(|r| query.as_ref().is_none_or(|q| searchable(object, &r["properties"]).contains(q.as_str())))
            .collect();
        let results: Vec<Value> =
            matching.iter().skip(after).take(limit).map(|r| Self::view(object, r, wanted.as_deref())).collect();
        let mut answer = json!({ "total": matching.len(), "results": results });
        if after + limit < matching.len() {
            let next = (after + limit).to_string();
            answer["paging"] = json!({ "next": { "after": next, "link": format!("?after={next}") } });
        }
        Reply::json(200, answer)
    }

    fn filters(&mut self, object: &str, body: &Map<String, Value>) -> Result<Vec<Filter>, Reply> {
        let mut out = Vec::new();
        let groups = body.get("filterGroups").and_then(Value::as_array).cloned().unwrap_or_default();
        for f in groups.iter().flat_map(|g| g["filters"].as_array().cloned().unwrap_or_default()) {
            let (Some(property), Some(operator)) = (f["propertyName"].as_str(), f["operator"].as_str()) else {
                return Err(self.error(400, "VALIDATION_ERROR", "each filter needs propertyName and operator"));
            };
            if !OPERATORS.contains(&operator) && operator != "NOT_CONTAINS_TOKEN" {
                return Err(self.error(400, "VALIDATION_ERROR", &format!("Unable to parse operator {operator}")));
            }
            if !self.known(object, property) {
                return Err(self.error(
                    400,
                    "VALIDATION_ERROR",
                    &format!("There was a problem with the request: {property} is not a property"),
                ));
            }
            let value =
                f["value"].as_str().map(str::to_owned).or_else(|| f["value"].as_number().map(|n| n.to_string()));
            out.push(Filter { property: property.to_owned(), operator: operator.to_owned(), value });
        }
        Ok(out)
    }
}

/// One search condition.
struct Filter {
    property: String,
    operator: String,
    value: Option<String>,
}

impl Filter {
    fn holds(&self, properties: &Value) -> bool {
        let have = properties[&self.property].as_str().filter(|v| !v.is_empty());
        let want = self.value.as_deref().unwrap_or_default();
        let cmp = |f: fn(f64, f64) -> bool| match (have.and_then(|h| h.parse().ok()), want.parse().ok()) {
            (Some(h), Some(w)) => f(h, w),
            _ => false,
        };
        match self.operator.as_str() {
            "EQ" => have.is_some_and(|h| h.eq_ignore_ascii_case(want)),
            "NEQ" => !have.is_some_and(|h| h.eq_ignore_ascii_case(want)),
            "HAS_PROPERTY" => have.is_some(),
            "NOT_HAS_PROPERTY" => have.is_none(),
            "CONTAINS_TOKEN" => have.is_some_and(|h| h.to_lowercase().contains(&want.trim_matches('*').to_lowercase())),
            "NOT_CONTAINS_TOKEN" => {
                !have.is_some_and(|h| h.to_lowercase().contains(&want.trim_matches('*').to_lowercase()))
            }
            "LT" => cmp(|h, w| h < w),
            "LTE" => cmp(|h, w| h <= w),
            "GT" => cmp(|h, w| h > w),
            "GTE" => cmp(|h, w| h >= w),
            _ => false,
        }
    }
}

/// The text a free-text `query` searches in.
fn searchable(object: &str, properties: &Value) -> String {
    let fields: &[&str] = match object {
        "contacts" => &["firstname", "lastname", "email", "phone", "company"],
        "companies" => &["name", "domain", "website", "phone"],
        _ => &["dealname"],
    };
    fields.iter().filter_map(|f| properties[*f].as_str()).collect::<Vec<_>>().join(" ").to_lowercase()
}
