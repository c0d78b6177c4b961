//! One test per mistake a definition can make: each names the path and
//! a reason that says what to change.

use super::*;
use crate::definition::StepKind;

const GOOD: &str = r#"
name: Sync contacts
integration: salesforce
trigger:
  type: request
  allowArbitraryPayload: false
  bodyValidations:
    - {key: email, dataType: STRING, required: true}
steps:
  - id: lookup
    type: request
    method: GET
    url: https://api.example.test/contacts?email={{trigger.output.request.body.email}}
    headers:
      Authorization: Bearer {{secrets.API_KEY}}
    autoRetry: true
  - id: found
    type: conditional
    if:
      or:
        - and:
            - {left: "{{lookup.output.response.body.data}}", operator: arrayIsNotEmpty}
            - {left: "{{lookup.output.response.statusCode}}", operator: numberEquals, right: 200}
    then:
      - id: update
        type: integrationRequest
        method: PATCH
        url: /sobjects/Contact/{{lookup.output.response.body.data[0].id}}
        bodyType: json
        body: {Email: "{{trigger.output.request.body.email}}"}
        continueWorkflowOnError: true
    else:
      - id: create
        type: integrationAction
        action: SALESFORCE_CREATE_RECORD_CONTACT
        input: {email: "{{trigger.output.request.body.email}}", owner: "{{settings.owner}}"}
  - id: each
    type: fanOut
    iterator: "{{lookup.output.response.body.data}}"
    steps:
      - id: shape
        type: function
        function: example-step
        parameters: {item: "{{each.output.instance}}", user: "{{user.userId}}"}
      - id: pause
        type: delay
        value: 2
        unit: SECONDS
  - id: reply
    type: response
    statusCode: 200
    body: {updated: "{{update.output.response.statusCode}}", created: "{{create.output}}", email: "{{user.meta.Email}}"}
"#;

/// `GOOD` with `from` replaced by `to` (which must be there).
fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "GOOD has no {from:?}");
    GOOD.replacen(from, to, 1)
}

fn problems(yaml: &str) -> Vec<Problem> {
    match parse(yaml, Format::Yaml, "test.yaml") {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(e) => e.problems,
    }
}

/// `yaml` is refused with a problem at `path` whose reason holds `reason`.
#[track_caller]
fn refused(yaml: &str, path: &str, reason: &str) {
    let found = problems(yaml);
    assert!(
        found.iter().any(|p| p.path == path && p.reason.contains(reason)),
        "wanted {path}: …{reason}…, got {found:#?}"
    );
}

#[test]
fn a_good_definition_loads_from_yaml_and_json() {
    let w = parse(GOOD, Format::Yaml, "good.yaml").unwrap();
    assert_eq!(w.integration.as_deref(), Some("salesforce"));
    assert_eq!(w.all_steps().count(), 8);
    assert!(matches!(w.step("pause").map(|s| &s.kind), Some(StepKind::Delay { .. })));
    let json = serde_json::to_string(&w).unwrap();
    assert_eq!(parse(&json, Format::Json, "good.json").unwrap(), w);
    assert!(check(&w).is_empty());
}

