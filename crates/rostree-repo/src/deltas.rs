//! Where a repository keeps its static deltas, and the indexes that list them.
//!
//! The formats of the files inside a delta belong to `rostree-delta`; this module knows
//! only their names, so that listing, pruning, the summary and the indexes need no more.
//!
//! ```text
//! deltas/FF/ROM-TO/superblock     a delta from FROM to TO (both checksums in modified
//! deltas/FF/ROM-TO/0, 1, …        base64, the first two characters of FROM as the
//!                                 directory), its superblock and parts
//! deltas/TT/O/superblock          a delta from nothing to TO
//! delta-indexes/TT/O.index        a{sv}: "ostree.static-deltas" -> a{sv} of the deltas to
//!                                 TO, name -> v(ay) sha256 of their superblock
//! ```

use std::fmt;
use std::path::Path;

use rostree_core::ghash::{HashOrder, str_hash};
use rostree_core::gvariant::Value;
use rostree_core::object::Metadata;
use rostree_core::{Checksum, ObjectType};

use crate::error::{Error, IoContext, Result};
use crate::repo::{Repo, write_atomic};

/// The summary and delta-index key listing deltas.
pub const STATIC_DELTAS_KEY: &str = "ostree.static-deltas";

/// A static delta's name: the commit it starts from (none for a delta from nothing) and
/// the commit it builds. Written `FROM-TO` or `TO` in hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeltaName {
    /// The commit it starts from; `None` for a delta from nothing.
    pub from: Option<Checksum>,
    /// The commit it builds.
    pub to: Checksum,
}

impl fmt::Display for DeltaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.from {
            Some(from) => write!(f, "{from}-{}", self.to),
            None => write!(f, "{}", self.to),
        }
    }
}

/// Checks a checksum string as upstream does, with its words.
fn parse_checksum(text: &str) -> Result<Checksum> {
    Ok(Checksum::parse_rev(text)?)
}

impl DeltaName {
    /// Parses `FROM-TO` or `TO`.
    pub fn parse(name: &str) -> Result<DeltaName> {
        match name.split_once('-') {
            Some((from, to)) => Ok(DeltaName {
                from: Some(parse_checksum(from)?),
                to: parse_checksum(to)?,
            }),
            None => Ok(DeltaName {
                from: None,
                to: parse_checksum(name)?,
            }),
        }
    }

    /// Its directory, relative to the repository.
    pub fn dir(&self) -> String {
        let to = self.to.to_mbase64();
        match &self.from {
            Some(from) => {
                let from = from.to_mbase64();
                format!("deltas/{}/{}-{to}", &from[..2], &from[2..])
            }
            None => format!("deltas/{}/{}", &to[..2], &to[2..]),
        }
    }

    /// A file in its directory (`superblock`, a part number, `commitmeta`), relative to the
    /// repository. Inline parts and detached metadata are keyed by these names too.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir())
    }

    /// Its superblock, relative to the repository.
    pub fn superblock_path(&self) -> String {
        self.file("superblock")
    }

    /// Part `i`, relative to the repository.
    pub fn part_path(&self, i: u32) -> String {
        self.file(&i.to_string())
    }
}

/// The delta index of the deltas to `to`, relative to the repository.
pub fn index_path(to: &Checksum) -> String {
    let to = to.to_mbase64();
    format!("delta-indexes/{}/{}.index", &to[..2], &to[2..])
}

/// Entries of a directory, by name; none when it does not exist.
fn dir_entries(dir: &cap_std::fs::Dir, rel: &str) -> Result<Vec<(String, bool)>> {
    let sub = match dir.open_dir(rel) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx("opening", rel),
    };
    let mut out = Vec::new();
    for entry in sub.entries().ctx("listing", rel)? {
        let entry = entry.ctx("listing", rel)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let is_dir = entry
            .file_type()
            .ctx("stat", format!("{rel}/{name}"))?
            .is_dir();
        out.push((name, is_dir));
    }
    out.sort();
    Ok(out)
}

