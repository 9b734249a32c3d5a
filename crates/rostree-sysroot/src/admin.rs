//! Whole admin transactions, as `ostree admin deploy` and `set-default` run them. A caller
//! (the CLI, the C and Python bindings, a build system) says what it wants in one request;
//! the policy in between is the library's: which deployment `/etc` merges from, where the
//! kernel arguments start, the cleanup before and the prune after.
//!
//! The caller holds the sysroot's lock ([`crate::lock`]) around each call.

use rostree_core::Checksum;
use rostree_core::keyfile::KeyFile;
use rostree_repo::progress::{NoProgress, Progress};

use crate::cleanup::cleanup;
use crate::deploy::{DeployOptions, DeployOutcome, deploy_tree};
use crate::error::{Error, Result};
use crate::kargs::KernelArgs;
use crate::origin::origin_for_refspec;
use crate::staged::{lock_finalization, stage_tree};
use crate::write::{WriteFlags, WriteOutcome, simple_write_deployment, write_deployments};
use crate::{Deployment, Sysroot};

/// Where a new deployment's kernel arguments start, before [`KargEdits`]'s edits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KargsBase {
    /// The merge deployment's (`admin deploy` without `--karg-none`).
    #[default]
    Merge,
    /// None at all (`--karg-none`).
    Empty,
    /// The running kernel's command line, `/proc/cmdline`'s text (`--karg-proc-cmdline`).
    ProcCmdline(String),
}

/// Kernel arguments for a new deployment: a base, then replacements, appends and one
/// deletion, in that order (`--karg`, `--karg-append`, `--karg-delete`).
#[derive(Clone, Debug, Default)]
pub struct KargEdits {
    /// Where they start.
    pub base: KargsBase,
    /// `NAME=VALUE`s replacing every argument of that name.
    pub replace: Vec<String>,
    /// Arguments added after the others (`console=` may be given twice).
    pub append: Vec<String>,
    /// An argument removed (`NAME` or `NAME=VALUE`); missing, it is an error.
    pub delete: Option<String>,
}

impl KargEdits {
    /// The arguments to deploy with, `None` for the merge deployment's unchanged.
    fn resolve(&self, merge: Option<&Deployment>) -> Result<Option<KernelArgs>> {
        let mut kargs = match &self.base {
            KargsBase::Empty => KernelArgs::new(),
            KargsBase::ProcCmdline(cmdline) => KernelArgs::from_proc_cmdline(cmdline),
            KargsBase::Merge
                if self.replace.is_empty() && self.append.is_empty() && self.delete.is_none() =>
            {
                return Ok(None);
            }
            KargsBase::Merge => merge
                .and_then(|m| m.bootconfig.get("options"))
                .map(KernelArgs::parse)
                .unwrap_or_default(),
        };
        for arg in &self.replace {
            kargs.replace(arg);
        }
        for arg in &self.append {
            kargs.append(arg);
        }
        if let Some(arg) = &self.delete {
            kargs.delete(arg)?;
        }
        Ok(Some(kargs))
    }
}

/// A deployment to make: what `ostree admin deploy` takes.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    /// The stateroot it belongs to.
    pub stateroot: String,
    /// The commit: a ref, `remote:ref` or checksum, resolved in the system repository.
    pub refspec: String,
    /// The origin file written beside it; `None` writes one that follows `refspec`.
    pub origin: Option<KeyFile>,
    /// Whether `/etc` and kernel arguments carry over from the stateroot's merge deployment
    /// (`--no-merge` is false).
    pub merge: bool,
    /// Its kernel arguments.
    pub kargs: KargEdits,
    /// Where it goes in the list and what is kept (unused when staging).
    pub write: WriteFlags,
    /// Stage it, to be finalized at shutdown (a booted system only).
    pub stage: bool,
    /// Stage it with its finalization locked (`--lock-finalization`; implies `stage`).
    pub lock_finalization: bool,
    /// Prune the repository of what no deployment needs any more (`--no-prune` is false).
    pub prune: bool,
}

