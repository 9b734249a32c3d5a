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
/// Times before 1970 are stored wrapped around, and shown as the dates they stand for.
pub fn format_date(timestamp: u64) -> String {
    let ts = timestamp as i64;
    let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
    let secs = ts.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Parses `--timestamp` and `--keep-younger-than` as upstream does (see [`crate::datetime`]).
/// Times before 1970 wrap, as upstream stores them unsigned.
pub fn parse_timestamp(text: &str) -> Result<u64> {
    crate::datetime::parse_datetime(text)
        .map(|seconds| seconds as u64)
        .ok_or_else(|| anyhow::anyhow!("Could not parse '{text}'"))
}

pub use rostree::core::size::format_size;

/// A leading integer read as C's `strtoll` reads it (upstream's `SOURCE_DATE_EPOCH` and
/// depths): `1e3` is 1, no digits at all is `None`, and a value out of range is clamped to
/// the nearest bound with `out_of_range` set (C's `ERANGE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeadingInteger {
    pub value: i64,
    pub out_of_range: bool,
}

pub fn parse_leading_integer(text: &str) -> Option<LeadingInteger> {
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
    // Any run of digits past i128 is out of range of i64 too.
    let magnitude = digits[..end].parse::<i128>().unwrap_or(i128::MAX);
    let signed = if negative { -magnitude } else { magnitude };
    Some(match i64::try_from(signed) {
        Ok(value) => LeadingInteger {
            value,
            out_of_range: false,
        },
        Err(_) => LeadingInteger {
            value: if negative { i64::MIN } else { i64::MAX },
            out_of_range: true,
        },
    })
}

/// A commit's time from `SOURCE_DATE_EPOCH`, as upstream reads it (`None` when unset):
/// a leading integer, out of range or without digits refused in upstream's words, a
/// negative time wrapped as upstream stores it unsigned.
pub fn source_date_epoch() -> Result<Option<u64>> {
    let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") else {
        return Ok(None);
    };
    match parse_leading_integer(&epoch) {
        None => anyhow::bail!("Failed to convert SOURCE_DATE_EPOCH"),
        Some(epoch) if epoch.out_of_range => {
            anyhow::bail!("Parsing SOURCE_DATE_EPOCH: Numerical result out of range")
        }
        Some(epoch) => Ok(Some(epoch.value as u64)),
    }
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
        assert_eq!(format_date(1_700_000_000), "2023-11-14 22:13:20 +0000");
        assert_eq!(format_date(-86_400_i64 as u64), "1969-12-31 00:00:00 +0000");
        // What upstream wrote as a cookie's expiry at 1795334334: 25 years on.
        assert_eq!(add_years(1_795_334_334, 25), 2_584_252_734);
        let leap_day = 1_709_208_000; // 2024-02-29 12:00:00 UTC
        assert_eq!(
            format_date(add_years(leap_day, 1)),
            "2025-02-28 12:00:00 +0000"
        );
        let int = |value, out_of_range| {
            Some(LeadingInteger {
                value,
                out_of_range,
            })
        };
        for (text, wanted) in [
            ("1000", int(1000, false)),
            ("1e3", int(1, false)),
            (" +7", int(7, false)),
            ("-5", int(-5, false)),
            ("9223372036854775807", int(i64::MAX, false)),
            ("9223372036854775808", int(i64::MAX, true)),
            ("12345678901234567890", int(i64::MAX, true)),
            (
                "-99999999999999999999999999999999999999999",
                int(i64::MIN, true),
            ),
            ("abc", None),
            ("", None),
            ("-", None),
        ] {
            assert_eq!(parse_leading_integer(text), wanted, "{text:?}");
        }
    }
}
