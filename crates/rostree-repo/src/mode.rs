//! Repository modes (`[core] mode`).

use std::fmt;
use std::str::FromStr;

/// How content objects are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepoMode {
    /// Real files with real ownership, modes and xattrs (needs root to write).
    Bare,
    /// Regular files carrying metadata in the `user.ostreemeta` xattr.
    BareUser,
    /// Real files, canonical permissions, no ownership or xattrs.
    BareUserOnly,
    /// Compressed `.filez` objects, servable over HTTP. Written as `archive-z2`.
    Archive,
    /// Regular files whose xattrs live in separate `.file-xattrs` objects (experimental
    /// upstream; rostree refuses to write or read content in this mode for now).
    BareSplitXattrs,
}

impl RepoMode {
    /// The name written to the config.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoMode::Bare => "bare",
            RepoMode::BareUser => "bare-user",
            RepoMode::BareUserOnly => "bare-user-only",
            RepoMode::Archive => "archive-z2",
            RepoMode::BareSplitXattrs => "bare-split-xattrs",
        }
    }

    /// Whether content objects are `.filez`.
    pub fn is_archive(self) -> bool {
        self == RepoMode::Archive
    }
}

impl fmt::Display for RepoMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RepoMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "bare" => RepoMode::Bare,
            "bare-user" => RepoMode::BareUser,
            "bare-user-only" => RepoMode::BareUserOnly,
            "archive" | "archive-z2" => RepoMode::Archive,
            "bare-split-xattrs" => RepoMode::BareSplitXattrs,
            other => {
                return Err(format!(
                    "Invalid mode '{other}' in repository configuration"
                ));
            }
        })
    }
}
