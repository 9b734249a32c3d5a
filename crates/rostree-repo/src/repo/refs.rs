//! Refs and revisions: `refs/heads`, `refs/remotes/<remote>`, `refs/mirrors/<collection>`,
//! aliases, and what a revision (`REF`, `REMOTE:REF`, a checksum or its prefix, `^`) names.

use super::*;

/// A local or remote ref, as `ostree refs` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRef {
    /// The name listed: `name`, or `remote:name`.
    pub shown: String,
    /// Where it is stored.
    pub kind: RefKind,
    /// Its name under that kind.
    pub name: String,
    /// The commit it points to.
    pub commit: Checksum,
}

impl Repo {
    /// Local refs, then each remote's, in directory order: the order upstream inserts them
    /// into the table it lists refs from.
    pub fn list_all_refs_unsorted(&self) -> Result<Vec<ListedRef>> {
        let mut out = Vec::new();
        // Both directories are part of a repository: upstream fails without them.
        for required in ["refs/heads", "refs/remotes"] {
            self.dir.open_dir(required).map_err(|e| Error::Io {
                op: "opendir",
                path: required.into(),
                source: e,
            })?;
        }
        for (name, commit) in self.list_refs_unsorted(&RefKind::Local)? {
            out.push(ListedRef {
                shown: name.clone(),
                kind: RefKind::Local,
                name,
                commit,
            });
        }
        for remote in self.list_ref_remotes()? {
            let kind = RefKind::Remote(remote.clone());
            for (name, commit) in self.list_refs_unsorted(&kind)? {
                out.push(ListedRef {
                    shown: format!("{remote}:{name}"),
                    kind: kind.clone(),
                    name,
                    commit,
                });
            }
        }
        Ok(out)
    }

    /// [`Repo::list_all_refs_unsorted`] in the order upstream walks that table (GLib hash
    /// order of the listed names), so that checks stop at the same ref as upstream's.
    pub fn list_all_refs_upstream_order(&self) -> Result<Vec<ListedRef>> {
        let mut table = HashOrder::new();
        for r in self.list_all_refs_unsorted()? {
            let hash = str_hash(r.shown.as_bytes());
            table.insert(r.shown.clone(), r, hash);
        }
        Ok(table.into_entries().into_iter().map(|(_, r)| r).collect())
    }
}

/// Whether a ref lives locally, under a remote, or in a collection mirror.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefKind {
    /// `refs/heads/<name>`.
    Local,
    /// `refs/remotes/<remote>/<name>`.
    Remote(String),
    /// `refs/mirrors/<collection-id>/<name>`.
    Mirror(String),
}

impl RefKind {
    fn dir(&self) -> PathBuf {
        match self {
            RefKind::Local => PathBuf::from("refs/heads"),
            RefKind::Remote(r) => Path::new("refs/remotes").join(r),
            RefKind::Mirror(c) => Path::new("refs/mirrors").join(c),
        }
    }
}

