//! `GET /admin/projects/{projectId}/usage`: the project's task usage over a
//! period (by default the current calendar month, UTC, the reference's
//! billing cycle), in total and per connected user: tasks counted by
//! workflow steps (successful Integration, Request and Function steps,
//! every fan-out iteration's included; triggers, conditionals, fan-outs,
//! responses and delays count none) and Proxy API calls.

use crate::extract::{Json, Query};
use crate::principal::{AnyRole, ProjectKey};
use crate::task_history::{date, invalid_query, parse_date};
use crate::{ApiError, AppState, store_error};
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Date, OffsetDateTime, Time};

/// The query (every field optional).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct UsageQuery {
    /// From (ISO 8601 date or date-time, included).
    from: Option<String>,
    /// Until (excluded).
    to: Option<String>,
    /// Only this user's.
    user_id: Option<String>,
}

/// The first instant of `now`'s month and of the next, UTC.
fn this_month(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let now = now.to_offset(time::UtcOffset::UTC);
    let first = Date::from_calendar_date(now.year(), now.month(), 1).unwrap_or(now.date());
    let next = match now.month() {
        time::Month::December => Date::from_calendar_date(now.year() + 1, time::Month::January, 1),
        m => Date::from_calendar_date(now.year(), m.next(), 1),
    }
    .unwrap_or(now.date());
    (first.with_time(Time::MIDNIGHT).assume_utc(), next.with_time(Time::MIDNIGHT).assume_utc())
}

pub(super) async fn get(
    State(state): State<AppState>,
    key: ProjectKey<AnyRole>,
    Query(q): Query<UsageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (month_start, month_end) = this_month(OffsetDateTime::now_utc());
    let from = q.from.as_deref().map(|d| parse_date("from", d)).transpose()?.unwrap_or(month_start);
    let to = q.to.as_deref().map(|d| parse_date("to", d)).transpose()?.unwrap_or(month_end);
    if to <= from {
        return Err(invalid_query("`to` must be after `from`".into()));
    }
    let usage = state.store.task_usage(key.project, from, to, q.user_id.as_deref()).await.map_err(store_error)?;
    let (mut workflows, mut proxy) = (0u64, 0u64);
    let users: Vec<Value> = usage
        .iter()
        .map(|u| {
            workflows += u.workflow_tasks;
            proxy += u.proxy_tasks;
            json!({
                "userId": u.user,
                "workflowTasks": u.workflow_tasks,
                "proxyTasks": u.proxy_tasks,
                "tasks": u.workflow_tasks + u.proxy_tasks,
            })
        })
        .collect();
    Ok(Json(json!({
        "from": date(from),
        "to": date(to),
        "workflowTasks": workflows,
        "proxyTasks": proxy,
        "tasks": workflows + proxy,
        "users": users,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_period_is_the_calendar_month() {
        let at = |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(
            this_month(at("2026-12-07T10:00:00+02:00")),
            (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))
        );
        assert_eq!(this_month(at("2026-03-31T23:59:59Z")), (at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z")));
    }
}