impl DeployRequest {
    /// Deploys `refspec` in `stateroot` as the new default, as `ostree admin deploy
    /// --os=STATEROOT REFSPEC` with no other option.
    pub fn new(stateroot: impl Into<String>, refspec: impl Into<String>) -> DeployRequest {
        DeployRequest {
            stateroot: stateroot.into(),
            refspec: refspec.into(),
            origin: None,
            merge: true,
            kargs: KargEdits::default(),
            write: WriteFlags::default(),
            stage: false,
            lock_finalization: false,
            prune: true,
        }
    }
}

/// What [`deploy`] did.
#[derive(Clone, Debug)]
pub struct DeployReport {
    /// The commit deployed.
    pub revision: Checksum,
    /// The new deployment and what making it did (a staged one's `/etc` merges at
    /// shutdown, so its report says nothing of it).
    pub outcome: DeployOutcome,
    /// The bootloader's new state; `None` when staged.
    pub written: Option<WriteOutcome>,
    /// Bytes the final prune freed.
    pub freed: u64,
}

/// Makes the deployment `request` asks for: the refspec resolved, an initial cleanup, the
/// commit checked out with `/etc` merged, then either written as the bootloader's new list
/// (old deployments cleaned up and the repository pruned as asked) or staged.
pub fn deploy(
    sysroot: &mut Sysroot,
    request: &DeployRequest,
    progress: &dyn Progress,
) -> Result<DeployReport> {
    let refspec = &request.refspec;
    let revision = sysroot
        .repo()
        .resolve_rev_optional(refspec)?
        .ok_or_else(|| Error::RefspecNotFound {
            refspec: refspec.clone(),
        })?;
    let merge = match request.merge {
        true => sysroot.merge_deployment(&request.stateroot).cloned(),
        false => None,
    };
    cleanup(sysroot, false).map_err(|e| e.context("Performing initial cleanup"))?;
    let options = DeployOptions {
        origin: Some(
            request
                .origin
                .clone()
                .unwrap_or_else(|| origin_for_refspec(refspec)),
        ),
        kargs: request.kargs.resolve(merge.as_ref())?,
    };
    if request.stage || request.lock_finalization {
        let deployment = stage_tree(
            sysroot,
            &request.stateroot,
            &revision,
            merge.as_ref(),
            progress,
            &options,
        )?;
        if request.lock_finalization {
            lock_finalization(sysroot, true)?;
        }
        let outcome = DeployOutcome {
            deployment,
            etc_merge: None,
            relabeled_var: false,
            ignored_var: Vec::new(),
        };
        return Ok(DeployReport {
            revision,
            outcome,
            written: None,
            freed: 0,
        });
    }
    let outcome = deploy_tree(
        sysroot,
        &request.stateroot,
        &revision,
        merge.as_ref(),
        progress,
        &options,
    )?;
    let flags = WriteFlags {
        no_clean: true,
        ..request.write
    };
    let written = simple_write_deployment(
        sysroot,
        outcome.deployment.clone(),
        merge.as_ref(),
        progress,
        flags,
    )?;
    let cleaned = cleanup(sysroot, request.prune)?;
    Ok(DeployReport {
        revision,
        outcome,
        written: Some(written),
        freed: cleaned.freed,
    })
}

/// Makes deployment `index` the default, the others keeping their order, as `ostree admin
/// set-default INDEX` (index 1, the rollback, is how to roll back).
pub fn set_default(sysroot: &mut Sysroot, index: usize) -> Result<WriteOutcome> {
    let mut list = sysroot.deployments().to_vec();
    if index >= list.len() {
        return Err(Error::NoSuchDeployment {
            index,
            count: list.len(),
        });
    }
    let target = list.remove(index);
    list.insert(0, target);
    write_deployments(sysroot, list, &NoProgress, true)
}
