//! ActionKit logs: one entry per ActionKit call (a listing of the tools or
//! a run of an action, over the REST API, the SDK route or MCP), written in
//! batches off the request path, read back filtered newest first, and
//! deleted once older than the retention.
//!
//! The store keeps what it is given: the caller decides which entries
//! carry their parameters (only failed ones) and redacts them first.

mod sql;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, ProjectId, Result};

/// The most entries one listing answers.
pub const MAX_ACTION_LOGS_PAGE: u32 = 100;

/// The longest trace id, request id, user id, integration or action name
/// stored (they are ids and keys, all far shorter).
pub const MAX_ACTION_LOG_ID_LEN: usize = 256;

/// The longest error message stored, in characters; a longer one is cut.
pub const MAX_ACTION_LOG_MESSAGE_LEN: usize = 2000;

/// What the call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionCallKind {
    /// Listed the user's tools (`GET /actions`, MCP `tools/list`).
    List,
    /// Ran one action (`POST /actions`, MCP `tools/call`).
    Run,
}

impl ActionCallKind {
    /// As stored and shown: `list`, `run`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Run => "run",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "list" => Ok(Self::List),
            "run" => Ok(Self::Run),
            _ => Err(Error::corrupt("unknown ActionKit call kind")),
        }
    }
}

/// Which door the call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionCallSource {
    /// `/projects/{id}/actions`.
    Api,
    /// `/projects/{id}/sdk/actions`, the browser SDK's route.
    Sdk,
    /// `/projects/{id}/mcp`.
    Mcp,
}

impl ActionCallSource {
    /// As stored and shown: `api`, `sdk`, `mcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Sdk => "sdk",
            Self::Mcp => "mcp",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "api" => Ok(Self::Api),
            "sdk" => Ok(Self::Sdk),
            "mcp" => Ok(Self::Mcp),
            _ => Err(Error::corrupt("unknown ActionKit call source")),
        }
    }
}

/// How the call ended: the reference's two statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionLogStatus {
    /// Answered what was asked.
    Success,
    /// Refused or failed, by Weft or by the provider.
    Error,
}

impl ActionLogStatus {
    /// As stored and shown: `success`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

impl std::str::FromStr for ActionLogStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "success" => Ok(Self::Success),
            "error" => Ok(Self::Error),
            other => Err(Error::Invalid(format!("unknown ActionKit log status {other:?}"))),
        }
    }
}

/// One ActionKit call as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionLog {
    /// Its id.
    pub id: Uuid,
    /// The project called.
    pub project_id: ProjectId,
    /// When the call was received.
    pub created_at: OffsetDateTime,
    /// The call's trace id (unique per call; answered in a header).
    pub trace_id: String,
    /// The HTTP request id (`X-Request-Id`, `meta.requestId` of an error).
    pub request_id: String,
    /// The connected user the call was made for.
    pub user_id: String,
    /// List or run.
    pub kind: ActionCallKind,
    /// API, SDK route or MCP.
    pub source: ActionCallSource,
    /// The integration type of the action run, once known.
    pub integration: Option<String>,
    /// The action run (as the caller named it); `None` for a listing.
    pub action: Option<String>,
    /// Success or error.
    pub status: ActionLogStatus,
    /// The HTTP status of the answer (of the error, for an MCP tool error).
    pub http_status: u16,
    /// The error's `code`, on errors.
    pub error_code: Option<String>,
    /// The error's message, on errors (cut at [`MAX_ACTION_LOG_MESSAGE_LEN`]).
    pub error_message: Option<String>,
    /// Wall time spent, in microseconds.
    pub duration_us: u64,
    /// The request's parameters (run) or query (list), on errors only,
    /// already redacted by the caller.
    pub parameters: Option<Value>,
}

/// Which entries a listing wants; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct ActionLogQuery {
    /// Of this connected user.
    pub user: Option<String>,
    /// Of this integration type.
    pub integration: Option<String>,
    /// With this status.
    pub status: Option<ActionLogStatus>,
    /// Of this action.
    pub action: Option<String>,
    /// With this trace id, or this request id (an error answer quotes it
    /// as `meta.requestId`).
    pub trace: Option<String>,
    /// Received at or after.
    pub since: Option<OffsetDateTime>,
    /// Received before.
    pub until: Option<OffsetDateTime>,
    /// Skips this many.
    pub offset: u64,
    /// At most this many (capped at [`MAX_ACTION_LOGS_PAGE`]).
    pub limit: u32,
}

