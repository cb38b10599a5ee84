//! Calendar days: the token expiry dates in token maps and in Sonar's
//! `SonarQube-Authentication-Token-Expiration` header, as day numbers to compare with today.
//! Its own module so that the credential and the verdict stages both use it without
//! depending on each other.

/// Today's day number (UTC), days since 1970-01-01.
pub fn today() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 / 86_400)
        .unwrap_or(0)
}

/// Days from today (UTC) until a `YYYY-MM-DD...` date.
pub fn days_until(date: &str) -> Option<i64> {
    Some(parse_day(date)? - today())
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` prefix (proleptic Gregorian calendar).
pub fn parse_day(date: &str) -> Option<i64> {
    let d = date.get(..10)?;
    let mut parts = d.split('-');
    let (y, m, day): (i64, i64, i64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2000-03-01"), Some(11_017));
        assert_eq!(parse_day("2026-11-22T10:00:00+0000"), Some(20_779));
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("2027-02-31"), None);
        assert_eq!(parse_day("2027-04-31"), None);
        assert_eq!(parse_day("2028-02-29"), Some(21_243));
        assert_eq!(parse_day("2100-02-29"), None);
        // Every 400th year is a leap year after all.
        assert_eq!(parse_day("2000-02-29"), Some(11_016));
        assert_eq!(parse_day("2400-02-29"), Some(157_113));
        assert_eq!(parse_day("soon"), None);
    }
}
