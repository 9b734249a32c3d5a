//! Repositories: what `ostree init`, `commit`, `checkout`, `fsck`, `summary -u`, `refs`,
//! `rev-parse` and `remote add` do, through the library, with the CLI's defaults.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::core::object::Metadata;
use rostree::delta::generate::{GenerateOptions, generate};
use rostree::repo::InitOptions;
use rostree::repo::checkout::{CheckoutOptions, checkout};
use rostree::repo::commit::{CommitOptions, TreeSource, commit};
use rostree::repo::deltas::{DeltaName, list_static_deltas};
use rostree::repo::fsck::{FsckOptions, fsck};
use rostree::repo::prune::{PruneOptions, PruneOutcome, prune};
use rostree::repo::remote::{IfExists, RemoteAddOptions};
use rostree::repo::summary::{update_summary, write_metadata_commit};
use rostree::{Checksum, NoProgress, Repo, RepoMode};

use crate::errors::{Error, RostreeErrorCode};

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An open repository. Reads share it; the calls that change its configuration or summary
/// (`remote add`, `summary -u`) take it alone.
#[derive(Debug)]
pub struct Repository {
    repo: SharedRepo,
}

/// The repository behind a handle, shared with what reads it on the handle's behalf later
/// (a tree walk), so that those outlive neither it nor the handle.
pub(crate) type SharedRepo = Arc<RwLock<Repo>>;

/// `repo`, to read (a panic of another call leaves nothing half-changed in memory that
/// matters: the state is on disk).
pub(crate) fn read_shared(repo: &SharedRepo) -> RwLockReadGuard<'_, Repo> {
    repo.read().unwrap_or_else(PoisonError::into_inner)
}

/// Opens `path` as a directory handle (what every library call takes).
fn open_dir(path: &Path) -> Result<Dir> {
    Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| Error::io("opening", path, &e))
}

/// The path messages name the repository by: absolute, so that they mean something
/// whatever the caller's working directory later is.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

impl Repository {
    fn new(mut repo: Repo) -> Result<Repository> {
        rostree::repo::remotes_dir::attach_system_remotes(&mut repo).map_err(Error::from_repo)?;
        Ok(Repository {
            repo: Arc::new(RwLock::new(repo)),
        })
    }

    /// Creates a repository of `mode` at `path` (made if missing), as `ostree init`; an
    /// existing repository is opened as it is.
    pub fn init(path: &Path, mode: &str) -> Result<Repository> {
        let mode: RepoMode = mode.parse().map_err(Error::invalid_argument)?;
        std::fs::create_dir_all(path).map_err(|e| Error::io("creating", path, &e))?;
        let options = InitOptions {
            mode,
            collection_id: None,
        };
        let repo =
            Repo::init(open_dir(path)?, absolute(path), &options).map_err(Error::from_repo)?;
        Repository::new(repo)
    }

    /// Opens the repository at `path`.
    pub fn open(path: &Path) -> Result<Repository> {
        let repo = Repo::open(open_dir(path)?, absolute(path)).map_err(Error::from_repo)?;
        Repository::new(repo)
    }

