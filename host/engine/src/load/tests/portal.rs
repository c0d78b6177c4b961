//! How a workflow shows in the Connect Portal: its description, default,
//! visibility and workflow-level User Settings.

use super::*;

const SHOWN: &str = r#"
name: Sync new contacts
integration: custom.crm
description: Creates a CRM contact for each contact created in the app.
portal:
  defaultEnabled: true
  settings:
    - {id: listName, title: List, type: text}
    - {id: stage, title: Stage, type: dropdown, options: [{label: Open, value: open}]}
trigger: {type: appEvent, event: Contact Created}
steps:
  - id: create
    type: integrationRequest
    method: POST
    url: /contacts
    bodyType: json
    body: {list: "{{settings.listName}}"}
"#;

#[test]
fn a_workflows_portal_options_load() {
    let w = parse(SHOWN, Format::Yaml, "shown.yaml").unwrap();
    assert_eq!(w.description.as_deref(), Some("Creates a CRM contact for each contact created in the app."));
    assert!(w.portal.default_enabled && !w.portal.hidden);
    assert_eq!(w.portal.settings.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["listName", "stage"]);
    let json = serde_json::to_string(&w).unwrap();
    assert_eq!(parse(&json, Format::Json, "shown.json").unwrap(), w);
}

#[test]
fn mistake_a_required_setting_on_a_workflow_enabled_by_default() {
    let required = SHOWN.replacen("type: text}", "type: text, required: true}", 1);
    refused(&required, "/portal/defaultEnabled", "cannot be enabled by default");
    let hidden = required.replacen("defaultEnabled: true", "hidden: true", 1);
    assert!(parse(&hidden, Format::Yaml, "hidden.yaml").is_ok(), "a required setting is fine otherwise");
}

#[test]
fn mistake_settings_named_by_path() {
    refused(&SHOWN.replacen("id: stage", "id: listName", 1), "/portal/settings/1/id", "names two settings");
    refused(&SHOWN.replacen(", options: [{label: Open, value: open}]", "", 1), "/portal/settings/1/options", "options");
    let unknown = SHOWN.replacen("type: text}", "type: colour}", 1);
    assert!(!problems(&unknown).is_empty(), "an unknown setting type is refused");
}
