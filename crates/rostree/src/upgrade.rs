//! Upgrading a stateroot (`admin upgrade`, `admin switch`): pull what the merge deployment's
//! origin follows, then deploy it with the merge deployment's `/etc` and kernel arguments,
//! keeping the merge deployment as the rollback — upstream's `OstreeSysrootUpgrader`.
//!
//! ```text
//! origin  [origin] refspec=REMOTE:REF      what is followed
//!                  override-commit=CSUM    a pinned commit instead of REF's head
//!                  unconfigured-state=TEXT the OS vendor's word that upgrades need action
//! commit  ostree.endoflife-rebase=REF      REF ended: follow the named ref from now on
//! ```

use std::sync::atomic::AtomicBool;

use rostree_core::Checksum;
use rostree_core::keyfile::KeyFile;
use rostree_pull::remote::TrustRoots;
use rostree_repo::RefKind;
use rostree_repo::progress::Progress;
use rostree_sysroot::deploy::{DeployOptions, DeployOutcome, deploy_tree};
use rostree_sysroot::origin::{ORIGIN_GROUP, TRANSIENT_GROUP};
use rostree_sysroot::write::{WriteFlags, WriteOutcome, simple_write_deployment};
use rostree_sysroot::{Deployment, Sysroot};

/// Errors of upgrades, in upstream's words where it has them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sysroot failed.
    #[error(transparent)]
    Sysroot(#[from] rostree_sysroot::Error),
    /// The system repository failed.
    #[error(transparent)]
    Repo(#[from] rostree_repo::Error),
    /// Pulling failed (boxed: pull errors are large).
    #[error(transparent)]
    Pull(Box<rostree_pull::Error>),
    /// The origin could not be edited.
    #[error(transparent)]
    KeyFile(#[from] rostree_core::keyfile::KeyFileError),
    /// What upstream refuses, in its words.
    #[error("{0}")]
    Refused(String),
}

impl From<rostree_pull::Error> for Error {
    fn from(e: rostree_pull::Error) -> Error {
        Error::Pull(Box::new(e))
    }
}

/// Results of upgrades.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How [`Upgrader::pull`] goes about it.
#[derive(Clone, Copy, Debug, Default)]
pub struct PullFlags {
    /// Accept a commit older than the merge deployment's (`--allow-downgrade`, `switch`).
    pub allow_older: bool,
    /// Pull nothing: take what the repository has (`--deploy-only`).
    pub synthetic: bool,
}

/// An upgrade of one stateroot in progress.
#[derive(Debug)]
pub struct Upgrader {
    stateroot: String,
    merge: Deployment,
    origin: KeyFile,
    remote: Option<String>,
    branch: String,
    override_commit: Option<Checksum>,
    new_revision: Option<Checksum>,
}

impl Upgrader {
    /// The upgrader of `stateroot` (else the booted deployment's), from its merge
    /// deployment's origin. Unless `ignore_unconfigured`, an origin whose vendor marked it
    /// `unconfigured-state` is refused with the vendor's text.
    pub fn new(
        sysroot: &Sysroot,
        stateroot: Option<&str>,
        ignore_unconfigured: bool,
    ) -> Result<Upgrader> {
        let stateroot = match (stateroot, sysroot.booted_deployment()) {
            (Some(""), _) => return Err(Error::Refused("Invalid empty osname".into())),
            (Some(s), _) => s.to_owned(),
            (None, Some(b)) => b.stateroot.clone(),
            (None, None) => {
                return Err(Error::Refused(
                    "Not currently booted into an OSTree system and no OS specified".into(),
                ));
            }
        };
        let Some(merge) = sysroot.merge_deployment(&stateroot).cloned() else {
            return Err(Error::Refused(format!(
                "No previous deployment for OS '{stateroot}'"
            )));
        };
        let Some(origin) = merge.origin.clone() else {
            return Err(Error::Refused(format!(
                "No origin known for deployment {}",
                merge.name()
            )));
        };
        if !ignore_unconfigured
            && let Some(text) = origin.get_raw(ORIGIN_GROUP, "unconfigured-state")
        {
            return Err(Error::Refused(format!("origin unconfigured-state: {text}")));
        }
        let mut upgrader = Upgrader {
            stateroot,
            merge,
            origin: KeyFile::new(),
            remote: None,
            branch: String::new(),
            override_commit: None,
            new_revision: None,
        };
        upgrader.set_origin(origin)?;
        Ok(upgrader)
    }

    /// The origin the new deployment gets.
    pub fn origin(&self) -> &KeyFile {
        &self.origin
    }

    /// The deployment whose `/etc` and kernel arguments carry over.
    pub fn merge_deployment(&self) -> &Deployment {
        &self.merge
    }

    /// The stateroot being upgraded.
    pub fn stateroot(&self) -> &str {
        &self.stateroot
    }

    /// Follows `origin` instead (an override, or another ref for `switch`).
    pub fn set_origin(&mut self, origin: KeyFile) -> Result<()> {
        let Some(refspec) = origin.get_raw(ORIGIN_GROUP, "refspec") else {
            return Err(Error::Refused(
                "No origin/refspec in current deployment origin; cannot upgrade via ostree".into(),
            ));
        };
        let (remote, branch) = match refspec.split_once(':') {
            Some((r, b)) => (Some(r.to_owned()), b.to_owned()),
            None => (None, refspec.to_owned()),
        };
        let override_commit = match origin.get_raw(ORIGIN_GROUP, "override-commit") {
            Some(c) => Some(
                Checksum::from_hex(c)
                    .map_err(|_| Error::Refused(format!("Invalid checksum '{c}'")))?,
            ),
            None => None,
        };
        self.remote = remote;
        self.branch = branch;
        self.override_commit = override_commit;
        self.origin = origin;
        Ok(())
    }

    /// The origin's refspec, `REMOTE:REF` or `REF`.
    pub fn refspec(&self) -> String {
        match &self.remote {
            Some(r) => format!("{r}:{}", self.branch),
            None => self.branch.clone(),
        }
    }

    /// Fetches the origin's ref (or override commit) and follows an end-of-life rebase;
    /// returns whether there is something new to deploy. Unless `allow_older`, a commit
    /// older than the merge deployment's is refused.
    pub fn pull(
        &mut self,
        sysroot: &Sysroot,
        progress: &dyn Progress,
        interrupt: &AtomicBool,
        flags: PullFlags,
    ) -> Result<bool> {
        let repo = sysroot.repo();
        let from = self.merge.checksum;
        let fetch = |target: &str| -> Result<()> {
            let Some(remote) = self.remote.as_deref().filter(|_| !flags.synthetic) else {
                return Ok(());
            };
            let config = repo.remote(remote)?;
            let (spec, mut options) =
                rostree_pull::remote::pull_options(repo, &config, &TrustRoots::system())?;
            if !flags.allow_older {
                options.timestamp_check_from = Some(from);
            }
            rostree_pull::pull::pull(
                repo,
                &spec,
                &[target.to_owned()],
                progress,
                interrupt,
                &options,
            )?;
            Ok(())
        };
        let target = match &self.override_commit {
            Some(c) => c.to_hex(),
            None => self.branch.clone(),
        };
        fetch(&target)?;
        let head = repo.resolve_rev(&self.refspec())?;
        let commit = repo.load_commit(&head)?;
        if let Some(rebase) = commit.metadata.get_str("ostree.endoflife-rebase") {
            let rebase = rebase.to_owned();
            fetch(&rebase)?;
            self.branch = rebase;
            let refspec = self.refspec();
            self.origin.set_string(ORIGIN_GROUP, "refspec", &refspec)?;
        }
        let new = match self.override_commit {
            Some(c) => {
                let kind = match &self.remote {
                    Some(r) => RefKind::Remote(r.clone()),
                    None => RefKind::Local,
                };
                repo.set_ref(&kind, &self.branch, Some(&c))?;
                c
            }
            None => repo.resolve_rev(&self.refspec())?,
        };
        self.new_revision = Some(new);
        if new == from {
            return Ok(false);
        }
        if !flags.allow_older {
            check_timestamps(sysroot, &from, &new)?;
        }
        Ok(true)
    }

    /// What [`Upgrader::pull`] found, and how it is deployed: with the new origin and the
    /// merge deployment's kernel arguments.
    fn to_deploy(&self) -> Result<(Checksum, DeployOptions)> {
        let Some(revision) = self.new_revision else {
            return Err(Error::Refused("Nothing was pulled to deploy".into()));
        };
        let options = DeployOptions {
            origin: Some(self.origin.clone()),
            kargs: None,
        };
        Ok((revision, options))
    }

    /// Stages what [`Upgrader::pull`] found, to be finalized at shutdown (a booted system
    /// only).
    pub fn stage(&self, sysroot: &mut Sysroot, progress: &dyn Progress) -> Result<Deployment> {
        let (revision, options) = self.to_deploy()?;
        Ok(rostree_sysroot::staged::stage_tree(
            sysroot,
            &self.stateroot,
            &revision,
            Some(&self.merge),
            progress,
            &options,
        )?)
    }

    /// Deploys what [`Upgrader::pull`] found as the new default, the merge deployment kept
    /// as the rollback, then cleans up.
    pub fn deploy(
        &self,
        sysroot: &mut Sysroot,
        progress: &dyn Progress,
    ) -> Result<(DeployOutcome, WriteOutcome)> {
        let (revision, options) = self.to_deploy()?;
        let outcome = deploy_tree(
            sysroot,
            &self.stateroot,
            &revision,
            Some(&self.merge),
            progress,
            &options,
        )?;
        let written = simple_write_deployment(
            sysroot,
            outcome.deployment.clone(),
            Some(&self.merge),
            progress,
            WriteFlags::default(),
        )?;
        Ok((outcome, written))
    }
}

/// The origin for another upgrade of `origin`: no pin, no override, no unlock.
pub fn without_transient_state(origin: &KeyFile) -> KeyFile {
    let mut out = origin.clone();
    out.remove_group(TRANSIENT_GROUP);
    out.remove_key(ORIGIN_GROUP, "override-commit");
    out.remove_key(ORIGIN_GROUP, "unlocked");
    out
}

/// Refuses `new` when its commit is older than `old`'s, in upstream's words.
fn check_timestamps(sysroot: &Sysroot, old: &Checksum, new: &Checksum) -> Result<()> {
    let repo = sysroot.repo();
    let (old_time, new_time) = (
        repo.load_commit(old)?.timestamp,
        repo.load_commit(new)?.timestamp,
    );
    if new_time >= old_time {
        return Ok(());
    }
    let ctime = |t: u64| {
        chrono::DateTime::from_timestamp(t as i64, 0)
            .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
            .unwrap_or_default()
    };
    Err(Error::Refused(format!(
        "Upgrade target revision '{new}' with timestamp '{}' is chronologically older than current revision '{old}' with timestamp '{}'; use --allow-downgrade to permit",
        ctime(new_time),
        ctime(old_time)
    )))
}
