//! `google-calendar` (plugin id `googleCalendar`): the Google Calendar
//! integration. Events and calendars as actions
//! (`GOOGLE_CALENDAR_CREATE_EVENT`, ...), new, updated and cancelled
//! events as polling triggers with persisted `syncToken` / `updatedMin`
//! cursors, and the connected account from the primary calendar.
//!
//! Auth is Google's OAuth 2.0 authorization code flow with offline access
//! (`access_type=offline`, `prompt=consent`), so Google answers with a
//! refresh token; the host keeps the tokens and adds them to requests.

mod api;
mod events;
mod polling;

use serde_json::{Value, json};
use weft_sdk::{
    Action, Auth, ClientAuth, ConnectionInfo, Ctx, Effect, Integration, Metadata, PollRequest, PollResponse, RateLimit,
    Result, Trigger,
};

const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
const SCOPE_READ: &str = "https://www.googleapis.com/auth/calendar.readonly";

struct GoogleCalendar;

impl Integration for GoogleCalendar {
    fn metadata() -> Metadata {
        Metadata::new("googleCalendar", "Google Calendar", env!("CARGO_PKG_VERSION"))
            .description("Events and calendars in Google Calendar")
            .icon_url("https://ssl.gstatic.com/calendar/images/dynamiclogo_2020q4/calendar_31_2x.png")
            .base_url("https://www.googleapis.com/calendar/v3")
            .allowed_hosts(["www.googleapis.com"])
            .auth(
                Auth::oauth2(
                    "https://accounts.google.com/o/oauth2/v2/auth",
                    "https://oauth2.googleapis.com/token",
                    [SCOPE_EVENTS, SCOPE_READ],
                )
                .revoke_url("https://oauth2.googleapis.com/revoke")
                .client_auth(ClientAuth::Post)
                .extra_authorize_param("access_type", "offline")
                .extra_authorize_param("prompt", "consent")
                .extra_authorize_param("include_granted_scopes", "true"),
            )
            // Calendar API quotas: 600 queries a minute per user, 10,000
            // a minute per project.
            .rate_limit(RateLimit::per_connection(600, 60))
            .rate_limit(RateLimit::per_app(10_000, 60))
            .extra(json!({ "categories": ["calendar", "productivity"] }))
    }

    fn actions() -> Vec<Action> {
        vec![
            Action::new("GOOGLE_CALENDAR_CREATE_EVENT", "Create Event", events::create_event)
                .description("Create an event in a calendar, optionally inviting guests")
                .effect(Effect::Write)
                .scopes([SCOPE_EVENTS]),
            Action::new("GOOGLE_CALENDAR_UPDATE_EVENT", "Update Event", events::update_event)
                .description("Change the fields given of an event; the others stay")
                .effect(Effect::Write)
                .scopes([SCOPE_EVENTS]),
            Action::new("GOOGLE_CALENDAR_GET_EVENT_BY_ID", "Get Event by ID", events::get_event)
                .description("Read one event of a calendar by its id")
                .scopes([SCOPE_EVENTS]),
            Action::paginated("GOOGLE_CALENDAR_LIST_EVENTS", "List Events", events::list_events)
                .description("List the events of a calendar in a time range or matching text, page by page")
                .scopes([SCOPE_EVENTS]),
            Action::new("GOOGLE_CALENDAR_DELETE_EVENT", "Delete Event", events::delete_event)
                .description("Delete an event from a calendar, optionally telling its guests")
                .effect(Effect::Destructive)
                .scopes([SCOPE_EVENTS]),
            Action::paginated("GOOGLE_CALENDAR_LIST_CALENDARS", "List Calendars", events::list_calendars)
                .description("List the calendars on the user's calendar list, page by page")
                .scopes([SCOPE_READ]),
        ]
    }

    fn triggers() -> Vec<Trigger> {
        polling::triggers()
    }

    fn poll(cx: &Ctx, req: PollRequest) -> Result<PollResponse> {
        polling::poll(cx, req)
    }

    /// The account is the user's primary calendar, whose id is their email.
    fn test_connection(cx: &Ctx) -> Result<ConnectionInfo> {
        let primary: Value =
            api::send("read the primary calendar", cx.http().get("/users/me/calendarList/primary"))?.json()?;
        let id = primary["id"].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let id = id.ok_or_else(|| weft_sdk::Error::internal("Google answered a primary calendar without an id"))?;
        let name = primary["summary"].as_str().unwrap_or(&id).to_owned();
        let profile = json!({ "email": id, "summary": primary["summary"], "timeZone": primary["timeZone"] });
        Ok(ConnectionInfo::new(id, name).profile(profile))
    }
}

weft_sdk::export_integration!(GoogleCalendar);
