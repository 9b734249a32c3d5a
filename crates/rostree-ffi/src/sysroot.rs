//! Sysroots: what `ostree admin init-fs`, `os-init`, `status` and `deploy` do, through the
//! library.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::Progress;
use rostree::sysroot::deploy::{DeployOptions, deploy_tree};
use rostree::sysroot::init::{InitFsOptions, init_fs, init_stateroot};
use rostree::sysroot::kargs::KernelArgs;
use rostree::sysroot::origin::origin_for_refspec;
use rostree::sysroot::write::{WriteFlags, simple_write_deployment, write_deployments};
use rostree::sysroot::{DebugFlags, Deployment, Sysroot};
use rostree::upgrade::{PullFlags, Upgrader, without_transient_state};
use rostree::{Checksum, NoProgress};
use std::sync::atomic::AtomicBool;

use crate::errors::{Error, RostreeErrorCode};
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

/// A loaded sysroot and, for the C side, its deployments' stateroots as C strings (which
/// live as long as this load does).
pub struct LoadedSysroot {
    sysroot: Sysroot,
    stateroots: Vec<CString>,
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
        let stateroots = sysroot
            .deployments()
            .iter()
            .map(|d| CString::new(d.stateroot.as_str()).unwrap_or_default())
            .collect();
        LoadedSysroot {
            sysroot,
            stateroots,
        }
    }

    /// The deployments, the default first.
    pub fn deployments(&self) -> &[Deployment] {
        self.sysroot.deployments()
    }

    /// The stateroot of deployment `index`.
    pub fn stateroot(&self, index: usize) -> Option<&CStr> {
        self.stateroots.get(index).map(CString::as_c_str)
    }

    /// The directory of deployment `index`, under the sysroot's path.
    pub fn deployment_path(&self, index: usize) -> Option<PathBuf> {
        let d = self.deployments().get(index)?;
        Some(self.sysroot.path().join(d.path()))
    }

    /// Whether deployment `index` is the one the running system booted.
    pub fn is_booted(&self, index: usize) -> bool {
        match (
            self.sysroot.booted_deployment(),
            self.deployments().get(index),
        ) {
            (Some(booted), Some(d)) => booted.same_as(d),
            _ => false,
        }
    }

    /// Deploys `refspec` (resolved in the sysroot's repository) as the new default
    /// deployment of `stateroot`, as `ostree admin deploy --os=STATEROOT [--karg=K…]
    /// REFSPEC`: under the sysroot's lock, `/etc` merged from the stateroot's merge
    /// deployment, old deployments cleaned up and the repository pruned. `kargs` replace
    /// same-named arguments of the merge deployment's; none keeps them all. The handle is
    /// loaded again afterwards.
    pub fn deploy(&mut self, stateroot: &str, refspec: &str, kargs: &[String]) -> Result<()> {
        self.locked(|this| this.deploy_locked(stateroot, refspec, kargs))
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
            let mut list = this.sysroot.deployments().to_vec();
            if index >= list.len() {
                return Err(Error::invalid_argument(format!(
                    "Out of range deployment index {index}, expected < {}",
                    list.len()
                )));
            }
            let target = list.remove(index);
            list.insert(0, target);
            write_deployments(&mut this.sysroot, list, &NoProgress, true)
                .map_err(|e| Error::from_sysroot(e, &path))?;
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

    fn deploy_locked(&mut self, stateroot: &str, refspec: &str, kargs: &[String]) -> Result<()> {
        let path = self.sysroot.path().to_owned();
        let fail = |e| Error::from_sysroot(e, &path);
        let sysroot = &mut self.sysroot;
        let revision: Checksum = match sysroot.repo().resolve_rev_optional(refspec) {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(Error::new(
                    RostreeErrorCode::NotFound,
                    format!("Refspec '{refspec}' not found"),
                    None,
                ));
            }
            Err(e) => return Err(Error::from_repo(e)),
        };
        let merge = sysroot.merge_deployment(stateroot).cloned();
        rostree::sysroot::cleanup::cleanup(sysroot, false)
            .map_err(|e| fail(e.context("Performing initial cleanup")))?;
        let kargs = (!kargs.is_empty()).then(|| {
            let mut edited = merge
                .as_ref()
                .and_then(|m| m.bootconfig.get("options"))
                .map(KernelArgs::parse)
                .unwrap_or_default();
            for arg in kargs {
                edited.replace(arg);
            }
            edited
        });
        let options = DeployOptions {
            origin: Some(origin_for_refspec(refspec)),
            kargs,
        };
        let outcome = deploy_tree(
            sysroot,
            stateroot,
            &revision,
            merge.as_ref(),
            &NoProgress,
            &options,
        )
        .map_err(fail)?;
        let flags = WriteFlags {
            no_clean: true,
            ..Default::default()
        };
        simple_write_deployment(
            sysroot,
            outcome.deployment,
            merge.as_ref(),
            &NoProgress,
            flags,
        )
        .map_err(fail)?;
        rostree::sysroot::cleanup::cleanup(sysroot, true).map_err(fail)?;
        Ok(())
    }
}