#[test]
fn files_are_read_by_extension() {
    let dir = std::env::temp_dir().join(format!("weft-engine-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("sync.yml");
    std::fs::write(&yaml, GOOD).unwrap();
    assert_eq!(load_file(&yaml).unwrap().name, "Sync contacts");
    let txt = dir.join("sync.txt");
    std::fs::write(&txt, GOOD).unwrap();
    assert!(load_file(&txt).unwrap_err().to_string().contains(".json, .yaml or .yml"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn syntax_errors_and_size_are_reported_whole() {
    assert!(parse("{", Format::Json, "x.json").unwrap_err().to_string().starts_with("x.json: not valid JSON"));
    assert!(parse("name: [", Format::Yaml, "x.yaml").unwrap_err().to_string().contains("not valid YAML"));
    let big = format!("name: {}", "x".repeat(MAX_DEFINITION_BYTES));
    assert!(parse(&big, Format::Yaml, "big.yaml").unwrap_err().to_string().contains("larger than"));
}

#[test]
fn mistake_duplicate_step_id() {
    refused(&edit("id: create", "id: update"), "/steps/1/else/0/id", "already the id of the step at /steps/1/then/0");
    refused(&edit("id: lookup", "id: trigger"), "/steps/0/id", "already the id of the trigger");
}

#[test]
fn mistake_step_id_characters() {
    refused(&edit("id: pause", "id: take a pause"), "/steps/2/steps/1/id", "ASCII letters, digits");
    refused(&edit("id: pause", "id: a.b"), "/steps/2/steps/1/id", "ASCII letters, digits");
}

#[test]
fn mistake_reserved_id() {
    refused(&edit("id: pause", "id: settings"), "/steps/2/steps/1/id", "reserved");
    refused(&edit("type: request\n  allow", "id: user\n  type: request\n  allow"), "/trigger/id", "reserved");
    refused(&edit("id: pause", "id: secrets"), "/steps/2/steps/1/id", "reserved");
}

#[test]
fn mistake_reference_to_an_unknown_step() {
    refused(&edit("{{create.output}}", "{{creat.output}}"), "/steps/3/body/created", "there is no step `creat`");
}

#[test]
fn mistake_reference_to_a_later_step() {
    refused(
        &edit("{{settings.owner}}", "{{reply.output}}"),
        "/steps/1/else/0/input/owner",
        "`reply` runs after this step",
    );
    let later = edit("?email={{trigger", "?email={{found.output.selectedChoice}}{{trigger");
    refused(&later, "/steps/0/url", "`found` runs after this step");
    // A conditional's own condition cannot read its branches.
    let own = edit(
        "{{lookup.output.response.statusCode}}\", operator: numberEquals",
        "{{update.output}}\", operator: numberEquals",
    );
    refused(&own, "/steps/1/if/or/0/and/1/left", "`update` runs after this step");
    refused(&edit("{{each.output.instance}}", "{{shape.output}}"), "/steps/2/steps/0/parameters/item", "own output");
}

#[test]
fn mistake_reference_into_the_other_branch() {
    let other = edit("{{settings.owner}}", "{{update.output.response.body}}");
    refused(&other, "/steps/1/else/0/input/owner", "other branch of the conditional `found`");
}

#[test]
fn mistake_reference_into_a_fan_out_body_from_outside() {
    refused(
        &edit("{{create.output}}", "{{shape.output.result}}"),
        "/steps/3/body/created",
        "inside the fan-out `each`",
    );
}

#[test]
fn mistake_fan_out_instance_outside_its_body() {
    refused(
        &edit("{{create.output}}", "{{each.output.instance}}"),
        "/steps/3/body/created",
        "only readable by the steps of its `steps`",
    );
    let own = edit("iterator: \"{{lookup.output.response.body.data}}\"", "iterator: \"{{each.output.instance}}\"");
    refused(&own, "/steps/2/iterator", "only readable inside its `steps`");
    refused(
        &edit("{{each.output.instance}}", "{{each.output.item}}"),
        "/steps/2/steps/0/parameters/item",
        "output.instance",
    );
}

#[test]
fn mistake_reference_to_a_step_without_output() {
    let after_pause = edit(
        "        unit: SECONDS\n",
        "        unit: SECONDS\n      - {id: log, type: function, function: f, parameters: {x: \"{{pause.output}}\"}}\n",
    );
    refused(&after_pause, "/steps/2/steps/2/parameters/x", "a delay step, which has no output");
}

#[test]
fn mistake_response_without_a_request_trigger() {
    let event = edit(
        "type: request\n  allowArbitraryPayload: false\n  bodyValidations:\n    - {key: email, dataType: STRING, required: true}",
        "type: appEvent\n  event: Contact Created",
    );
    refused(&event, "/steps/3/type", "only a workflow with a request trigger");
}

#[test]
fn mistake_response_inside_a_fan_out() {
    let inside =
        edit("        unit: SECONDS\n", "        unit: SECONDS\n      - {id: each-reply, type: response, body: {}}\n");
    refused(&inside, "/steps/2/steps/2", "move it out of the fan-out");
}

#[test]
fn mistake_a_response_that_can_never_be_sent() {
    let twice = format!("{GOOD}  - {{id: again, type: response, body: {{}}}}\n");
    refused(&twice, "/steps/4", "already answered");
    // An answer in one branch leaves the other path open; one in each
    // closes it.
    let owner = "owner: \"{{settings.owner}}\"}\n";
    let one = edit(owner, &format!("{owner}      - {{id: no, type: response, statusCode: 404, body: {{}}}}\n"));
    assert!(parse(&one, Format::Yaml, "one.yaml").is_ok());
    let both = one.replacen(
        "continueWorkflowOnError: true\n",
        "continueWorkflowOnError: true\n      - {id: yes, type: response, body: {}}\n",
        1,
    );
    refused(&both, "/steps/3", "already answered");
}

#[test]
fn mistake_file_response_without_a_file_reference() {
    refused(&edit("statusCode: 200", "statusCode: 200\n    responseType: FILE"), "/steps/3/body", "a file object");
}

#[test]
fn mistake_app_event_trigger_without_an_event() {
    let no_event = edit(
        "type: request\n  allowArbitraryPayload: false\n  bodyValidations:\n    - {key: email, dataType: STRING, required: true}",
        "type: appEvent",
    );
    refused(&no_event, "/trigger", "`event` is missing");
    let blank = edit(
        "type: request\n  allowArbitraryPayload: false\n  bodyValidations:\n    - {key: email, dataType: STRING, required: true}",
        "type: appEvent\n  event: \" \"",
    );
    refused(&blank, "/trigger/event", "name the App Event");
}

#[test]
fn mistake_request_trigger_that_accepts_nothing() {
    let nothing = edit("  bodyValidations:\n    - {key: email, dataType: STRING, required: true}\n", "");
    refused(&nothing, "/trigger/allowArbitraryPayload", "declare what is accepted");
    let twice = edit("required: true}\n", "required: true}\n    - {key: email}\n");
    refused(&twice, "/trigger/bodyValidations/1/key", "validated twice");
    refused(&edit("dataType: STRING", "dataType: TEXT"), "/trigger/bodyValidations/0/dataType", "not one of");
}

#[test]
fn mistake_bad_method() {
    refused(
        &edit("method: GET", "method: FETCH"),
        "/steps/0/method",
        "\"FETCH\" is not one of GET, POST, PUT, PATCH, DELETE",
    );
    refused(&edit("method: PATCH", "method: patch"), "/steps/1/then/0/method", "not one of");
}

#[test]
fn mistake_body_without_body_type() {
    refused(&edit("        bodyType: json\n", ""), "/steps/1/then/0", "`bodyType` is missing");
    refused(
        &edit("        body: {Email: \"{{trigger.output.request.body.email}}\"}\n", ""),
        "/steps/1/then/0/bodyType",
        "without a `body`",
    );
}

#[test]
fn mistake_body_of_the_wrong_shape() {
    refused(&edit("bodyType: json", "bodyType: raw"), "/steps/1/then/0/body", "a raw body is text");
    let form = edit(
        "bodyType: json\n        body: {Email: \"{{trigger.output.request.body.email}}\"}",
        "bodyType: form-data\n        body: [1, 2]",
    );
    refused(&form, "/steps/1/then/0/body", "a form-data body is an object of fields");
    let get_body = edit("    autoRetry: true\n", "    autoRetry: true\n    bodyType: json\n    body: {a: 1}\n");
    refused(&get_body, "/steps/0/body", "a GET request carries no body");
}

#[test]
fn mistake_bad_delay() {
    refused(&edit("value: 2", "value: 0"), "/steps/2/steps/1/value", "above 0");
    refused(&edit("value: 2", "value: -5"), "/steps/2/steps/1/value", "above 0");
    refused(
        &edit("value: 2\n        unit: SECONDS", "value: 400\n        unit: DAYS"),
        "/steps/2/steps/1/value",
        "at most",
    );
    refused(&edit("value: 2", "value: soon"), "/steps/2/steps/1/value", "not of type \"number\"");
    refused(
        &edit("unit: SECONDS", "unit: WEEKS"),
        "/steps/2/steps/1/unit",
        "\"WEEKS\" is not one of SECONDS, MINUTES, HOURS, DAYS",
    );
}

#[test]
fn mistake_bad_condition() {
    refused(&edit("operator: arrayIsNotEmpty", "operator: isGreater"), "/steps/1/if/or/0/and/0/operator", "not one of");
    refused(
        &edit(", right: 200}", "}"),
        "/steps/1/if/or/0/and/1",
        "`numberEquals` compares `left` with `right`; add `right`",
    );
    refused(
        &edit("operator: arrayIsNotEmpty}", "operator: arrayIsNotEmpty, right: 1}"),
        "/steps/1/if/or/0/and/0/right",
        "takes no `right`",
    );
    let no_left = edit(
        "{left: \"{{lookup.output.response.body.data}}\", operator: arrayIsNotEmpty}",
        "{operator: arrayIsNotEmpty}",
    );
    refused(&no_left, "/steps/1/if/or/0/and/0", "`left` is missing");
    let shapeless = edit("    if:\n      or:", "    if:\n      any:");
    refused(&shapeless, "/steps/1/if", "a condition is a rule");
}

#[test]
fn mistake_empty_fan_out_or_missing_iterator() {
    let empty = edit(
        "    steps:\n      - id: shape\n        type: function\n        function: example-step\n        parameters: {item: \"{{each.output.instance}}\", user: \"{{user.userId}}\"}\n      - id: pause\n        type: delay\n        value: 2\n        unit: SECONDS\n",
        "    steps: []\n",
    );
    refused(&empty, "/steps/2/steps", "at least one step");
    refused(&edit("    iterator: \"{{lookup.output.response.body.data}}\"\n", ""), "/steps/2", "`iterator` is missing");
    refused(
        &edit(
            "iterator: \"{{lookup.output.response.body.data}}\"",
            "iterator: \"items: {{lookup.output.response.body.data}}\"",
        ),
        "/steps/2/iterator",
        "must be an array",
    );
}

#[test]
fn mistake_unterminated_template() {
    refused(
        &edit("{{trigger.output.request.body.email}}\n    headers", "{{trigger.output.request.body.email\n    headers"),
        "/steps/0/url",
        "`{{` is not closed by `}}` (at character 41)",
    );
}

#[test]
fn mistake_invalid_secret_name() {
    refused(
        &edit("{{secrets.API_KEY}}", "{{secrets.API KEY}}"),
        "/steps/0/headers/Authorization",
        "not a secret reference",
    );
    refused(&edit("{{secrets.API_KEY}}", "{{secrets}}"), "/steps/0/headers/Authorization", "secrets.<NAME>");
}

#[test]
fn mistake_other_bad_references() {
    refused(&edit("{{user.userId}}", "{{user.email}}"), "/steps/2/steps/0/parameters/user", "user.meta");
    refused(&edit("{{create.output}}", "{{create.result}}"), "/steps/3/body/created", "create.output");
    refused(
        &edit("{Email: \"{{trigger", "{\"{{user.userId}}\": \"{{trigger"),
        "/steps/1/then/0/body/{{user.userId}}",
        "keys are not resolved",
    );
}

#[test]
fn mistake_integration_steps_without_an_integration() {
    let none = edit("integration: salesforce\n", "");
    refused(&none, "/steps/1/then/0/type", "set `integration`");
    refused(&none, "/steps/1/else/0/type", "set `integration`");
    refused(&edit("integration: salesforce", "integration: sales force"), "/integration", "integration type");
}

#[test]
fn mistake_integration_enabled_without_an_integration() {
    let w = r#"{"name": "On connect", "trigger": {"type": "integrationEnabled"}, "steps": [{"id": "d", "type": "delay", "value": 1}]}"#;
    let e = parse(w, Format::Json, "x.json").unwrap_err();
    assert_eq!(
        e.problems,
        [Problem {
            path: "/trigger/type".into(),
            reason: "an Integration Enabled trigger fires for the workflow's integration; set `integration`".into()
        }]
    );
}

#[test]
fn mistake_request_url_not_http() {
    refused(
        &edit("url: https://api.example.test/contacts", "url: ftp://api.example.test/contacts"),
        "/steps/0/url",
        "http(s) URL with a host, not `ftp:`",
    );
    refused(
        &edit("url: https://api.example.test/contacts", "url: /contacts"),
        "/steps/0/url",
        "a Request step calls a full URL",
    );
    // The host may come from a variable.
    let from_setting =
        edit("url: https://api.example.test/contacts?email=", "url: {{settings.baseUrl}}/contacts?email=");
    let w = parse(
        &from_setting.replace(
            "url: {{settings.baseUrl}}/contacts?email={{trigger.output.request.body.email}}",
            "url: \"{{settings.baseUrl}}/contacts\"",
        ),
        Format::Yaml,
        "t.yaml",
    );
    assert!(w.is_ok(), "{w:?}");
    refused(
        &edit("url: /sobjects", "url: //evil.test/sobjects"),
        "/steps/1/then/0/url",
        "a path under the integration's base URL",
    );
    refused(
        &edit("url: /sobjects", "url: file:///etc/passwd#"),
        "/steps/1/then/0/url",
        "a path under the integration's base URL",
    );
}

#[test]
fn mistake_options_on_steps_that_do_not_call_out() {
    refused(
        &edit("        unit: SECONDS", "        unit: SECONDS\n        autoRetry: true"),
        "/steps/2/steps/1/autoRetry",
        "not a delay step",
    );
    refused(
        &edit("    type: conditional", "    type: conditional\n    continueWorkflowOnError: true"),
        "/steps/1/continueWorkflowOnError",
        "not a conditional step",
    );
}

#[test]
fn mistake_function_without_one_source() {
    refused(&edit("        function: example-step\n", ""), "/steps/2/steps/0", "give the step `code`");
    refused(
        &edit("        function: example-step\n", "        function: example-step\n        code: \"return 1\"\n"),
        "/steps/2/steps/0",
        "not both",
    );
}

#[test]
fn mistake_unknown_field_or_step_type() {
    refused(&edit("method: GET", "methd: GET"), "/steps/0", "unknown field `methd`");
    refused(
        &edit("    type: fanOut", "    type: loop"),
        "/steps/2/type",
        "unknown type \"loop\"; expected one of request, integrationRequest, resourceRequest, integrationAction, function, conditional, fanOut, response, delay",
    );
    refused(
        &edit("  - id: reply\n    type: response\n", "  - id: reply\n"),
        "/steps/3",
        "`type` is missing; one of request",
    );
    refused(&edit("name: Sync contacts", "name: Sync contacts\ndescripton: typo"), "", "unknown field `descripton`");
}

/// A chain of conditionals, each the only step of the previous one's
/// `then`, `depth` deep, with a delay at the bottom.
fn nested(depth: usize) -> String {
    let mut step = r#"{"id": "leaf", "type": "delay", "value": 1}"#.to_owned();
    for i in (0..depth).rev() {
        step = format!(
            r#"{{"id": "c{i}", "type": "conditional", "if": {{"left": true, "operator": "isTrue"}}, "then": [{step}]}}"#
        );
    }
    format!(r#"{{"name": "Deep", "trigger": {{"type": "appEvent", "event": "E"}}, "steps": [{step}]}}"#)
}

#[test]
fn mistake_too_deep_or_too_many() {
    assert!(parse(&nested(MAX_DEPTH), Format::Json, "ok.json").is_ok());
    let e = parse(&nested(MAX_DEPTH + 1), Format::Json, "deep.json").unwrap_err();
    let at = format!("/steps/0{}", "/then/0".repeat(MAX_DEPTH));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].path, at);
    assert!(e.problems[0].reason.contains("more than 8 conditionals and fan-outs deep"), "{e}");

    let steps: Vec<String> =
        (0..=MAX_STEPS).map(|i| format!(r#"{{"id": "s{i}", "type": "delay", "value": 1}}"#)).collect();
    let many = format!(
        r#"{{"name": "Many", "trigger": {{"type": "appEvent", "event": "E"}}, "steps": [{}]}}"#,
        steps.join(",")
    );
    let e = parse(&many, Format::Json, "many.json").unwrap_err();
    assert_eq!(
        e.problems,
        [Problem {
            path: "/steps".into(),
            reason: format!("{} steps in all; at most {MAX_STEPS} are allowed", MAX_STEPS + 1)
        }]
    );
}

#[test]
fn every_problem_is_reported_in_document_order() {
    let bad = edit("id: create", "id: cre ate")
        .replace("operator: arrayIsNotEmpty}", "operator: arrayIsNotEmpty, right: 1}")
        .replace("value: 2", "value: 0")
        .replace("{{create.output}}", "{{nowhere.output}}");
    let paths: Vec<String> = problems(&bad).into_iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        ["/steps/1/if/or/0/and/0/right", "/steps/1/else/0/id", "/steps/2/steps/1/value", "/steps/3/body/created"]
    );
    let schema_errors = edit("method: GET", "method: FETCH").replace("value: 2", "value: soon");
    assert_eq!(problems(&schema_errors).len(), 2);
}

#[test]
fn mistake_permissions_read_more_than_the_user() {
    let with =
        |rule: &str| edit("integration: salesforce\n", &format!("integration: salesforce\npermissions: {rule}\n"));
    let ok = with(r#"{or: [{and: [{left: "{{user.meta.plan}}", operator: stringExactlyMatches, right: gold}]}]}"#);
    assert!(parse(&ok, Format::Yaml, "ok.yaml").unwrap().permissions.is_some());
    refused(
        &with(r#"{left: "{{lookup.output.x}}", operator: isTrue}"#),
        "/permissions/left",
        "permissions read only `{{user.userId}}` and `{{user.meta.…}}`",
    );
    refused(
        &with(r#"{and: [{left: "{{user.meta.plan}}", operator: stringExactlyMatches, right: "{{secrets.K}}"}]}"#),
        "/permissions/and/0/right",
        "permissions read only",
    );
    refused(&with(r#"{left: "{{user.meta.plan}}", operator: stringExactlyMatches}"#), "/permissions", "add `right`");
}

#[test]
fn mistake_resource_request_without_a_resource_id_or_with_a_full_url_elsewhere() {
    let step = "    type: integrationRequest\n        method: PATCH";
    let resource = |id: &str, url: &str| {
        edit(step, &format!("    type: resourceRequest\n        resource: {id}\n        method: PATCH")).replacen(
            "url: /sobjects/Contact/{{lookup.output.response.body.data[0].id}}",
            url,
            1,
        )
    };
    let good =
        resource("1b4e28ba-2fa1-4d2b-883f-0016d3cca427", "url: /tasks/{{lookup.output.response.body.data[0].id}}");
    let loaded = parse(&good, Format::Yaml, "test.yaml").unwrap();
    let update = loaded.step("update").unwrap();
    assert!(matches!(&update.kind, StepKind::ResourceRequest(r) if r.http.url.starts_with("/tasks/")));
    refused(&resource("tasklab", "url: /tasks"), "/steps/1/then/0/resource", "a UUID");
    refused(
        &resource("1b4e28ba-2fa1-4d2b-883f-0016d3cca427", "url: //elsewhere/x"),
        "/steps/1/then/0/url",
        "resource's base URL",
    );
}

mod authorization;
mod pagination;
mod portal;
