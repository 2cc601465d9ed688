//! Reading the API's dates and instants (`2027-11-29`, RFC 3339) with chrono's dedicated
//! RFC 3339 parser and by hand for dates: chrono's general-purpose parser, which its serde
//! support uses, is the largest part of what the portal's bundle spends on time.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// An RFC 3339 instant.
pub(crate) fn instant<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = Cow::<str>::deserialize(d)?;
    parse_instant(&text).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 date-time"))
}

/// An RFC 3339 instant, or `null`.
pub(crate) fn optional_instant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<Cow<str>>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_instant(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 date-time")),
    }
}

/// A `YYYY-MM-DD` date.
pub(crate) fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = Cow::<str>::deserialize(d)?;
    parse_date(&text).ok_or_else(|| serde::de::Error::custom("expected a YYYY-MM-DD date"))
}

/// A `YYYY-MM-DD` date, or `null`.
pub(crate) fn optional_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<Cow<str>>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_date(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected a YYYY-MM-DD date")),
    }
}

/// An instant as RFC 3339 with microseconds, always the same length (so that its text sorts as
/// its time).
pub(crate) fn micros<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    (text.len() == 10).then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_chrono_writes_is_read_back() {
        let at: DateTime<Utc> = "2026-11-29T00:30:53.069980Z".parse().unwrap();
        assert_eq!(
            parse_instant(serde_json::to_value(at).unwrap().as_str().unwrap()),
            Some(at)
        );
        assert_eq!(
            parse_instant("2026-11-29T01:30:53+01:00"),
            Some("2026-11-29T00:30:53Z".parse().unwrap())
        );
        let day = NaiveDate::from_ymd_opt(2027, 11, 29).unwrap();
        assert_eq!(
            parse_date(serde_json::to_value(day).unwrap().as_str().unwrap()),
            Some(day)
        );
        for bad in ["2027-13-01", "2027-1-1", "27-11-29", "2027-11-29x", "nope"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_instant("2026-11-29"), None);
    }
}

/// A whole number that JSON may write with a fraction of zero (`57.0`, as JSON Schema counts it
/// an integer), or `null`; a fraction or a value out of range is an error.
pub(crate) fn optional_whole_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<f64>::deserialize(d)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(serde::de::Error::custom(format!(
            "expected a whole number from 0 to {}, not {n}",
            u32::MAX
        ))),
    }
}

#[cfg(test)]
mod whole_tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::optional_whole_u32")]
        n: Option<u32>,
    }

    #[test]
    fn whole_numbers_are_read_with_or_without_a_fraction_of_zero() {
        let n = |text: &str| serde_json::from_str::<T>(text).map(|t| t.n).ok();
        assert_eq!(n(r#"{"n": 57}"#), Some(Some(57)));
        assert_eq!(n(r#"{"n": 57.0}"#), Some(Some(57)));
        assert_eq!(n(r#"{"n": null}"#), Some(None));
        assert_eq!(n(r#"{}"#), Some(None));
        assert_eq!(n(r#"{"n": 57.5}"#), None);
        assert_eq!(n(r#"{"n": -1}"#), None);
        assert_eq!(n(r#"{"n": "57"}"#), None);
    }
}
