//! User Settings: the inputs the Connect Portal asks a user for, at the
//! integration level (the integration's portal configuration) or at the
//! workflow level (a workflow's `portal.settings`); and how a workflow is
//! shown in the portal.
//!
//! The values a user saves live in their account's configuration
//! (`sharedSettings`, `workflowSettings.<id>.settings`) and reach a
//! workflow as `{{settings.<id>}}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// One setting the portal asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSetting {
    /// The key its value is saved under (`channel`): letters, digits, `_`, `-`.
    pub id: String,
    /// The label the user reads.
    pub title: String,
    /// What is asked for.
    #[serde(rename = "type")]
    pub kind: SettingKind,
    /// Whether the account is usable without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Help shown beside the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// A `dropdown`'s choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<SettingOption>,
    /// A `customDropdown`'s key in `connect(type, {dropdowns: {<key>: …}})`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A `fieldMapping`'s application object, its key in
    /// `connect(type, {mapObjectFields: {<objectName>: …}})`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    /// A `fieldMapping`'s fields of the application object when the app
    /// passes none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SettingOption>,
    /// A `fieldMapping`'s objects of the integration, with their fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integration_objects: Vec<IntegrationObject>,
}

/// The kinds of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SettingKind {
    /// A line of text.
    Text,
    /// A number.
    Number,
    /// A switch.
    Boolean,
    /// Text the portal masks.
    Password,
    /// One of the setting's `options`.
    Dropdown,
    /// One of the options the app passes to `connect` under the setting's `key`.
    CustomDropdown,
    /// A mapping of the app object's fields to an integration object's.
    FieldMapping,
}

/// A labelled choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingOption {
    /// What the user reads.
    pub label: String,
    /// What is saved.
    pub value: String,
}

/// An object of the integration a field mapping may target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationObject {
    /// What the user reads (`Ticket`).
    pub label: String,
    /// What is saved as the mapping's `objectType` (`ticket`).
    pub value: String,
    /// The object's fields.
    pub fields: Vec<SettingOption>,
}

/// How a workflow shows in the Connect Portal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowPortal {
    /// Enabled for a user when they connect their first account of the
    /// integration (not for users connected before).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default_enabled: bool,
    /// Not listed in any user's portal (still enabled by default or by API).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// Workflow-level User Settings, asked for when the user enables it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<UserSetting>,
}

/// An integration's Connect Portal configuration (its `portal` on the
/// admin API, kept in the integration row's `portal_texts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntegrationPortal {
    /// One line under the integration's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Markdown shown on the overview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overview: Option<String>,
    /// Light, dark, or the user's system theme.
    #[serde(default)]
    pub theme: Theme,
    /// An icon URL in place of the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Integration-level User Settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<UserSetting>,
}

/// The portal's theme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// The user's system theme.
    #[default]
    System,
}

impl IntegrationPortal {
    /// The configuration an integration row keeps (checked when it was
    /// saved; an unreadable one reads as none).
    pub fn of(stored: &serde_json::Map<String, serde_json::Value>) -> Self {
        serde_json::from_value(serde_json::Value::Object(stored.clone())).unwrap_or_default()
    }
}

/// Most settings one list may hold.
pub const MAX_SETTINGS: usize = 50;

