//! Sysroots: what `ostree admin init-fs`, `os-init`, `status` and `deploy` do, through the
//! library.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::NoProgress;
use rostree::Progress;
use rostree::sysroot::admin::{DeployRequest, deploy, set_default};
use rostree::sysroot::init::{InitFsOptions, init_fs, init_stateroot};
use rostree::sysroot::status::{DeploymentStatus, status};
use rostree::sysroot::{DebugFlags, Deployment, Sysroot};
use rostree::upgrade::{PullFlags, Upgrader, without_transient_state};
use std::sync::atomic::AtomicBool;

use crate::errors::{Error, c_string};
use crate::repo::Result;

fn open_dir(path: &Path) -> Result<Dir> {
    Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| Error::io("opendir", path, &e))
}

/// Lays out a sysroot at `path` (made if missing) and the stateroot `stateroot` in it, as
/// `ostree admin init-fs PATH` then `ostree admin --sysroot=PATH os-init STATEROOT`.
pub fn init(path: &Path, stateroot: &str) -> Result<()> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    std::fs::create_dir_all(&path).map_err(|e| Error::io("creating", &path, &e))?;
    let fail = |e| Error::from_sysroot(e, &path);
    init_fs(&open_dir(&path)?, &path, &InitFsOptions::default()).map_err(fail)?;
    let sysroot = Sysroot::load(open_dir(&path)?, &path, DebugFlags::from_env()).map_err(fail)?;
    init_stateroot(&sysroot, stateroot).map_err(fail)
}

/// A loaded sysroot, what `admin status` says of its deployments and, for the C side, the
/// texts of that as C strings (which live as long as this load does).
pub struct LoadedSysroot {
    sysroot: Sysroot,
    status: Vec<DeploymentStatus>,
    texts: Vec<StatusTexts>,
}

/// A deployment's texts as C strings.
struct StatusTexts {
    stateroot: CString,
    version: Option<CString>,
    refspec: Option<CString>,
}

impl LoadedSysroot {
    /// Loads the sysroot at `path`, as `ostree admin --sysroot=PATH status` reads it
    /// (`OSTREE_SYSROOT_DEBUG` applies, as for the CLI).
    pub fn load(path: &Path) -> Result<LoadedSysroot> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let sysroot = Sysroot::load(open_dir(&path)?, &path, DebugFlags::from_env())
            .map_err(|e| Error::from_sysroot(e, &path))?;
        Ok(LoadedSysroot::new(sysroot))
    }

    fn new(sysroot: Sysroot) -> LoadedSysroot {
        let status = status(&sysroot);
        let texts = status
            .iter()
            .map(|d| StatusTexts {
                stateroot: c_string(d.stateroot.as_str()),
                version: d.version.as_deref().map(c_string),
                refspec: d.refspec.as_deref().map(c_string),
            })
            .collect();
        LoadedSysroot {
            sysroot,
            status,
            texts,
        }
    }

    /// The deployments, the default first.
    pub fn deployments(&self) -> &[Deployment] {
        self.sysroot.deployments()
    }

    /// What `admin status` says of each deployment, the default first.
    pub fn status(&self) -> &[DeploymentStatus] {
        &self.status
    }

    /// The stateroot of deployment `index`.
    pub fn stateroot(&self, index: usize) -> Option<&CStr> {
        self.texts.get(index).map(|t| t.stateroot.as_c_str())
    }

    /// The `version` of deployment `index`'s commit, if it has one.
    pub fn version(&self, index: usize) -> Option<&CStr> {
        self.texts.get(index)?.version.as_deref()
    }

    /// The refspec deployment `index`'s origin follows, if it names one.
    pub fn refspec(&self, index: usize) -> Option<&CStr> {
        self.texts.get(index)?.refspec.as_deref()
    }

    /// The directory of deployment `index`, under the sysroot's path.
    pub fn deployment_path(&self, index: usize) -> Option<PathBuf> {
        let d = self.deployments().get(index)?;
        Some(self.sysroot.path().join(d.path()))
    }

    /// Deploys `refspec` (resolved in the sysroot's repository) as the new default
    /// deployment of `stateroot`, as `ostree admin deploy --os=STATEROOT [--karg=K…]
    /// REFSPEC`: under the sysroot's lock, `/etc` merged from the stateroot's merge
    /// deployment, old deployments cleaned up and the repository pruned. `kargs` replace
    /// same-named arguments of the merge deployment's; none keeps them all. The handle is
    /// loaded again afterwards.
    pub fn deploy(&mut self, stateroot: &str, refspec: &str, kargs: &[String]) -> Result<()> {
        self.locked(|this| {
            let path = this.sysroot.path().to_owned();
            let mut request = DeployRequest::new(stateroot, refspec);
            request.kargs.replace = kargs.to_vec();
            deploy(&mut this.sysroot, &request, &NoProgress)
                .map_err(|e| Error::from_sysroot(e, &path))?;
            Ok(())
        })
    }

    /// Upgrades `stateroot` (`None`: the booted deployment's) as `ostree admin upgrade
    /// [--os=STATEROOT] [--allow-downgrade]`: pulls what the merge deployment's origin
    /// names, through the remote's policy, and deploys it as the new default when it is
    /// new, the old default kept as the rollback. Returns whether it deployed something.
    pub fn upgrade(
        &mut self,
        stateroot: Option<&str>,
        allow_downgrade: bool,
        progress: &dyn Progress,
        interrupt: &AtomicBool,
    ) -> Result<bool> {
        self.locked(|this| {
            let path = this.sysroot.path().to_owned();
            let fail = |e| Error::from_upgrade(e, &path);
            let mut upgrader = Upgrader::new(&this.sysroot, stateroot, false).map_err(fail)?;
            upgrader
                .set_origin(without_transient_state(upgrader.origin()))
                .map_err(fail)?;
            let flags = PullFlags {
                allow_older: allow_downgrade,
                synthetic: false,
            };
            let changed = upgrader
                .pull(&this.sysroot, progress, interrupt, flags)
                .map_err(fail)?;
            if changed {
                upgrader.deploy(&mut this.sysroot, progress).map_err(fail)?;
            }
            Ok(changed)
        })
    }

    /// Makes deployment `index` the default (the rollback: index 1), as `ostree admin
    /// set-default INDEX`; the others keep their order.
    pub fn set_default(&mut self, index: usize) -> Result<()> {
        self.locked(|this| {
            let path = this.sysroot.path().to_owned();
            set_default(&mut this.sysroot, index).map_err(|e| Error::from_sysroot(e, &path))?;
            Ok(())
        })
    }

    /// Runs `change` under the sysroot's lock on the sysroot as it is then, and loads it
    /// again afterwards, also after a failure (the deployments on disk may have changed).
    fn locked<T>(&mut self, change: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let path = self.sysroot.path().to_owned();
        let dir = self
            .sysroot
            .dir()
            .try_clone()
            .map_err(|e| Error::io("dup", &path, &e))?;
        // A library has no terminal to say "Waiting for sysroot lock..." on: it just waits.
        let fail = |e| Error::from_sysroot(e, &path);
        let _lock = rostree::sysroot::lock::lock(&dir, &|| {}).map_err(fail)?;
        // What another process deployed before the lock was ours counts.
        let debug = self.sysroot.debug_flags();
        *self = LoadedSysroot::new(Sysroot::load(dir, &path, debug).map_err(fail)?);
        let result = change(self);
        let reloaded = LoadedSysroot::load(&path);
        let value = result?;
        *self = reloaded?;
        Ok(value)
    }
}
