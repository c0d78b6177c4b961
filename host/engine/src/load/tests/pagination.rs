//! Pagination's mistakes: each named by its path.

use super::*;

const PAGED: &str = r#"
name: List contacts
integration: salesforce
trigger: {type: appEvent, event: Sync}
steps:
  - id: limit
    type: request
    method: GET
    url: https://api.example.test/limit
  - id: list
    type: request
    method: GET
    url: https://api.example.test/contacts
    params: {cursor: "{{self.pageToken}}", limit: "{{limit.output.response.body.n}}"}
    pagination:
      outputPath: "{{self.output.response.body.data}}"
      pageToken: "{{self.output.response.body.next}}"
      stopCondition:
        or:
          - and: [{left: "{{self.output.response.body.next}}", operator: doesNotExist}]
          - and: [{left: "{{self.output.response.body.data}}", operator: arrayIsEmpty}]
  - id: mine
    type: integrationRequest
    method: POST
    url: /query
    bodyType: json
    body: {after: "{{self.pageToken}}"}
    pagination:
      outputPath: "{{self.output.response.body.records}}"
      pageToken: "{{self.output.response.body.nextRecordsUrl}}"
      stopCondition: {left: "{{self.output.response.body.done}}", operator: isTrue}
  - id: after
    type: request
    method: POST
    url: https://api.example.test/report
    bodyType: json
    body: {all: "{{list.output.response.results}}", error: "{{mine.output.response.error}}"}
"#;

/// `PAGED` with `from` replaced by `to` (which must be there).
fn paged(from: &str, to: &str) -> String {
    assert!(PAGED.contains(from), "PAGED has no {from:?}");
    PAGED.replacen(from, to, 1)
}

#[test]
fn paginated_request_steps_load_and_round_trip() {
    let w = parse(PAGED, Format::Yaml, "paged.yaml").unwrap();
    let list = w.step("list").unwrap();
    let p = list.kind.pagination().expect("list pages");
    assert_eq!(p.output_path, "{{self.output.response.body.data}}");
    assert_eq!(p.stop_condition.groups().len(), 2);
    assert!(w.step("mine").unwrap().kind.pagination().is_some());
    assert!(w.step("after").unwrap().kind.pagination().is_none());
    let json = serde_json::to_string(&w).unwrap();
    assert_eq!(parse(&json, Format::Json, "paged.json").unwrap(), w);
}

#[test]
fn mistake_pagination_on_another_step_type() {
    let on_function = paged(
        "  - id: after\n",
        "  - id: shaped\n    type: function\n    function: example-step\n    pagination: {outputPath: x, pageToken: y, \
         stopCondition: {left: a, operator: isTrue}}\n  - id: after\n",
    );
    refused(&on_function, "/steps/3", "only request and integrationRequest steps take `pagination`");
}

#[test]
fn mistake_pagination_without_its_fields() {
    refused(
        &paged("      outputPath: \"{{self.output.response.body.data}}\"\n", ""),
        "/steps/1/pagination",
        "`outputPath` is missing",
    );
    refused(
        &paged("      stopCondition: {left: \"{{self.output.response.body.done}}\", operator: isTrue}\n", ""),
        "/steps/2/pagination",
        "`stopCondition` is missing",
    );
    refused(
        &paged("      pageToken: \"{{self.output.response.body.next}}\"\n", "      pageTokn: x\n"),
        "/steps/1/pagination",
        "pageTokn",
    );
}

#[test]
fn mistake_pagination_paths_that_do_not_read_the_page() {
    refused(
        &paged("outputPath: \"{{self.output.response.body.data}}\"", "outputPath: response.body.data"),
        "/steps/1/pagination/outputPath",
        "one reference into the page just fetched",
    );
    refused(
        &paged(
            "pageToken: \"{{self.output.response.body.next}}\"",
            "pageToken: \"{{limit.output.response.body.next}}\"",
        ),
        "/steps/1/pagination/pageToken",
        "one reference into the page just fetched",
    );
    refused(
        &paged(
            "outputPath: \"{{self.output.response.body.records}}\"",
            "outputPath: \"x{{self.output.response.body.records}}\"",
        ),
        "/steps/2/pagination/outputPath",
        "one reference",
    );
}

