//! Arguments that several commands take, declared once and flattened where they are used
//! (`#[command(flatten)]`), and the one parser of dates and times given on the command line.

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use keyward_core::model::key::CreateKeyInput;
use keyward_core::{Error, Result};

/// What a new key is: `keys create` and `canary create`.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    #[arg(long)]
    pub name: String,
    /// The API's id (`keyward apis list`).
    #[arg(long = "api", value_name = "API_ID")]
    pub api_id: String,
    /// A scope key or id of that API; repeat for more.
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// Owner: an organization code.
    #[arg(long, value_name = "CODE")]
    pub org: Option<String>,
    /// Owner: a user id.
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
}

impl NewKeyArgs {
    pub fn into_input(self) -> CreateKeyInput {
        CreateKeyInput {
            name: self.name,
            api_id: self.api_id,
            scopes: self.scopes,
            org_code: self.org,
            user_id: self.user,
        }
    }
}

/// Which key to re-issue, and the scopes of its successor.
#[derive(Debug, Args)]
pub struct ReissueArgs {
    /// The id of the key to re-issue.
    pub id: String,
    /// New scopes (key or id); repeat for more. Default: the old key's scopes.
    #[arg(long = "scope", value_name = "S")]
    pub scopes: Vec<String>,
    /// The new key's name. Default: the old name and the day, "Billing (re-issued 2026-12-07)".
    #[arg(long)]
    pub name: Option<String>,
    /// When the old key stops working: 1h, 24h, 3d, 7d or a duration such as 90m or 2d;
    /// Keyward revokes it at the first sync after that. Default: it keeps working until you
    /// revoke it.
    #[arg(long, value_name = "WHEN")]
    pub old_key_expires: Option<String>,
}

/// `--yes`, for actions that ask first.
#[derive(Debug, Args)]
pub struct YesArg {
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long)]
    pub yes: bool,
}

/// Whether a point in time may also be given as an age back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ages {
    /// `7d`, `48h` are accepted (a start: `--since`).
    Allowed,
    /// Only a date or a time (a date to come: `--on`).
    Refused,
}

/// A point in time given on the command line: a date (`2026-01-31`, midnight UTC), an RFC 3339
/// time (`2026-01-31T08:00:00Z`), or, where `ages` allows it, an age back from now (`7d`,
/// `48h`). `field` names the argument in the error.
pub fn parse_time(field: &str, s: &str, ages: Ages) -> Result<DateTime<Utc>> {
    let s = s.trim();
    let bad = || match ages {
        Ages::Allowed => Error::invalid_input(
            field,
            format!("{s:?} is not a date, a time or an age"),
            "Use a date (2026-01-31), an RFC 3339 time (2026-01-31T08:00:00Z) or an age \
             (7d, 48h).",
        ),
        Ages::Refused => Error::invalid_input(
            field,
            format!("{s:?} is not a date"),
            "Use a date (2026-06-30) or an RFC 3339 time.",
        ),
    };
    if ages == Ages::Allowed {
        if let Some(n) = s.strip_suffix('d') {
            let n: i64 = n.parse().map_err(|_| bad())?;
            return Ok(Utc::now() - chrono::Duration::days(n.clamp(0, 36_600)));
        }
        if let Some(n) = s.strip_suffix('h') {
            let n: i64 = n.parse().map_err(|_| bad())?;
            return Ok(Utc::now() - chrono::Duration::hours(n.clamp(0, 878_400)));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_dates_times_and_ages() {
        let since = |s| parse_time("since", s, Ages::Allowed);
        assert!(since("7d").unwrap() < Utc::now());
        assert!(since("48h").is_ok());
        assert_eq!(
            since("2026-01-31").unwrap().to_rfc3339(),
            "2026-01-31T00:00:00+00:00"
        );
        assert!(since("2026-01-31T08:00:00Z").is_ok());
        assert!(since("yesterday").is_err());
        assert!(since("xd").is_err());
    }

    #[test]
    fn a_date_to_come_takes_no_age() {
        let on = |s| parse_time("date", s, Ages::Refused);
        assert_eq!(
            on(" 2026-06-30 ").unwrap().to_rfc3339(),
            "2026-06-30T00:00:00+00:00"
        );
        assert!(on("2026-06-30T12:00:00+02:00").is_ok());
        let e = on("7d").unwrap_err();
        assert!(e.message.contains("is not a date"), "{}", e.message);
        assert!(on("30 June").is_err());
    }
}
