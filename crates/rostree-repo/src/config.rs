//! A repository's `config`, read as upstream reads it when it opens a repository: once,
//! with upstream's defaults, refusing what upstream refuses in its words and taking what it
//! takes (numbers as `g_ascii_strtoull` reads them, the zlib level clamped).
//!
//! ```text
//! [core]
//! repo_version=1              required, "1"
//! mode=bare                   bare | bare-user | bare-user-only | archive(-z2) | bare-split-xattrs
//! fsync=true                  per-object-fsync=false  disable-xattrs=false
//! enable-uncompressed-cache=true  tmp-expiry-secs=86400
//! locking=true                lock-timeout-secs=30 (negative: wait for as long as it takes)
//! min-free-space-percent=3    or min-free-space-size=NNN(MB|GB|TB), which wins
//! collection-id=              parent=PATH   payload-link-threshold=-1
//! [archive]
//! zlib-level=6                1 to 9
//! ```

use std::path::PathBuf;
use std::time::Duration;

use rostree_core::keyfile::KeyFile;

use crate::RepoMode;

/// The settings upstream reads when it opens a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoConfig {
    /// `core.mode` (default `bare`).
    pub mode: RepoMode,
    /// `core.fsync` (default on).
    pub fsync: bool,
    /// `core.per-object-fsync` (default off).
    pub per_object_fsync: bool,
    /// `core.disable-xattrs` (default off).
    pub disable_xattrs: bool,
    /// `core.enable-uncompressed-cache` (default on).
    pub enable_uncompressed_cache: bool,
    /// `core.tmp-expiry-secs` (default a day).
    pub tmp_expiry_secs: u64,
    /// `core.locking` and `core.lock-timeout-secs`.
    pub lock_timeout: LockTimeout,
    /// `archive.zlib-level`, clamped to 1..=9 (default 6).
    pub zlib_level: u32,
    /// `core.min-free-space-size` or `-percent`.
    pub min_free_space: MinFreeSpace,
    /// `core.collection-id`.
    pub collection_id: Option<String>,
    /// `core.parent`: a repository whose objects and refs this one also sees.
    pub parent: Option<PathBuf>,
    /// `core.payload-link-threshold` (default: none, `u64::MAX`).
    pub payload_link_threshold: u64,
}

/// How long to wait for the repository lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockTimeout {
    /// `locking=false`: no locks are taken.
    Disabled,
    /// A negative timeout: wait for as long as it takes.
    Forever,
    /// Give up after this long.
    After(Duration),
}

/// How much of the file system a transaction must leave free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinFreeSpace {
    /// No floor (`min-free-space-percent=0`).
    Off,
    /// This percentage of the file system (default 3).
    Percent(u8),
    /// This many MiB (`min-free-space-size`).
    Megabytes(u64),
}

/// A config upstream refuses to open a repository with, in its words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is no key file.
    #[error("Couldn't parse config file: {0}")]
    Parse(String),
    /// A required key is missing.
    #[error("Key file does not have key “{key}” in group “{group}”")]
    MissingKey {
        /// The group.
        group: &'static str,
        /// The key.
        key: &'static str,
    },
    /// `repo_version` is not 1.
    #[error("Invalid repository version '{0}'")]
    Version(String),
    /// `core.archive=true`, the format before archive-z2.
    #[error(
        "This version of OSTree no longer supports \"archive\" repositories; use archive-z2 instead"
    )]
    OldArchive,
    /// An unknown `core.mode`.
    #[error("{0}")]
    Mode(String),
    /// A boolean key whose value is not one.
    #[error("Key file contains key “{0}” which has a value that cannot be interpreted.")]
    NotBoolean(String),
    /// `min-free-space-size` is not `NNN` and a unit.
    #[error(
        "Invalid min-free-space-size '{0}': It should be of the format '123MB', '123GB' or '123TB'"
    )]
    MinFreeSpaceSize(String),
    /// `min-free-space-percent` over 99.
    #[error("Invalid min-free-space-percent '{0}'")]
    MinFreeSpacePercent(String),
}

