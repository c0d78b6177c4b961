//! Scheduler triggers, the pure part: a trigger's cron expression (six
//! fields, seconds first) and its time zone, checked once when the
//! definition is loaded and then asked for firing times. No clock: every
//! question takes the instant it is asked about, so the executor's loop
//! (`run/schedule.rs`) and the tests decide what "now" is.
//!
//! The zone is an IANA name (`Europe/Paris`), or `{{user.meta.<key>}}` to
//! take it from each user's metadata; without one, and for a user whose
//! metadata names no known zone, the schedule runs in
//! [`DEFAULT_TIMEZONE`]. Cron expressions are read by `croner`, which
//! follows the Vixie-cron rules (day of month and day of week combine with
//! "or"), knows `L`, `W` and `#`, and walks wall-clock time across daylight
//! saving changes; zones come from `chrono-tz`'s copy of the IANA database.
//!
//! The dashboard's interval options are all cron expressions:
//!
//! | option | cron |
//! |---|---|
//! | every 5 seconds | `*/5 * * * * *` |
//! | every 30 minutes | `0 */30 * * * *` |
//! | hourly at :15 | `0 15 * * * *` |
//! | every 2 days at 9:00 | `0 0 9 */2 * *` (days 1, 3, 5, … of each month) |
//! | weekly, Monday at 12:00 | `0 0 12 * * MON` |

use std::str::FromStr;

use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::load::Problem;

/// The zone a schedule runs in when it names none (and for a user whose
/// metadata names no known zone).
pub const DEFAULT_TIMEZONE: &str = "America/Los_Angeles";

/// Where a schedule's time zone comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneSource {
    /// One zone for every user.
    Fixed(Tz),
    /// The user's metadata field of this name (`{{user.meta.timezone}}`);
    /// [`DEFAULT_TIMEZONE`] when it is missing or not a known zone.
    UserMeta(String),
}

/// A checked schedule: when a Scheduler trigger fires.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: ZoneSource,
}

impl Schedule {
    /// Reads a trigger's `cron` and `timezone`; every problem with the JSON
    /// Pointer of its field under `at` (`/trigger`).
    pub fn new(cron: &str, timezone: Option<&str>, at: &str) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let parsed = parse_cron(cron).map_err(|reason| problems.push(Problem { path: format!("{at}/cron"), reason }));
        let zone =
            parse_zone(timezone).map_err(|reason| problems.push(Problem { path: format!("{at}/timezone"), reason }));
        match (parsed, zone) {
            (Ok(cron), Ok(zone)) => Ok(Self { cron, zone }),
            _ => Err(problems),
        }
    }

    /// Where its zone comes from.
    pub fn zone_source(&self) -> &ZoneSource {
        &self.zone
    }

    /// The zone it runs in for a user with `meta`.
    pub fn zone_for(&self, meta: &Map<String, Value>) -> Tz {
        match &self.zone {
            ZoneSource::Fixed(tz) => *tz,
            ZoneSource::UserMeta(key) => meta
                .get(key)
                .and_then(Value::as_str)
                .and_then(|s| Tz::from_str(s.trim()).ok())
                .unwrap_or(default_zone()),
        }
    }

    /// The latest firing at or before `t`, in `zone`.
    pub fn latest(&self, zone: Tz, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let found = self.cron.find_previous_occurrence(&to_chrono(t, zone)?, true).ok()?;
        from_chrono(&found)
    }

    /// The first firing after `t` (not at it), in `zone`.
    pub fn next_after(&self, zone: Tz, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let found = self.cron.find_next_occurrence(&to_chrono(t, zone)?, false).ok()?;
        from_chrono(&found)
    }
}

/// [`DEFAULT_TIMEZONE`] as a zone.
pub fn default_zone() -> Tz {
    Tz::America__Los_Angeles
}