    /// The repository, to read.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Repo> {
        read_shared(&self.repo)
    }

    /// The repository, shared.
    pub(crate) fn shared(&self) -> SharedRepo {
        Arc::clone(&self.repo)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Repo> {
        self.repo.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The commit `rev` (a ref, `remote:ref`, a checksum or a prefix of one) names.
    pub fn resolve_rev(&self, rev: &str) -> Result<Checksum> {
        self.read().resolve_rev(rev).map_err(Error::from_repo)
    }

    /// Commits the directory `dir` to `branch`, as `ostree commit --branch=BRANCH
    /// --subject=SUBJECT [--body=BODY] [--timestamp=TIMESTAMP] DIR` does; `timestamp` is
    /// seconds since the epoch, `None` for now.
    pub fn commit_dir(
        &self,
        dir: &Path,
        branch: &str,
        subject: &str,
        body: Option<&str>,
        timestamp: Option<u64>,
        metadata: &[(String, String)],
    ) -> Result<Checksum> {
        // As the CLI (and upstream, which opens it O_NOFOLLOW): a symlink is not a tree.
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::new(
                RostreeErrorCode::InvalidArgument,
                format!("opendir({}): Not a directory", dir.display()),
                Some(dir),
            ));
        }
        let source = TreeSource::Dir(open_dir(dir)?, dir.to_owned());
        let options = CommitOptions {
            branch: Some(branch.to_owned()),
            subject: subject.to_owned(),
            body: body.unwrap_or_default().to_owned(),
            timestamp,
            metadata: string_metadata(metadata),
            ..Default::default()
        };
        let interrupt = std::sync::atomic::AtomicBool::new(false);
        let repo = self.read();
        let outcome = commit(&repo, vec![source], &NoProgress, &interrupt, &options)
            .map_err(Error::from_repo)?;
        Ok(outcome.checksum)
    }

    /// Checks out the commit `rev` names as the new directory `destination`, as `ostree
    /// checkout [-U] REV DESTINATION`.
    pub fn checkout(&self, rev: &str, destination: &Path, user_mode: bool) -> Result<()> {
        let repo = self.read();
        let commit = repo.resolve_rev(rev).map_err(Error::from_repo)?;
        let commit = repo.load_commit(&commit).map_err(Error::from_repo)?;
        // `.` and `..` name no entry of their parent: take the directory they are.
        let destination = if destination.file_name().is_none() {
            std::fs::canonicalize(destination).map_err(|e| Error::io("opening", destination, &e))?
        } else {
            destination.to_owned()
        };
        let (parent, name) = match (destination.parent(), destination.file_name()) {
            (Some(p), Some(name)) if !p.as_os_str().is_empty() => (p.to_owned(), name),
            (_, Some(name)) => (PathBuf::from("."), name),
            (_, None) => {
                return Err(Error::invalid_argument(format!(
                    "Invalid destination {}",
                    destination.display()
                )));
            }
        };
        let options = CheckoutOptions {
            user_mode,
            fsync: true,
            uncompressed_cache: true,
            ..Default::default()
        };
        let interrupt = std::sync::atomic::AtomicBool::new(false);
        checkout(
            &repo,
            (commit.root_tree, commit.root_meta),
            &open_dir(&parent)?,
            Path::new(name),
            &NoProgress,
            &interrupt,
            &options,
        )
        .map_err(Error::from_repo)?;
        Ok(())
    }

    /// Verifies every object of every commit, as `ostree fsck`: corruption, or commits an
    /// earlier fsck found corrupt, fail it.
    pub fn fsck(&self) -> Result<()> {
        let interrupt = std::sync::atomic::AtomicBool::new(false);
        let outcome = fsck(
            &self.read(),
            &NoProgress,
            &interrupt,
            &FsckOptions::default(),
        )
        .map_err(Error::from_repo)?;
        if !outcome.errors.is_empty() {
            let message = format!(
                "Repository corruption encountered: {}",
                outcome.errors.join("; ")
            );
            return Err(Error::new(RostreeErrorCode::Failed, message, None));
        }
        if outcome.partial_from_fsck > 0 {
            let message = format!(
                "{} partial commits from fsck-detected corruption",
                outcome.partial_from_fsck
            );
            return Err(Error::new(RostreeErrorCode::Failed, message, None));
        }
        Ok(())
    }

    /// Writes the summary file, as `ostree summary -u` (unsigned): a repository with a
    /// collection ID also records it as a commit of its `ostree-metadata` ref.
    pub fn update_summary(&self) -> Result<()> {
        let mut repo = self.write();
        let none = Metadata::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        write_metadata_commit(&repo, &none, now, &[]).map_err(Error::from_repo)?;
        update_summary(&mut repo, &none).map_err(Error::from_repo)?;
        Ok(())
    }

    /// Adds the remote `name` at `url`, as `ostree remote add [--no-gpg-verify] NAME URL`;
    /// a remote of that name is refused.
    pub fn remote_add(&self, name: &str, url: &str, gpg_verify: bool) -> Result<()> {
        let mut settings = Vec::new();
        if !gpg_verify {
            settings.push(("gpg-verify".to_owned(), "false".to_owned()));
        }
        let options = RemoteAddOptions {
            branches: Vec::new(),
            settings,
            if_exists: IfExists::Fail,
        };
        self.write()
            .add_remote(name, Some(url), &options)
            .map_err(Error::from_repo)?;
        Ok(())
    }

    /// Every ref, as `ostree refs` lists them (`name` and `remote:name`), sorted by name.
    pub fn list_refs(&self) -> Result<Vec<(String, Checksum)>> {
        let mut refs: Vec<(String, Checksum)> = self
            .read()
            .list_all_refs_unsorted()
            .map_err(Error::from_repo)?
            .into_iter()
            .map(|r| (r.shown, r.commit))
            .collect();
        refs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(refs)
    }
}

impl Repository {
    /// Deletes the objects no commit needs, as `ostree prune [--refs-only] [--depth=DEPTH]`:
    /// with `refs_only`, commits no ref reaches go too; `depth` keeps that many parents of
    /// each ref's commit (`None`: all of them).
    pub fn prune(&self, refs_only: bool, depth: Option<u64>) -> Result<PruneOutcome> {
        let options = PruneOptions {
            refs_only,
            depth,
            ..Default::default()
        };
        let interrupt = std::sync::atomic::AtomicBool::new(false);
        prune(&self.read(), &NoProgress, &interrupt, &options).map_err(Error::from_repo)
    }

    /// Generates the static delta from the commit `from` names (`None`: from nothing, every
    /// object of `to`) to the one `to` names, with upstream's defaults, as `ostree
    /// static-delta generate [--from=FROM | --empty] --to=TO`; returns its name.
    pub fn generate_delta(&self, from: Option<&str>, to: &str) -> Result<String> {
        let repo = self.read();
        let from = from
            .map(|rev| repo.resolve_rev(rev))
            .transpose()
            .map_err(Error::from_repo)?;
        let to = repo.resolve_rev(to).map_err(Error::from_repo)?;
        let interrupt = std::sync::atomic::AtomicBool::new(false);
        let options = GenerateOptions::new(from, to);
        generate(&repo, &options, &NoProgress, &interrupt).map_err(Error::from_delta)?;
        Ok(DeltaName { from, to }.to_string())
    }

    /// The repository's static deltas, named as `ostree static-delta list` names them.
    pub fn list_deltas(&self) -> Result<Vec<String>> {
        let names = list_static_deltas(&self.read()).map_err(Error::from_repo)?;
        Ok(names.iter().map(ToString::to_string).collect())
    }
}

/// Commit metadata of string values (`--add-metadata-string KEY=VALUE`), in the order given.
fn string_metadata(pairs: &[(String, String)]) -> Metadata {
    let mut metadata = Metadata::new();
    for (key, value) in pairs {
        metadata.push(
            key.as_str(),
            rostree::core::gvariant::Value::String(value.clone()),
        );
    }
    metadata
}