impl RepoConfig {
    /// Parses and checks `text`, a repository's `config`.
    pub fn parse(text: &str) -> Result<(KeyFile, RepoConfig), ConfigError> {
        let keyfile = KeyFile::parse(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let config = RepoConfig::from_keyfile(&keyfile)?;
        Ok((keyfile, config))
    }

    /// Reads the settings of a parsed config.
    pub fn from_keyfile(kf: &KeyFile) -> Result<RepoConfig, ConfigError> {
        let version = kf
            .get_raw("core", "repo_version")
            .ok_or(ConfigError::MissingKey {
                group: "core",
                key: "repo_version",
            })?;
        if version != "1" {
            return Err(ConfigError::Version(version.to_owned()));
        }
        let flag = |key: &str, default: bool| -> Result<bool, ConfigError> {
            kf.get_bool("core", key)
                .map_err(|_| ConfigError::NotBoolean(key.to_owned()))
                .map(|v| v.unwrap_or(default))
        };
        if flag("archive", false)? {
            return Err(ConfigError::OldArchive);
        }
        let mode = kf
            .get_raw("core", "mode")
            .unwrap_or("bare")
            .parse()
            .map_err(ConfigError::Mode)?;
        let fsync = flag("fsync", true)?;
        let per_object_fsync = flag("per-object-fsync", false)?;
        let disable_xattrs = flag("disable-xattrs", false)?;
        let enable_uncompressed_cache = flag("enable-uncompressed-cache", true)?;
        let tmp_expiry_secs = kf
            .get_raw("core", "tmp-expiry-secs")
            .map_or(86400, strtoull);
        let lock_timeout = if flag("locking", true)? {
            match kf.get_raw("core", "lock-timeout-secs").map_or(30, strtoll) {
                secs if secs < 0 => LockTimeout::Forever,
                secs => LockTimeout::After(Duration::from_secs(secs.unsigned_abs())),
            }
        } else {
            LockTimeout::Disabled
        };
        let zlib_level = kf
            .get_raw("archive", "zlib-level")
            .map_or(6, |v| strtoull(v).clamp(1, 9) as u32);
        let min_free_space = min_free_space(kf)?;
        let non_empty = |key: &str| {
            kf.get_raw("core", key)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(RepoConfig {
            mode,
            fsync,
            per_object_fsync,
            disable_xattrs,
            enable_uncompressed_cache,
            tmp_expiry_secs,
            lock_timeout,
            zlib_level,
            min_free_space,
            collection_id: non_empty("collection-id"),
            parent: non_empty("parent").map(PathBuf::from),
            payload_link_threshold: kf
                .get_raw("core", "payload-link-threshold")
                .map_or(u64::MAX, strtoull),
        })
    }
}

/// `min-free-space-size` wins over `-percent` when both are there and not zero; neither
/// means 3 %.
fn min_free_space(kf: &KeyFile) -> Result<MinFreeSpace, ConfigError> {
    let megabytes = match kf.get_raw("core", "min-free-space-size") {
        Some(size) => Some(parse_size_mb(size)?),
        None => None,
    };
    let percent = match kf.get_raw("core", "min-free-space-percent") {
        Some(text) => {
            let percent = strtoull(text);
            if percent > 99 {
                return Err(ConfigError::MinFreeSpacePercent(text.to_owned()));
            }
            Some(percent as u8)
        }
        None => None,
    };
    Ok(match (megabytes, percent) {
        (Some(mb), _) if mb != 0 => MinFreeSpace::Megabytes(mb),
        (_, Some(p)) if p != 0 => MinFreeSpace::Percent(p),
        (None, None) => MinFreeSpace::Percent(3),
        _ => MinFreeSpace::Off,
    })
}

/// `NNN` followed by `MB`, `GB` or `TB`, in MiB.
fn parse_size_mb(text: &str) -> Result<u64, ConfigError> {
    let bad = || ConfigError::MinFreeSpaceSize(text.to_owned());
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let shift = match &text[digits.len()..] {
        "MB" => 0,
        "GB" => 10,
        "TB" => 20,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let value: u64 = digits.parse().map_err(|_| bad())?;
    value.checked_mul(1 << shift).ok_or_else(bad)
}

/// `g_ascii_strtoull(text, NULL, 10)`: leading blanks and a sign, then digits, the rest
/// ignored; no digits is 0, too many saturate, a minus negates (wrapping), as C does.
pub fn strtoull(text: &str) -> u64 {
    let (negative, digits) = sign_and_digits(text);
    let value = digits
        .bytes()
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .unwrap_or(u64::MAX);
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

/// `g_ascii_strtoll(text, NULL, 10)`: as [`strtoull`], saturating at the signed bounds.
pub fn strtoll(text: &str) -> i64 {
    let (negative, digits) = sign_and_digits(text);
    let magnitude = digits
        .bytes()
        .try_fold(0i128, |n, d| {
            let next = n * 10 + i128::from(d - b'0');
            (next <= i128::from(u64::MAX)).then_some(next)
        })
        .unwrap_or(i128::from(u64::MAX));
    let value = if negative { -magnitude } else { magnitude };
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn sign_and_digits(text: &str) -> (bool, &str) {
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = rest
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    (negative, &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lines: &str) -> Result<RepoConfig, ConfigError> {
        RepoConfig::parse(&format!("[core]\nrepo_version=1\nmode=archive-z2\n{lines}"))
            .map(|(_, c)| c)
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = config("").expect("valid");
        assert_eq!(c.mode, RepoMode::Archive);
        assert!(c.fsync && !c.per_object_fsync && !c.disable_xattrs);
        assert!(c.enable_uncompressed_cache);
        assert_eq!(c.tmp_expiry_secs, 86400);
        assert_eq!(c.lock_timeout, LockTimeout::After(Duration::from_secs(30)));
        assert_eq!(c.zlib_level, 6);
        assert_eq!(c.min_free_space, MinFreeSpace::Percent(3));
        assert_eq!(c.collection_id, None);
        assert_eq!(c.parent, None);
        assert_eq!(c.payload_link_threshold, u64::MAX);
    }

    #[test]
    fn values_are_read_as_upstream_reads_them() {
        type Case<'a> = (&'a str, fn(&RepoConfig) -> bool);
        let cases: &[Case] = &[
            ("fsync=false", |c| !c.fsync),
            ("fsync=0", |c| !c.fsync),
            ("disable-xattrs=true", |c| c.disable_xattrs),
            ("[archive]\nzlib-level=9", |c| c.zlib_level == 9),
            ("[archive]\nzlib-level=0", |c| c.zlib_level == 1),
            ("[archive]\nzlib-level=42", |c| c.zlib_level == 9),
            ("[archive]\nzlib-level=abc", |c| c.zlib_level == 1),
            ("[archive]\nzlib-level=3x", |c| c.zlib_level == 3),
            ("lock-timeout-secs=-1", |c| {
                c.lock_timeout == LockTimeout::Forever
            }),
            ("lock-timeout-secs=abc", |c| {
                c.lock_timeout == LockTimeout::After(Duration::ZERO)
            }),
            ("locking=false", |c| c.lock_timeout == LockTimeout::Disabled),
            ("min-free-space-percent=0", |c| {
                c.min_free_space == MinFreeSpace::Off
            }),
            ("min-free-space-percent=abc", |c| {
                c.min_free_space == MinFreeSpace::Off
            }),
            ("min-free-space-percent=10", |c| {
                c.min_free_space == MinFreeSpace::Percent(10)
            }),
            ("min-free-space-size=2GB", |c| {
                c.min_free_space == MinFreeSpace::Megabytes(2048)
            }),
            ("min-free-space-size=5MB\nmin-free-space-percent=10", |c| {
                c.min_free_space == MinFreeSpace::Megabytes(5)
            }),
            ("min-free-space-size=0MB", |c| {
                c.min_free_space == MinFreeSpace::Off
            }),
            ("collection-id=org.example", |c| {
                c.collection_id.as_deref() == Some("org.example")
            }),
            ("parent=", |c| c.parent.is_none()),
            ("tmp-expiry-secs=60", |c| c.tmp_expiry_secs == 60),
        ];
        for (lines, check) in cases {
            let c = config(lines).unwrap_or_else(|e| panic!("{lines}: {e}"));
            assert!(check(&c), "{lines}: {c:?}");
        }
    }

    #[test]
    fn refusals_are_worded_as_upstream_words_them() {
        let cases: &[(&str, &str)] = &[
            (
                "fsync=maybe",
                "Key file contains key “fsync” which has a value that cannot be interpreted.",
            ),
            (
                "disable-xattrs=2",
                "Key file contains key “disable-xattrs” which has a value that cannot be interpreted.",
            ),
            (
                "archive=true",
                "This version of OSTree no longer supports \"archive\" repositories; use archive-z2 instead",
            ),
            (
                "min-free-space-percent=120",
                "Invalid min-free-space-percent '120'",
            ),
            (
                "min-free-space-size=12XB",
                "Invalid min-free-space-size '12XB': It should be of the format '123MB', '123GB' or '123TB'",
            ),
        ];
        for (lines, words) in cases {
            let e = config(lines).expect_err(lines);
            assert_eq!(e.to_string(), *words, "{lines}");
        }
        let version = RepoConfig::parse("[core]\nrepo_version=2\n").expect_err("version 2");
        assert_eq!(version.to_string(), "Invalid repository version '2'");
        let missing = RepoConfig::parse("[core]\nmode=bare\n").expect_err("no version");
        assert_eq!(
            missing.to_string(),
            "Key file does not have key “repo_version” in group “core”"
        );
    }

    #[test]
    fn numbers_read_as_glib_reads_them() {
        for (text, want) in [
            ("12", 12u64),
            ("  7days", 7),
            ("+3", 3),
            ("abc", 0),
            ("", 0),
            ("-1", u64::MAX),
            ("99999999999999999999999", u64::MAX),
        ] {
            assert_eq!(strtoull(text), want, "{text:?}");
        }
        for (text, want) in [
            ("-5", -5i64),
            ("30", 30),
            ("x", 0),
            ("-99999999999999999999", i64::MIN),
        ] {
            assert_eq!(strtoll(text), want, "{text:?}");
        }
    }
}