/// The first file (a ref) found below the directory `dir/path`, relative to it.
pub(super) fn first_file_under(dir: &Dir, path: &Path) -> Result<Option<String>> {
    let sub = dir.open_dir(path).ctx("opening", path)?;
    for entry in sub.entries().ctx("reading", path)? {
        let entry = entry.ctx("reading", path)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().ctx("stat", path.join(&name))?.is_dir() {
            if let Some(inner) = first_file_under(&sub, Path::new(&name))? {
                return Ok(Some(format!("{name}/{inner}")));
            }
        } else {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

impl Repo {
    /// Resolves a revision: a checksum, `REF`, `REMOTE:REF`, or any of those followed by `^`
    /// for the parent.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::sync::atomic::AtomicBool;
    /// # use cap_std::{ambient_authority, fs::Dir};
    /// # use rostree_repo::commit::{CommitOptions, TreeSource, commit};
    /// # use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
    /// # let tmp = tempfile::tempdir()?;
    /// # std::fs::create_dir(tmp.path().join("tree"))?;
    /// # std::fs::create_dir(tmp.path().join("repo"))?;
    /// # let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
    /// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// # let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
    /// # let mut commits = Vec::new();
    /// # for subject in ["Release 1", "Release 2"] {
    /// #     let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
    /// #     let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
    /// #     let branch = Some("main".into());
    /// #     let options = CommitOptions { branch, subject: subject.into(), ..Default::default() };
    /// #     let interrupt = AtomicBool::new(false);
    /// #     commits.push(commit(&repo, sources, &NoProgress, &interrupt, &options)?.checksum);
    /// # }
    /// use rostree_repo::{Error, RefKind};
    ///
    /// // `main` has two commits: `commits[1]`, whose parent is `commits[0]`.
    /// assert_eq!(repo.resolve_rev("main")?, commits[1]);
    /// assert_eq!(repo.resolve_rev("main^")?, commits[0]);
    /// // A unique prefix of a stored commit's checksum.
    /// assert_eq!(repo.resolve_rev(&commits[0].to_hex()[..12])?, commits[0]);
    /// // A remote's ref, as a pull leaves it.
    /// repo.set_ref(&RefKind::Remote("origin".into()), "main", Some(&commits[0]))?;
    /// assert_eq!(repo.resolve_rev("origin:main")?, commits[0]);
    /// assert!(matches!(repo.resolve_rev("missing"), Err(Error::RefNotFound(_))));
    /// assert_eq!(repo.resolve_rev_optional("missing")?, None);
    /// # Ok(()) }
    /// ```
    pub fn resolve_rev(&self, rev: &str) -> Result<Checksum> {
        self.resolve_rev_optional(rev)?
            .ok_or_else(|| Error::RefNotFound(rev.to_owned()))
    }

    /// Like [`Repo::resolve_rev`], but `None` for a ref that does not exist.
    pub fn resolve_rev_optional(&self, rev: &str) -> Result<Option<Checksum>> {
        match (self.resolve_rev_here(rev)?, &self.parent) {
            (None, Some(parent)) => parent.resolve_rev_optional(rev),
            (found, _) => Ok(found),
        }
    }

    pub(super) fn resolve_rev_here(&self, rev: &str) -> Result<Option<Checksum>> {
        // `REV^^^`: the base, then one parent per caret, in a loop (no recursion on input).
        let base = rev.trim_end_matches('^');
        let carets = rev.len() - base.len();
        if carets > 0 {
            let mut commit = self.resolve_rev(base)?;
            for _ in 0..carets {
                commit = self
                    .load_commit(&commit)?
                    .parent
                    .ok_or(Error::NoParent { commit })?;
            }
            return Ok(Some(commit));
        }
        if let Ok(c) = Checksum::from_hex(rev) {
            return Ok(Some(c));
        }
        if rev
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            // Upstream takes a unique prefix of a stored commit's checksum before refs.
            let mut matches = self.commits_with_prefix(rev)?;
            if matches.len() > 1 {
                return Err(Error::AmbiguousRev {
                    rev: rev.to_owned(),
                });
            }
            if let Some(c) = matches.pop() {
                return Ok(Some(c));
            }
        }
        let spec = refname::parse_refspec(rev)?;
        if let Some(remote) = spec.remote {
            return self.read_ref(&RefKind::Remote(remote), &spec.name);
        }
        if let Some(c) = self.read_ref(&RefKind::Local, &spec.name)? {
            return Ok(Some(c));
        }
        // `origin/main` also finds refs/remotes/origin/main, and a bare name is looked for
        // under every remote, as upstream does.
        if let Some((remote, name)) = spec.name.split_once('/')
            && let Some(c) = self.read_ref(&RefKind::Remote(remote.to_owned()), name)?
        {
            return Ok(Some(c));
        }
        for remote in self.list_ref_remotes()? {
            if let Some(c) = self.read_ref(&RefKind::Remote(remote), &spec.name)? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Stored commits whose hex checksum starts with `prefix`.
    pub fn commits_with_prefix(&self, prefix: &str) -> Result<Vec<Checksum>> {
        Ok(self
            .list_loose_objects(prefix, |ext| ext == "commit")?
            .into_iter()
            .map(|(c, _)| c)
            .collect())
    }

    /// Reads one ref file.
    pub fn read_ref(&self, kind: &RefKind, name: &str) -> Result<Option<Checksum>> {
        let path = kind.dir().join(name);
        match self.dir.read_to_string(&path) {
            Ok(text) => Checksum::from_hex(text.trim_end())
                .map(Some)
                .map_err(|_| Error::InvalidRefFile { path }),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::NotADirectory
                    || e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error()) =>
            {
                Ok(None)
            }
            Err(e) => Err(e).ctx("reading", path),
        }
    }

    /// Lists refs of one kind, by name.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::sync::atomic::AtomicBool;
    /// # use cap_std::{ambient_authority, fs::Dir};
    /// # use rostree_repo::commit::{CommitOptions, TreeSource, commit};
    /// # use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
    /// # let tmp = tempfile::tempdir()?;
    /// # std::fs::create_dir(tmp.path().join("tree"))?;
    /// # std::fs::create_dir(tmp.path().join("repo"))?;
    /// # let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
    /// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// # let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
    /// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
    /// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
    /// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
    /// # let interrupt = AtomicBool::new(false);
    /// # let tip = commit(&repo, sources, &NoProgress, &interrupt, &options)?.checksum;
    /// use rostree_repo::RefKind;
    ///
    /// // `main` points at the commit `tip`; two more refs, one of them a remote's.
    /// repo.set_ref(&RefKind::Local, "exampleos/stable", Some(&tip))?;
    /// repo.set_ref(&RefKind::Remote("origin".into()), "main", Some(&tip))?;
    /// let local: Vec<String> = repo.list_refs(&RefKind::Local)?.into_keys().collect();
    /// assert_eq!(local, ["exampleos/stable", "main"]);
    /// let remote = repo.list_refs(&RefKind::Remote("origin".into()))?;
    /// assert_eq!(remote.get("main"), Some(&tip));
    /// // All of them, named as `ostree refs` shows them.
    /// let all = repo.list_all_refs_unsorted()?;
    /// let mut shown: Vec<&str> = all.iter().map(|r| r.shown.as_str()).collect();
    /// shown.sort();
    /// assert_eq!(shown, ["exampleos/stable", "main", "origin:main"]);
    /// # Ok(()) }
    /// ```
    pub fn list_refs(&self, kind: &RefKind) -> Result<BTreeMap<String, Checksum>> {
        Ok(self.list_refs_unsorted(kind)?.into_iter().collect())
    }

    /// Lists refs of one kind in directory order (a depth-first walk in readdir order), the
    /// order upstream inserts them into the hash table it prints from.
    pub fn list_refs_unsorted(&self, kind: &RefKind) -> Result<Vec<(String, Checksum)>> {
        let mut out = Vec::new();
        let base = kind.dir();
        let dir = match self.dir.open_dir(&base) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).ctx("opening", base),
        };
        self.collect_refs(&dir, &base, "", &mut out)?;
        Ok(out)
    }

    pub(super) fn collect_refs(
        &self,
        dir: &Dir,
        base: &Path,
        prefix: &str,
        out: &mut Vec<(String, Checksum)>,
    ) -> Result<()> {
        for entry in dir.entries().ctx("listing", base.join(prefix))? {
            let entry = entry.ctx("listing", base.join(prefix))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let full = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            // Leftover temporary files and other names no ref can have are not refs.
            if refname::validate_ref(&name).is_err() {
                continue;
            }
            let ft = entry.file_type().ctx("stat", base.join(&full))?;
            if ft.is_dir() {
                let sub = dir.open_dir(&name).ctx("opening", base.join(&full))?;
                self.collect_refs(&sub, base, &full, out)?;
            } else if ft.is_file() || ft.is_symlink() {
                // A symlink is an alias and reads as the ref it points to. It is read from the
                // repository's root: its target climbs above the directory it sits in.
                let path = base.join(&full);
                let text = if ft.is_symlink() {
                    self.dir.read_to_string(&path)
                } else {
                    dir.read_to_string(&name)
                }
                .ctx("reading", &path)?;
                let c = Checksum::from_hex(text.trim_end())
                    .map_err(|_| Error::InvalidRefFile { path })?;
                out.push((full, c));
            }
        }
        Ok(())
    }

    /// Aliases: symlinks under `refs/heads/`, as (alias, target ref).
    pub fn list_aliases(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let names = self.list_refs(&RefKind::Local)?;
        for name in names.keys() {
            let path = Path::new("refs/heads").join(name);
            if let Ok(target) = rustix::fs::readlinkat(&self.dir, &path, Vec::new()) {
                let target = target.to_string_lossy().into_owned();
                // Targets are relative to the alias's directory; upstream shows them without
                // the leading `../`.
                let shown = target.trim_start_matches("../").to_owned();
                out.insert(name.clone(), shown);
            }
        }
        Ok(out)
    }

    /// Makes `alias` a symlink to the local ref `target`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::sync::atomic::AtomicBool;
    /// # use cap_std::{ambient_authority, fs::Dir};
    /// # use rostree_repo::commit::{CommitOptions, TreeSource, commit};
    /// # use rostree_repo::{InitOptions, Repo, RepoMode, progress::NoProgress};
    /// # let tmp = tempfile::tempdir()?;
    /// # std::fs::create_dir(tmp.path().join("tree"))?;
    /// # std::fs::create_dir(tmp.path().join("repo"))?;
    /// # let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
    /// # let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// # let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
    /// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
    /// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
    /// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
    /// # let interrupt = AtomicBool::new(false);
    /// # let tip = commit(&repo, sources, &NoProgress, &interrupt, &options)?.checksum;
    ///
    /// // `ostree refs --alias --create=stable main`: `stable` follows `main`.
    /// repo.set_alias("stable", "main")?;
    /// assert_eq!(repo.resolve_rev("stable")?, tip);
    /// assert_eq!(repo.list_aliases()?.get("stable").map(String::as_str), Some("main"));
    /// # Ok(()) }
    /// ```
    pub fn set_alias(&self, alias: &str, target: &str) -> Result<()> {
        refname::validate_ref(alias)?;
        refname::validate_ref(target)?;
        if self.read_ref(&RefKind::Local, target)?.is_none() {
            return Err(Error::RefNotFound(target.to_owned()));
        }
        let path = Path::new("refs/heads").join(alias);
        let depth = alias.matches('/').count();
        let link = format!("{}{target}", "../".repeat(depth));
        self.create_parents(&path)?;
        // Made aside and renamed over, so that an alias can be repointed.
        let tmp = Path::new("tmp").join(format!(
            "alias-{}-{}",
            std::process::id(),
            alias.replace('/', "_")
        ));
        let _ = self.dir.remove_file(&tmp);
        rustix::fs::symlinkat(link.as_str(), &self.dir, &tmp).ctx("creating alias", &tmp)?;
        rustix::fs::renameat(&self.dir, &tmp, &self.dir, &path).ctx("creating alias", &path)
    }

    /// The names of remotes that have refs under `refs/remotes/`.
    pub fn list_ref_remotes(&self) -> Result<Vec<String>> {
        self.subdir_names("refs/remotes")
    }

    /// The collection IDs that have refs under `refs/mirrors/`.
    pub fn list_ref_collections(&self) -> Result<Vec<String>> {
        self.subdir_names("refs/mirrors")
    }

    pub(super) fn subdir_names(&self, path: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let dir = match self.dir.open_dir(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e).ctx("opening", path),
        };
        for entry in dir.entries().ctx("listing", path)? {
            let entry = entry.ctx("listing", path)?;
            if entry.file_type().ctx("stat", path)?.is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        // Directory order, as upstream walks them.
        Ok(names)
    }

    /// Points a ref at `target` (or deletes it, for `None`), then regenerates the summary
    /// when the repository asks for that (`core.auto-update-summary`).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::atomic::AtomicBool;
    /// use cap_std::{ambient_authority, fs::Dir};
    /// use rostree_repo::commit::{CommitOptions, TreeSource, commit};
    /// use rostree_repo::{InitOptions, RefKind, Repo, RepoMode, progress::NoProgress};
    ///
    /// let tmp = tempfile::tempdir()?;
    /// std::fs::create_dir(tmp.path().join("tree"))?;
    /// std::fs::create_dir(tmp.path().join("repo"))?;
    /// let repo_dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
    /// let options = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// let repo = Repo::init(repo_dir, tmp.path().join("repo"), &options)?;
    /// let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
    /// let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
    /// // A commit on no branch yet.
    /// let options = CommitOptions { subject: "Release 1".into(), ..Default::default() };
    /// let tip = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?.checksum;
    ///
    /// repo.set_ref(&RefKind::Local, "exampleos/stable", Some(&tip))?;
    /// assert_eq!(repo.read_ref(&RefKind::Local, "exampleos/stable")?, Some(tip));
    /// assert_eq!(repo.resolve_rev("exampleos/stable")?, tip);
    /// // `None` deletes it.
    /// repo.set_ref(&RefKind::Local, "exampleos/stable", None)?;
    /// assert!(repo.list_refs(&RefKind::Local)?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn set_ref(&self, kind: &RefKind, name: &str, target: Option<&Checksum>) -> Result<()> {
        self.set_ref_only(kind, name, target)?;
        crate::summary::maybe_regenerate(self)
    }

    /// Points a ref at `target`, or deletes it with `None`. Written atomically.
    /// [`Repo::set_ref`] without the summary (a transaction regenerates it once).
    pub(crate) fn set_ref_only(
        &self,
        kind: &RefKind,
        name: &str,
        target: Option<&Checksum>,
    ) -> Result<()> {
        refname::validate_ref(name)?;
        match kind {
            RefKind::Local => {}
            RefKind::Remote(remote) => refname::validate_remote(remote)?,
            RefKind::Mirror(id) => refname::validate_collection_id(id)?,
        }
        let path = kind.dir().join(name);
        match target {
            Some(c) => {
                self.create_parents(&path)?;
                // A directory in the way (left by refs `name/...` since deleted) goes, unless
                // it still holds refs, as upstream.
                if self.dir.symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    if let Some(inner) = first_file_under(&self.dir, &path)? {
                        return Err(Error::RefConflict {
                            name: name.to_owned(),
                            inner,
                        });
                    }
                    self.dir.remove_dir_all(&path).ctx("removing", &path)?;
                }
                write_atomic(
                    &self.dir,
                    &path,
                    format!("{c}\n").as_bytes(),
                    0o644,
                    self.fsync,
                )
                .ctx("writing", &path)
            }
            None => {
                if *kind == RefKind::Local
                    && let Some((alias, _)) = self
                        .list_aliases()?
                        .into_iter()
                        .find(|(a, t)| t == name && a != name)
                {
                    return Err(Error::RefHasAlias {
                        name: name.to_owned(),
                        alias,
                    });
                }
                self.delete_ref_file(&path, name)
            }
        }
    }

    /// Creates the directories above a ref file (`a/b` in `refs/heads/a/b/c`).
    pub(super) fn create_parents(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            let mut builder = DirBuilder::new();
            builder.recursive(true).mode(0o755);
            self.dir
                .create_dir_with(parent, &builder)
                .ctx("creating", parent)?;
        }
        Ok(())
    }

    pub(super) fn delete_ref_file(&self, path: &Path, name: &str) -> Result<()> {
        match self.dir.remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::RefNotFound(name.to_owned()))
            }
            Err(e) => Err(e).ctx("deleting", path),
        }
    }
}