/// The static deltas in the repository: directories `deltas/XX/REST` holding a
/// `superblock`, where `XXREST` is `TO` or `FROM-TO` in modified base64. Other entries are
/// ignored. Sorted by their directory names.
pub fn list_static_deltas(repo: &Repo) -> Result<Vec<DeltaName>> {
    let mut out = Vec::new();
    for (prefix, is_dir) in dir_entries(repo.dir(), "deltas")? {
        if prefix.len() != 2 || !is_dir {
            continue;
        }
        let rel = format!("deltas/{prefix}");
        for (rest, is_dir) in dir_entries(repo.dir(), &rel)? {
            if !is_dir {
                continue;
            }
            let full = format!("{prefix}{rest}");
            let parsed = match full.split_once('-') {
                Some((from, to)) => Checksum::from_mbase64(from)
                    .and_then(|f| Ok((Some(f), Checksum::from_mbase64(to)?))),
                None => Checksum::from_mbase64(&full).map(|t| (None, t)),
            };
            let Ok((from, to)) = parsed else { continue };
            let name = DeltaName { from, to };
            if delta_exists(repo, &name)? {
                out.push(name);
            }
        }
    }
    Ok(out)
}

/// Whether the repository holds `name`'s superblock.
pub fn delta_exists(repo: &Repo, name: &DeltaName) -> Result<bool> {
    let path = name.superblock_path();
    match crate::sys::lstat_at(repo.dir(), path.as_ref()) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).ctx("stat", path),
    }
}

/// Deletes a delta's directory; upstream's words when it is not there.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use cap_std::{ambient_authority, fs::Dir};
/// # use rostree_repo::{InitOptions, Repo, RepoMode};
/// # let tmp = tempfile::tempdir()?;
/// # std::fs::create_dir(tmp.path().join("repo"))?;
/// # let dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// # let repo = Repo::init(dir, tmp.path().join("repo"), &InitOptions::default())?;
/// use rostree_core::Checksum;
/// use rostree_repo::Error;
/// use rostree_repo::deltas::{DeltaName, delete_delta, list_static_deltas};
///
/// // `ostree static-delta delete TO` in a repository without deltas.
/// assert!(list_static_deltas(&repo)?.is_empty());
/// let name = DeltaName { from: None, to: Checksum::digest(b"a commit") };
/// let err = delete_delta(&repo, &name).expect_err("there is no such delta");
/// assert!(matches!(err, Error::DeltaNotFound { .. }));
/// assert_eq!(err.to_string(), format!("Can't find delta {}", name.to));
/// # Ok(()) }
/// ```
pub fn delete_delta(repo: &Repo, name: &DeltaName) -> Result<()> {
    let dir = name.dir();
    match repo.dir().remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::DeltaNotFound { name: *name })
        }
        Err(e) => Err(e).ctx("deleting", dir),
    }
}

/// Deletes the static deltas that build `target`, or, without one, those whose target commit
/// is not in the repository. Returns how many went.
pub fn prune_static_deltas(repo: &Repo, target: Option<&Checksum>) -> Result<u64> {
    let mut removed = 0;
    for delta in list_static_deltas(repo)? {
        let doomed = match target {
            Some(target) => delta.to == *target,
            None => !repo.has_object(ObjectType::Commit, &delta.to)?,
        };
        if doomed {
            match repo.dir().remove_dir_all(delta.dir()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("deleting", delta.dir()),
            }
        }
    }
    Ok(removed)
}

