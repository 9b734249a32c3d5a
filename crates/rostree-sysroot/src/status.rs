//! What `ostree admin status` says of each deployment, as data: the facts of upstream
//! 2025.3's `status --json`, for the CLI's text and JSON and for the bindings alike.

use rostree_core::Checksum;

use crate::{Sysroot, origin};

/// One deployment as `admin status` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentStatus {
    /// Its position: 0 is the default boot.
    pub index: usize,
    /// The stateroot it belongs to.
    pub stateroot: String,
    /// The commit it is a checkout of.
    pub checksum: Checksum,
    /// Tells apart deployments of one commit in one stateroot.
    pub serial: u32,
    /// The refspec its origin follows (`None`: no origin, or one of another kind).
    pub refspec: Option<String>,
    /// The running system booted it.
    pub booted: bool,
    /// It will boot next, in place of the booted one of its stateroot.
    pub pending: bool,
    /// It is the booted one's predecessor, kept to roll back to.
    pub rollback: bool,
    /// It is staged, to be written into the bootloader's list at shutdown.
    pub staged: bool,
    /// Its finalization waits for an explicit unlock (staged only).
    pub finalization_locked: bool,
    /// Cleanup never removes it.
    pub pinned: bool,
    /// Its commit's `version` metadata.
    pub version: Option<String>,
    /// Its commit's `ostree.source-title` metadata.
    pub source_title: Option<String>,
}

/// Every deployment of `sysroot`, the default first. Commit metadata missing from the
/// repository (a commit pulled partially, say) leaves `version` and `source_title` unset.
pub fn status(sysroot: &Sysroot) -> Vec<DeploymentStatus> {
    let booted = sysroot.booted_deployment().map(|b| b.index);
    let locked = crate::staged::finalization_locked(sysroot);
    sysroot
        .deployments()
        .iter()
        .map(|d| {
            let (pending, rollback) = sysroot.pending_and_rollback(&d.stateroot);
            let commit = sysroot.repo().load_commit(&d.checksum).ok();
            let meta = |key| {
                commit
                    .as_ref()
                    .and_then(|c| c.metadata.get_str(key))
                    .map(str::to_owned)
            };
            DeploymentStatus {
                index: d.index,
                stateroot: d.stateroot.clone(),
                checksum: d.checksum,
                serial: d.serial,
                refspec: d
                    .origin
                    .as_ref()
                    .and_then(origin::refspec)
                    .map(str::to_owned),
                booted: booted == Some(d.index),
                pending: pending == Some(d.index),
                rollback: rollback == Some(d.index),
                staged: d.staged,
                finalization_locked: d.staged && locked,
                pinned: d.is_pinned(),
                version: meta("version"),
                source_title: meta("ostree.source-title"),
            }
        })
        .collect()
}