#[test]
fn mistake_page_token_outside_a_paginated_request() {
    refused(
        &paged("error: \"{{mine.output.response.error}}\"", "error: \"{{self.pageToken}}\""),
        "/steps/3/body/error",
        "only a request or integrationRequest step with `pagination` has a page token",
    );
    refused(
        &paged("operator: isTrue}", "operator: isTrue, right: \"{{self.pageToken}}\"}"),
        "/steps/2/pagination/stopCondition/right",
        "`pagination` reads the page just fetched",
    );
}

#[test]
fn mistake_page_read_outside_pagination() {
    refused(
        &paged(
            "body: {after: \"{{self.pageToken}}\"}",
            "body: {after: \"{{self.pageToken}}\", n: \"{{self.output.response.body.n}}\"}",
        ),
        "/steps/2/body/n",
        "readable only in a paginated step's `pagination`",
    );
}

#[test]
fn mistake_a_paginated_request_that_never_sends_the_token() {
    refused(
        &paged("body: {after: \"{{self.pageToken}}\"}", "body: {after: 1}"),
        "/steps/2/pagination",
        "never sends `{{self.pageToken}}`",
    );
}

#[test]
fn mistake_stop_conditions_are_checked_like_conditions() {
    refused(&paged("operator: isTrue}", "operator: numberEquals}"), "/steps/2/pagination/stopCondition", "add `right`");
    refused(
        &paged("{left: \"{{self.output.response.body.done}}\"", "{left: \"{{after.output.done}}\""),
        "/steps/2/pagination/stopCondition/left",
        "`after` runs after this step",
    );
    refused(&paged("- id: after", "- id: self"), "/steps/3/id", "reserved");
}

#[test]
fn an_integration_request_may_page_by_its_integrations_own_pagination() {
    let preset = paged(
        "  - id: after\n",
        "  - id: every\n    type: integrationRequest\n    method: GET\n    url: /query\n    pagination: {}\n  \
         - id: bounded\n    type: integrationRequest\n    method: GET\n    url: /query\n    \
         pagination: {limit: 500, skip: 10, previousPage: \"{{every.output.response.nextPage}}\"}\n  - id: after\n",
    );
    let w = parse(&preset, Format::Yaml, "preset.yaml").unwrap();
    let every = &w.step("every").unwrap().kind;
    assert_eq!(every.preset_pagination(), Some(&crate::definition::PresetPagination::default()));
    assert!(every.pagination().is_none(), "not custom pagination");
    let bounded = w.step("bounded").unwrap().kind.preset_pagination().unwrap();
    assert_eq!((bounded.limit, bounded.skip), (Some(500), Some(10)));
    assert_eq!(bounded.previous_page.as_deref(), Some("{{every.output.response.nextPage}}"));
    assert!(w.step("mine").unwrap().kind.preset_pagination().is_none(), "custom stays custom");
    let json = serde_json::to_string(&w).unwrap();
    assert_eq!(parse(&json, Format::Json, "preset.json").unwrap(), w);
}

#[test]
fn mistake_pre_configured_pagination_options() {
    let step = |pagination: &str| {
        paged(
            "  - id: after\n",
            &format!(
                "  - id: every\n    type: integrationRequest\n    method: GET\n    url: /query\n    \
                 pagination: {pagination}\n  - id: after\n"
            ),
        )
    };
    for (pagination, path, reason) in [
        ("{limit: 0}", "/steps/3/pagination/limit", "less than the minimum of 1"),
        ("{skip: -1}", "/steps/3/pagination/skip", "less than the minimum of 0"),
        ("{limt: 5}", "/steps/3/pagination", "matches none of the allowed forms"),
    ] {
        refused(&step(pagination), path, reason);
    }
    refused(
        &step("{previousPage: \"{{self.output.response.body.next}}\"}"),
        "/steps/3/pagination/previousPage",
        "readable only in a paginated step's `pagination`",
    );
    refused(&step("{previousPage: \"{{after.output.next}}\"}"), "/steps/3/pagination/previousPage", "runs after");
    // A Request step has no integration to page by.
    let on_request = paged(
        "    url: https://api.example.test/limit\n",
        "    url: https://api.example.test/limit\n    pagination: {}\n",
    );
    refused(&on_request, "/steps/0/pagination", "`outputPath` is missing");
}