/// The sha256 of a delta's superblock file, which the summary and the indexes publish.
pub fn superblock_digest(repo: &Repo, name: &DeltaName) -> Result<Checksum> {
    let path = name.superblock_path();
    let mut file = repo.dir().open(&path).ctx("opening", &path)?;
    let mut hasher = rostree_core::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).ctx("reading", &path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// The `a{sv}` of deltas to digests, in the order GLib's dictionaries keep: the value of
/// `ostree.static-deltas` in the summary and in the indexes.
pub fn deltas_dict(repo: &Repo, names: &[DeltaName]) -> Result<Value> {
    let mut dict = HashOrder::new();
    for name in names {
        let key = name.to_string();
        let digest = superblock_digest(repo, name)?;
        let hash = str_hash(key.as_bytes());
        dict.insert(key, Value::Bytes(digest.as_bytes().to_vec()), hash);
    }
    Ok(Metadata(dict.into_entries()).to_value())
}

/// The commits that have a delta index.
pub fn list_delta_indexes(repo: &Repo) -> Result<Vec<Checksum>> {
    let mut out = Vec::new();
    for (prefix, is_dir) in dir_entries(repo.dir(), "delta-indexes")? {
        if prefix.len() != 2 || !is_dir {
            continue;
        }
        for (name, is_dir) in dir_entries(repo.dir(), &format!("delta-indexes/{prefix}"))? {
            let Some(rest) = name.strip_suffix(".index") else {
                continue;
            };
            if is_dir || rest.len() != 41 {
                continue;
            }
            if let Ok(to) = Checksum::from_mbase64(&format!("{prefix}{rest}")) {
                out.push(to);
            }
        }
    }
    Ok(out)
}

/// Rewrites the delta indexes (of `to` only, or of every commit a delta builds), removing
/// those no delta needs any more, and records `core.indexed-deltas=true` so that clients
/// know to ask for them. An index whose content would not change is not rewritten.
pub fn reindex(repo: &mut Repo, to: Option<&Checksum>) -> Result<()> {
    if !repo.core_flag("indexed-deltas", false)? {
        let mut config = repo.config().clone();
        config
            .set_bool("core", "indexed-deltas", true)
            .map_err(|e| Error::Config(e.to_string()))?;
        repo.write_config(config)?;
    }
    let _lock = repo.lock_shared()?;
    let mut by_target: std::collections::BTreeMap<Checksum, Vec<DeltaName>> = match to {
        Some(to) => [(*to, Vec::new())].into(),
        None => list_delta_indexes(repo)?
            .into_iter()
            .map(|c| (c, Vec::new()))
            .collect(),
    };
    for delta in list_static_deltas(repo)? {
        if to.is_some_and(|to| *to != delta.to) {
            continue;
        }
        by_target.entry(delta.to).or_default().push(delta);
    }
    for (target, mut names) in by_target {
        let path = index_path(&target);
        if names.is_empty() {
            match repo.dir().remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("removing", path),
            }
            continue;
        }
        // Sorted by the from commit (a delta from nothing first), as upstream, so that the
        // index is reproducible.
        names.sort_by_key(|n| n.from.map(|c| c.to_hex()));
        let index = Metadata(vec![(
            STATIC_DELTAS_KEY.to_owned(),
            deltas_dict(repo, &names)?,
        )]);
        let bytes = index.to_bytes();
        if repo.dir().read(&path).is_ok_and(|old| old == bytes) {
            continue;
        }
        let parent = Path::new(&path)
            .parent()
            .expect("an index path has a directory");
        repo.dir().create_dir_all(parent).ctx("creating", parent)?;
        write_atomic(
            repo.dir(),
            Path::new(&path),
            &bytes,
            0o644,
            repo.fsync_enabled(),
        )
        .ctx("writing", &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let to = Checksum::digest(b"to");
        let from = Checksum::digest(b"from");
        let scratch = DeltaName { from: None, to };
        let delta = DeltaName {
            from: Some(from),
            to,
        };
        assert_eq!(
            DeltaName::parse(&scratch.to_string()).expect("test input is valid"),
            scratch
        );
        assert_eq!(
            DeltaName::parse(&delta.to_string()).expect("test input is valid"),
            delta
        );
        let (f, t) = (from.to_mbase64(), to.to_mbase64());
        assert_eq!(scratch.dir(), format!("deltas/{}/{}", &t[..2], &t[2..]));
        assert_eq!(
            delta.part_path(3),
            format!("deltas/{}/{}-{t}/3", &f[..2], &f[2..])
        );
        assert_eq!(
            index_path(&to),
            format!("delta-indexes/{}/{}.index", &t[..2], &t[2..])
        );
    }

    #[test]
    fn bad_names_in_upstream_words() {
        let cases = [
            ("", "Invalid rev "),
            ("abc", "Invalid rev abc"),
            (&"A".repeat(64), "Invalid character '65' in rev"),
        ];
        for (name, words) in cases {
            let err = DeltaName::parse(name)
                .expect_err("must be refused")
                .to_string();
            assert!(err.starts_with(words), "{name:?}: {err}");
        }
    }
}
