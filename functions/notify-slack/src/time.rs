//! Timestamps as AWS sends them, to epoch seconds and back to text. Hand-written because the
//! formats are few and fixed, and a date crate would be the biggest dependency of this function.

use serde_json::Value;

/// Epoch seconds from any timestamp shape seen in these messages: epoch seconds or milliseconds
/// (number or string, with or without a fraction), Java `Date.toString()` in UTC
/// (`Fri Oct 14 08:38:46 UTC 2022`) and ISO 8601 (`2022-10-14T08:38:46.123+0000`).
pub fn parse_time(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_f64().and_then(epoch_from_number),
        Value::String(s) => parse_time_str(s),
        _ => None,
    }
}

pub fn parse_time_str(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return text.parse::<f64>().ok().and_then(epoch_from_number);
    }
    parse_java(text).or_else(|| parse_iso(text))
}

/// 9999-12-31T23:59:59Z: later values are garbage, and would overflow the date arithmetic.
const MAX_EPOCH: i64 = 253_402_300_799;

fn epoch_from_number(n: f64) -> Option<i64> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    // Past 1e11 seconds is the year 5138: it must be milliseconds.
    let seconds = if n > 1e11 { n / 1000.0 } else { n };
    (seconds <= MAX_EPOCH as f64).then_some(seconds as i64)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `EEE MMM dd HH:mm:ss zzz yyyy`; only UTC/GMT zones, which is what CodeDeploy sends.
fn parse_java(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, month, day, clock, zone, year] = parts.as_slice() else {
        return None;
    };
    if !matches!(*zone, "UTC" | "GMT" | "Z") {
        return None;
    }
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
    let (h, m, s) = parse_clock(clock)?;
    epoch(year.parse().ok()?, month, day.parse().ok()?, h, m, s)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM|±HHMM)`.
fn parse_iso(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let clock = clock.split('.').next()?;
    let (h, m, s) = parse_clock(clock)?;
    let offset = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 {
                return None;
            }
            let hours: i64 = digits[..2].parse().ok()?;
            let minutes: i64 = digits[2..].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    Some(epoch(year, month, day, h, m, s)? - offset)
}

fn parse_clock(clock: &str) -> Option<(u32, u32, u32)> {
    let mut parts = clock.splitn(3, ':');
    let h = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let s = parts.next().unwrap_or("0").parse().ok()?;
    (h < 24 && m < 60 && s < 61).then_some((h, m, s))
}

fn epoch(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<i64> {
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s))
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2022-10-14 08:38:46 UTC`.
pub fn format_utc(epoch: i64) -> String {
    let (year, month, day) = civil_from_days(epoch.div_euclid(86_400));
    let secs = epoch.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Slack date token: shown in the reader's time zone, with the UTC text as fallback.
pub fn slack_date(epoch: i64) -> String {
    format!(
        "<!date^{epoch}^{{date_short_pretty}} {{time_secs}}|{}>",
        format_utc(epoch)
    )
}

/// `45s`, `4m 26s`, `1h 02m`, `2d 3h`.
pub fn format_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn java_dates_as_codedeploy_sends_them() {
        assert_eq!(
            parse_time_str("Fri Oct 14 08:38:46 UTC 2022"),
            Some(1_665_736_726)
        );
        assert_eq!(
            parse_time_str("Thu Feb 29 23:59:59 GMT 2024"),
            Some(1_709_251_199)
        );
        assert_eq!(parse_time_str("Fri Oct 14 08:38:46 PDT 2022"), None);
    }

    #[test]
    fn epoch_strings_numbers_and_milliseconds() {
        assert_eq!(parse_time(&json!("1446744188.595")), Some(1_446_744_188));
        assert_eq!(parse_time(&json!(1_446_744_188)), Some(1_446_744_188));
        assert_eq!(parse_time(&json!("1446744188595")), Some(1_446_744_188));
        assert_eq!(parse_time(&json!(null)), None);
        assert_eq!(parse_time(&json!("")), None);
        assert_eq!(parse_time(&json!("soon")), None);
        assert_eq!(parse_time(&json!(1e300)), None);
        assert_eq!(parse_time_str("99999999999999-01-01T00:00:00Z"), None);
        assert_eq!(
            parse_time_str("Fri Oct 14 08:38:46 UTC 99999999999999"),
            None
        );
    }

    #[test]
    fn iso_with_offsets() {
        assert_eq!(parse_time_str("2022-10-14T08:38:46Z"), Some(1_665_736_726));
        assert_eq!(
            parse_time_str("2022-10-14T08:38:46.345+0000"),
            Some(1_665_736_726)
        );
        assert_eq!(
            parse_time_str("2022-10-14T10:38:46+02:00"),
            Some(1_665_736_726)
        );
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_utc(1_665_736_726), "2022-10-14 08:38:46 UTC");
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_duration(42), "42s");
        assert_eq!(format_duration(266), "4m 26s");
        assert_eq!(format_duration(3720), "1h 02m");
        assert_eq!(format_duration(2 * 86_400 + 3 * 3600), "2d 3h");
        assert_eq!(format_duration(-5), "0s");
    }
}