/// `t` as a wall-clock time in `zone`, with its UTC offset (RFC 3339): what
/// a firing's trigger output shows.
pub fn local_rfc3339(t: OffsetDateTime, zone: Tz) -> Option<String> {
    Some(to_chrono(t, zone)?.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
}

fn parse_cron(cron: &str) -> Result<Cron, String> {
    let fields = cron.split_whitespace().count();
    if fields != 6 {
        return Err(format!(
            "has {fields} fields; a schedule has 6: second, minute, hour, day of month, month, day of week \
             (`0 30 9 * * MON-FRI` is 9:30:00 on weekdays)"
        ));
    }
    let parsed = CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(cron)
        .map_err(|e| format!("is not a valid cron expression: {e}"))?;
    // A pattern that matches no date (`0 0 0 30 2 *`) would never fire.
    let probe = chrono::DateTime::from_timestamp(0, 0).map(|t| t.with_timezone(&default_zone()));
    if probe.is_none_or(|p| parsed.find_next_occurrence(&p, false).is_err()) {
        return Err("never fires: no date matches it".into());
    }
    Ok(parsed)
}

fn parse_zone(timezone: Option<&str>) -> Result<ZoneSource, String> {
    let Some(raw) = timezone else { return Ok(ZoneSource::Fixed(default_zone())) };
    let text = raw.trim();
    if let Some(inner) = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
        let key = inner.trim().strip_prefix("user.meta.").unwrap_or_default();
        let ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        return if ok {
            Ok(ZoneSource::UserMeta(key.to_owned()))
        } else {
            Err("a dynamic time zone reads one user metadata field: `{{user.meta.<field>}}`".into())
        };
    }
    Tz::from_str(text).map(ZoneSource::Fixed).map_err(|_| {
        format!("`{raw}` is not an IANA time zone; name one such as `{DEFAULT_TIMEZONE}` or `Europe/Paris`")
    })
}

fn to_chrono(t: OffsetDateTime, zone: Tz) -> Option<chrono::DateTime<Tz>> {
    let utc = chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())?;
    Some(utc.with_timezone(&zone))
}