/// Storage of ActionKit logs.
#[async_trait]
pub trait ActionLogStore: Send + Sync {
    /// Inserts a batch in one transaction; entries already stored (same
    /// project, time and id: a batch retried) are skipped. An entry that
    /// breaks a check refuses the whole batch with `Invalid`.
    async fn insert_action_logs(&self, batch: &[ActionLog]) -> Result<()>;

    /// The project's entries matching `query`, newest first.
    async fn list_action_logs(&self, project: ProjectId, query: &ActionLogQuery) -> Result<Vec<ActionLog>>;

    /// Deletes up to `limit` entries (of every project) received before
    /// `before`; how many went.
    async fn purge_action_logs(&self, before: OffsetDateTime, limit: u32) -> Result<u64>;
}

/// The checks an entry passes before it is stored.
pub(crate) fn check_entry(e: &ActionLog) -> Result<()> {
    let ids = [
        ("trace id", Some(&e.trace_id)),
        ("request id", Some(&e.request_id)),
        ("user id", Some(&e.user_id)),
        ("integration", e.integration.as_ref()),
        ("action", e.action.as_ref()),
        ("error code", e.error_code.as_ref()),
    ];
    for (what, value) in ids {
        if let Some(v) = value
            && v.chars().count() > MAX_ACTION_LOG_ID_LEN
        {
            return Err(Error::invalid(format!(
                "an ActionKit log's {what} is over {MAX_ACTION_LOG_ID_LEN} characters"
            )));
        }
    }
    if e.trace_id.is_empty() {
        return Err(Error::invalid("an ActionKit log needs a trace id"));
    }
    if let Some(p) = &e.parameters {
        crate::check::json_size("an ActionKit log's parameters", p)?;
    }
    Ok(())
}

/// `message` cut to [`MAX_ACTION_LOG_MESSAGE_LEN`] characters.
pub(crate) fn cut_message(message: &str) -> &str {
    match message.char_indices().nth(MAX_ACTION_LOG_MESSAGE_LEN) {
        Some((at, _)) => &message[..at],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ActionLog {
        ActionLog {
            id: Uuid::new_v4(),
            project_id: Uuid::new_v4().into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            trace_id: "t".into(),
            request_id: "r".into(),
            user_id: "u".into(),
            kind: ActionCallKind::Run,
            source: ActionCallSource::Api,
            integration: None,
            action: Some("A".into()),
            status: ActionLogStatus::Success,
            http_status: 200,
            error_code: None,
            error_message: None,
            duration_us: 1,
            parameters: None,
        }
    }

    #[test]
    fn entries_are_checked() {
        assert!(check_entry(&entry()).is_ok());
        assert!(check_entry(&ActionLog { trace_id: String::new(), ..entry() }).is_err());
        assert!(check_entry(&ActionLog { action: Some("A".repeat(300)), ..entry() }).is_err());
        let big = serde_json::json!({ "x": "y".repeat(crate::check::MAX_JSON_BYTES) });
        assert!(check_entry(&ActionLog { parameters: Some(big), ..entry() }).is_err());
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_ACTION_LOG_MESSAGE_LEN + 5);
        assert_eq!(cut_message(&long).chars().count(), MAX_ACTION_LOG_MESSAGE_LEN);
        assert_eq!(cut_message("short"), "short");
    }

    #[test]
    fn statuses_parse_as_shown() {
        for s in [ActionLogStatus::Success, ActionLogStatus::Error] {
            assert_eq!(s.as_str().parse::<ActionLogStatus>().unwrap(), s);
        }
        assert!("ok".parse::<ActionLogStatus>().is_err());
        assert_eq!(ActionCallKind::parse("list").unwrap(), ActionCallKind::List);
        assert_eq!(ActionCallSource::parse("mcp").unwrap(), ActionCallSource::Mcp);
    }
}