/// The problems of a list of settings, each as (JSON pointer under the
/// list, reason), in order.
pub fn setting_problems(settings: &[UserSetting]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if settings.len() > MAX_SETTINGS {
        problems.push((String::new(), format!("{} settings; at most {MAX_SETTINGS} are allowed", settings.len())));
    }
    let mut ids = HashSet::new();
    for (i, s) in settings.iter().enumerate() {
        let mut problem = |field: &str, reason: String| problems.push((format!("/{i}{field}"), reason));
        let valid_id = !s.id.is_empty()
            && s.id.len() <= 64
            && s.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_id {
            problem("/id", "must be 1 to 64 ASCII letters, digits, '_' or '-'".into());
        } else if !ids.insert(s.id.as_str()) {
            problem("/id", format!("`{}` names two settings", s.id));
        }
        if s.title.trim().is_empty() {
            problem("/title", "must not be empty".into());
        }
        let dropdown = s.kind == SettingKind::Dropdown;
        let custom = s.kind == SettingKind::CustomDropdown;
        let mapping = s.kind == SettingKind::FieldMapping;
        if dropdown && s.options.is_empty() {
            problem("/options", "a dropdown needs its options: [{\"label\": \"Open\", \"value\": \"open\"}]".into());
        }
        if !dropdown && !s.options.is_empty() {
            problem("/options", "only a `dropdown` has options".into());
        }
        let mut values = HashSet::new();
        for (j, o) in s.options.iter().enumerate() {
            if !values.insert(o.value.as_str()) {
                problem(&format!("/options/{j}/value"), format!("`{}` is the value of two options", o.value));
            }
        }
        match (&s.key, custom) {
            (None, true) => problem("/key", "a customDropdown names the key the app fills in `dropdowns`".into()),
            (Some(_), false) => problem("/key", "only a `customDropdown` has a key".into()),
            (Some(k), true) if k.trim().is_empty() => problem("/key", "must not be empty".into()),
            _ => {}
        }
        match (&s.object_name, mapping) {
            (None, true) => problem("/objectName", "a fieldMapping names the app's object (`Task`)".into()),
            (Some(_), false) => problem("/objectName", "only a `fieldMapping` has an objectName".into()),
            _ => {}
        }
        if mapping && s.integration_objects.is_empty() {
            problem("/integrationObjects", "a fieldMapping lists the integration's objects and their fields".into());
        }
        let has_mapping_parts = !s.integration_objects.is_empty() || !s.fields.is_empty();
        if !mapping && has_mapping_parts {
            problem("/integrationObjects", "only a `fieldMapping` has fields and integration objects".into());
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(value: serde_json::Value) -> Vec<UserSetting> {
        serde_json::from_value(value).expect("settings")
    }

    #[test]
    fn good_settings_have_no_problems() {
        let all = settings(json!([
            {"id": "channel", "title": "Channel", "type": "text", "required": true, "tooltip": "Where"},
            {"id": "limit", "title": "Limit", "type": "number"},
            {"id": "on", "title": "On", "type": "boolean"},
            {"id": "secret", "title": "Secret", "type": "password"},
            {"id": "stage", "title": "Stage", "type": "dropdown", "options": [{"label": "Open", "value": "open"}]},
            {"id": "team", "title": "Team", "type": "customDropdown", "key": "team"},
            {"id": "map", "title": "Map", "type": "fieldMapping", "objectName": "Task",
             "integrationObjects": [{"label": "Ticket", "value": "ticket", "fields": [{"label": "S", "value": "s"}]}]},
        ]));
        assert_eq!(setting_problems(&all), Vec::<(String, String)>::new());
    }

    #[test]
    fn each_problem_names_its_field() {
        let bad = settings(json!([
            {"id": "a b", "title": "", "type": "text", "options": [{"label": "x", "value": "x"}]},
            {"id": "d", "title": "D", "type": "dropdown", "options": [{"label": "x", "value": "x"}, {"label": "y", "value": "x"}]},
            {"id": "d", "title": "D2", "type": "dropdown"},
            {"id": "c", "title": "C", "type": "customDropdown"},
            {"id": "m", "title": "M", "type": "fieldMapping"},
            {"id": "t", "title": "T", "type": "text", "key": "k", "objectName": "o"},
        ]));
        let paths: Vec<String> = setting_problems(&bad).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "/0/id",
                "/0/title",
                "/0/options",
                "/1/options/1/value",
                "/2/id",
                "/2/options",
                "/3/key",
                "/4/objectName",
                "/4/integrationObjects",
                "/5/key",
                "/5/objectName"
            ]
        );
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        assert!(
            serde_json::from_value::<Vec<UserSetting>>(json!([{"id": "a", "title": "A", "type": "color"}])).is_err()
        );
        assert!(
            serde_json::from_value::<Vec<UserSetting>>(json!([{"id": "a", "title": "A", "type": "text", "colour": 1}]))
                .is_err()
        );
    }
}