fn from_chrono(t: &chrono::DateTime<Tz>) -> Option<OffsetDateTime> {
    let whole = OffsetDateTime::from_unix_timestamp(t.timestamp()).ok()?;
    whole.replace_nanosecond(t.timestamp_subsec_nanos()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(t: &str) -> OffsetDateTime {
        OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn schedule(cron: &str, zone: Option<&str>) -> Schedule {
        Schedule::new(cron, zone, "/trigger").unwrap()
    }

    fn reasons(cron: &str, zone: Option<&str>) -> Vec<(String, String)> {
        Schedule::new(cron, zone, "/trigger").unwrap_err().into_iter().map(|p| (p.path, p.reason)).collect()
    }

    #[test]
    fn a_daily_schedule_fires_at_the_zones_wall_clock_time() {
        let s = schedule("0 0 9 * * *", Some("{{user.meta.timezone}}"));
        let now = at("2026-12-07T07:00:00Z");
        let paris = s.zone_for(json!({"timezone": "Europe/Paris"}).as_object().unwrap());
        let tokyo = s.zone_for(json!({"timezone": "Asia/Tokyo"}).as_object().unwrap());
        let none = s.zone_for(&Map::new());
        let junk = s.zone_for(json!({"timezone": "Mars/Olympus"}).as_object().unwrap());
        assert_eq!(s.next_after(paris, now), Some(at("2026-12-07T08:00:00Z")));
        assert_eq!(s.next_after(tokyo, now), Some(at("2026-12-08T00:00:00Z")));
        // America/Los_Angeles, 8 hours behind UTC in December.
        assert_eq!(s.next_after(none, now), Some(at("2026-12-07T17:00:00Z")));
        assert_eq!(junk, default_zone());
        assert_eq!(s.latest(tokyo, now), Some(at("2026-12-07T00:00:00Z")));
        assert_eq!(local_rfc3339(at("2026-12-07T17:00:00Z"), none).unwrap(), "2026-12-07T09:00:00-08:00");
    }

    #[test]
    fn summer_time_moves_the_utc_instant() {
        let s = schedule("0 0 9 * * *", Some("America/New_York"));
        let zone = s.zone_for(&Map::new());
        assert_eq!(s.next_after(zone, at("2026-07-01T00:00:00Z")), Some(at("2026-07-01T13:00:00Z")));
        assert_eq!(s.next_after(zone, at("2026-12-01T00:00:00Z")), Some(at("2026-12-01T14:00:00Z")));
    }

    #[test]
    fn the_dashboards_intervals_are_expressible() {
        let tz = default_zone();
        let t = at("2026-12-07T10:00:02Z"); // a Monday, 02:00:02 in Los Angeles
        let next = |cron: &str| schedule(cron, None).next_after(tz, t).unwrap();
        assert_eq!(next("*/5 * * * * *"), at("2026-12-07T10:00:05Z"));
        assert_eq!(next("0 */30 * * * *"), at("2026-12-07T10:30:00Z"));
        assert_eq!(next("0 15 * * * *"), at("2026-12-07T10:15:00Z"));
        assert_eq!(next("0 0 9 */2 * *"), at("2026-12-07T17:00:00Z"));
        assert_eq!(next("0 0 12 * * MON"), at("2026-12-07T20:00:00Z"));
        assert_eq!(next("0 0 12 * * WED"), at("2026-12-09T20:00:00Z"));
    }

    #[test]
    fn the_latest_firing_includes_the_instant_itself() {
        let s = schedule("*/10 * * * * *", Some("UTC"));
        let z = s.zone_for(&Map::new());
        assert_eq!(s.latest(z, at("2026-12-07T10:00:20Z")), Some(at("2026-12-07T10:00:20Z")));
        assert_eq!(s.latest(z, at("2026-12-07T10:00:29.5Z")), Some(at("2026-12-07T10:00:20Z")));
        assert_eq!(s.next_after(z, at("2026-12-07T10:00:20Z")), Some(at("2026-12-07T10:00:30Z")));
    }

    #[test]
    fn a_workflow_file_with_a_schedule_loads() {
        let yaml = "name: Daily\ntrigger: {type: scheduler, cron: '0 0 9 * * *', timezone: '{{user.meta.tz}}'}\n\
                    steps:\n  - {id: d, type: delay, value: 1}\n";
        let w = crate::load::parse(yaml, crate::Format::Yaml, "daily.yaml").unwrap();
        assert_eq!(w.trigger.kind.history_type(), "TRIGGER/CRON");
        let bad = yaml.replace("0 0 9 * * *", "0 0 9 * *");
        let e = crate::load::parse(&bad, crate::Format::Yaml, "daily.yaml").unwrap_err();
        assert_eq!(e.problems[0].path, "/trigger/cron", "{e:?}");
    }

    #[test]
    fn problems_name_the_field_and_say_what_to_change() {
        let r = reasons("0 9 * * *", None);
        assert_eq!(r[0].0, "/trigger/cron");
        assert!(r[0].1.contains("has 5 fields"), "{r:?}");
        let r = reasons("0 61 9 * * *", Some("Europe/Pariss"));
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].0, "/trigger/cron");
        assert!(r[0].1.contains("not a valid cron expression"), "{r:?}");
        assert_eq!(r[1].0, "/trigger/timezone");
        assert!(r[1].1.contains("`Europe/Pariss` is not an IANA time zone"), "{r:?}");
        let r = reasons("0 0 0 30 2 *", None);
        assert!(r[0].1.contains("never fires"), "{r:?}");
        let r = reasons("* * * * * *", Some("{{user.name}}"));
        assert_eq!(r[0].0, "/trigger/timezone");
        assert!(r[0].1.contains("{{user.meta.<field>}}"), "{r:?}");
        assert_eq!(schedule("* * * * * *", None).zone_source(), &ZoneSource::Fixed(default_zone()));
        assert_eq!(
            schedule("* * * * * *", Some("{{ user.meta.tz }}")).zone_source(),
            &ZoneSource::UserMeta("tz".into())
        );
    }
}
