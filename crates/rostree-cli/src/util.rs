//! Helpers shared by subcommands: dates, commit printing, version text.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Result;
use rostree::core::datetime::{civil_from_days, days_from_civil};
use rostree::core::gvariant::print_text;
use rostree::core::object::Commit;
use rostree::{Checksum, Repo};

/// The error chain as one line, innermost cause last.
pub fn format_error(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        // Library errors already include their source in the message.
        if !out.contains(&text) {
            let _ = write!(out, ": {text}");
        }
    }
    out
}

/// An error upstream reports after the command's help, on stderr: a usage error of the
/// command's (`ot_util_usage_error`: the help, a blank line, the error) or a repository
/// that is needed and not given (the help, then the error).
#[derive(Debug)]
pub struct UsageError {
    /// The error line's text.
    pub message: String,
    /// Whether a blank line separates the help and the error.
    pub blank_line: bool,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// A usage error of the command (`ot_util_usage_error`).
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    UsageError {
        message: message.into(),
        blank_line: true,
    }
    .into()
}

/// An OS error as `strerror` words it, without Rust's ` (os error N)`.
pub fn io_error_text(err: &std::io::Error) -> String {
    rostree::repo::os_error_text(err)
}

/// The `--version` text, in upstream's YAML shape: scripts read `libostree.Version` and grep
/// `Features` for what they may use, so the features are upstream's names for what rostree
/// really does; rostree's own version follows under `Git` and its own key.
pub fn version_yaml() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "libostree:");
    let _ = writeln!(out, " Version: '{}'", rostree::UPSTREAM_COMPAT_VERSION);
    let _ = writeln!(out, " Git: rostree-{}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, " Features:");
    for feature in ["libarchive", "gpgme", "sign-ed25519"] {
        let _ = writeln!(out, "  - {feature}");
    }
    let _ = writeln!(out, "rostree:");
    let _ = writeln!(out, " Version: '{}'", env!("CARGO_PKG_VERSION"));
    out
}

/// `timestamp` plus `years` calendar years (UTC; 29 February becomes 28 February), as GLib's
/// `g_date_time_add_years`.
pub fn add_years(timestamp: u64, years: i64) -> u64 {
    let ts = i64::try_from(timestamp).unwrap_or(i64::MAX);
    let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
    let y = y + years;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let d = if m == 2 && d == 29 && !leap { 28 } else { d };
    let days = days_from_civil(y, m, d);
    u64::try_from(days * 86_400 + ts.rem_euclid(86_400)).unwrap_or(0)
}

