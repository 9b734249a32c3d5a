//! Calendar arithmetic for the dates upstream prints and parses (UTC, proleptic Gregorian).

/// Days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch as GLib's `%c` prints them in the C locale, in UTC:
/// `Thu Jan 1 00:16:40 1970` with the day padded by a figure space (U+2007), as upstream
/// words commit times in messages.
///
/// ```
/// use rostree_core::datetime::format_ctime;
///
/// assert_eq!(format_ctime(1000), "Thu Jan \u{2007}1 00:16:40 1970");
/// assert_eq!(format_ctime(1_700_000_000), "Tue Nov 14 22:13:20 2023");
/// ```
pub fn format_ctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let t = secs.rem_euclid(86_400);
    format!(
        "{} {} {}{d} {:02}:{:02}:{:02} {y}",
        DAYS[days.rem_euclid(7).wrapping_add(4) as usize % 7],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        if d < 10 { "\u{2007}" } else { "" },
        t / 3600,
        (t / 60) % 60,
        t % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_as_upstream_prints_it() {
        // Both read off upstream's --timestamp-check message.
        assert_eq!(format_ctime(1000), "Thu Jan \u{2007}1 00:16:40 1970");
        assert_eq!(format_ctime(2000), "Thu Jan \u{2007}1 00:33:20 1970");
        assert_eq!(format_ctime(1_700_000_000), "Tue Nov 14 22:13:20 2023");
        for days in [-1000, 0, 59, 60, 11_016, 20_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