/// Formats seconds since the epoch as upstream does: `2020-01-01 00:00:00 +0000`.
pub fn format_date(timestamp: u64) -> String {
    let ts = i64::try_from(timestamp).unwrap_or(i64::MAX);
    let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
    let secs = ts.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Parses `--timestamp`: `@SECONDS`, `YYYY-MM-DD`, `YYYY-MM-DD[T ]HH:MM[:SS][Z|±HH[:]MM]`.
pub fn parse_timestamp(text: &str) -> Result<u64> {
    let bad = || anyhow::anyhow!("Could not parse '{text}'");
    if let Some(secs) = text.strip_prefix('@') {
        return secs.trim().parse().map_err(|_| bad());
    }
    let text_trim = text.trim();
    // Dates are ASCII; anything else cannot parse (and must not split inside a character).
    if !text_trim.is_ascii() {
        return Err(bad());
    }
    let (date, rest) = text_trim.split_at(text_trim.len().min(10));
    let mut parts = date.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut seconds = days_from_civil(y, m, d) * 86_400;
    let rest = rest.trim_start_matches(['T', ' ']);
    if !rest.is_empty() {
        let (time, zone) = match rest.find(['Z', 'z', '+', '-', ' ']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let fields: Vec<&str> = time.split(':').collect();
        if fields.len() < 2 || fields.len() > 3 {
            return Err(bad());
        }
        let num = |s: &str| {
            s.split('.')
                .next()
                .unwrap_or("")
                .parse::<i64>()
                .map_err(|_| bad())
        };
        let (h, m) = (num(fields[0])?, num(fields[1])?);
        if !(0..=24).contains(&h) || !(0..=59).contains(&m) {
            return Err(bad());
        }
        seconds += h * 3600 + m * 60;
        if let Some(s) = fields.get(2) {
            let s = num(s)?;
            if !(0..=60).contains(&s) {
                return Err(bad());
            }
            seconds += s;
        }
        let zone = zone.trim();
        if !(zone.is_empty() || zone.eq_ignore_ascii_case("z") || zone.eq_ignore_ascii_case("utc"))
        {
            let sign = if zone.starts_with('-') {
                -1
            } else if zone.starts_with('+') {
                1
            } else {
                return Err(bad());
            };
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            if digits.len() != 4 && digits.len() != 2 {
                return Err(bad());
            }
            let hours: i64 = digits[..2].parse().map_err(|_| bad())?;
            let mins: i64 = if digits.len() == 4 {
                digits[2..].parse().map_err(|_| bad())?
            } else {
                0
            };
            seconds -= sign * (hours * 3600 + mins * 60);
        }
    }
    u64::try_from(seconds).map_err(|_| bad())
}

pub use rostree::core::size::format_size;

/// Reads a leading integer as C's `strtoull` does (upstream's `SOURCE_DATE_EPOCH`): `1e3` is
/// 1 and `-5` wraps around. `None` when there are no digits at all.
pub fn parse_leading_integer(text: &str) -> Option<u64> {
    let text = text.trim_start();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let value = digits[..end].parse::<u64>().unwrap_or(u64::MAX);
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// `ostree.commit` content checksum shown as `ContentChecksum:`.
pub fn content_checksum(commit: &Commit) -> Checksum {
    let mut both = commit.root_tree.as_bytes().to_vec();
    both.extend_from_slice(commit.root_meta.as_bytes());
    Checksum::digest(&both)
}

/// Prints one commit as `log` and `show` do.
pub fn print_commit(
    out: &mut impl std::io::Write,
    checksum: &Checksum,
    commit: &Commit,
) -> std::io::Result<()> {
    writeln!(out, "commit {checksum}")?;
    if let Some(p) = &commit.parent {
        writeln!(out, "Parent:  {p}")?;
    }
    writeln!(out, "ContentChecksum:  {}", content_checksum(commit))?;
    writeln!(out, "Date:  {}", format_date(commit.timestamp))?;
    if let Some(v) = commit.metadata.get_str("version") {
        writeln!(out, "Version: {v}")?;
    }
    if commit.subject.is_empty() {
        // Upstream's placeholder stands flush left, right under the headers.
        writeln!(out, "(no subject)")?;
    } else {
        writeln!(out)?;
        for line in commit.subject.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    writeln!(out)?;
    if !commit.body.is_empty() {
        for line in commit.body.lines() {
            writeln!(out, "    {line}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Prints a value as upstream's `ostree show` does: byte-swapped, with type annotations.
pub fn print_variant(value: &rostree::core::gvariant::Value) -> String {
    print_text(&value.byteswapped(), true)
}

/// Resolves a revision to a commit that must exist.
pub fn resolve_commit(repo: &Repo, rev: &str) -> Result<(Checksum, Commit)> {
    let checksum = repo.resolve_rev(rev)?;
    let commit = repo.load_commit(&checksum)?;
    Ok((checksum, commit))
}

/// Writes bytes to stdout, treating a closed pipe as success.
pub fn write_stdout(data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(data).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        for (text, secs) in [
            ("2020-01-01T00:00:00Z", 1_577_836_800),
            ("2020-01-01 00:00:00", 1_577_836_800),
            ("2020-01-01", 1_577_836_800),
            ("@1700000000", 1_700_000_000),
            ("2021-06-01T14:00:00+02:00", 1_622_548_800),
        ] {
            assert_eq!(parse_timestamp(text).expect(text), secs, "{text}");
        }
        assert_eq!(format_date(1_700_000_000), "2023-11-14 22:13:20 +0000");
        // What upstream wrote as a cookie's expiry at 1795334334: 25 years on.
        assert_eq!(add_years(1_795_334_334, 25), 2_584_252_734);
        let leap_day = parse_timestamp("2024-02-29T12:00:00Z").expect("leap day");
        assert_eq!(
            format_date(add_years(leap_day, 1)),
            "2025-02-28 12:00:00 +0000"
        );
        assert_eq!(parse_leading_integer("1000"), Some(1000));
        assert_eq!(parse_leading_integer("1e3"), Some(1));
        assert_eq!(parse_leading_integer("-5"), Some(u64::MAX - 4));
        assert_eq!(parse_leading_integer("abc"), None);
        assert_eq!(parse_leading_integer(""), None);
        for bad in ["", "yesterday", "2020-13-01", "2020-01-01T25"] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }
}
