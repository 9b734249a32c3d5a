//! Making a deployment (`admin deploy`'s first half): the commit checked out under its
//! stateroot, `/etc` prepared and merged, the origin written. The second half, putting it
//! into the bootloader's list, is [`crate::write`].

use std::sync::atomic::AtomicBool;

use rostree_core::Checksum;
use rostree_core::keyfile::KeyFile;
use rostree_repo::checkout::{CheckoutOptions, checkout};
use rostree_repo::progress::{Event, NoProgress, Progress};
use rostree_repo::tree::{TreeEntry, lookup_path};

use crate::bls::BootEntry;
use crate::deployment::{Deployment, parse_deploy_name};
use crate::error::{Error, IoContext, Result, WithContext};
use crate::fsutil::{mkdir_p, remove_all, replace_file};
use crate::kargs::KernelArgs;
use crate::merge_report::{MergeReport, REPORT_SUFFIX};
use crate::sysroot::Sysroot;

/// What a deployment is made from, beyond its commit.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    /// The origin file to write (what upgrades follow).
    pub origin: Option<KeyFile>,
    /// Kernel arguments; `None` takes the merge deployment's.
    pub kargs: Option<KernelArgs>,
}

/// What [`deploy_tree`] did.
#[derive(Clone, Debug)]
pub struct DeployOutcome {
    /// The new deployment (not yet in the bootloader's list).
    pub deployment: Deployment,
    /// The `/etc` merge from the merge deployment, if there was one (also written beside
    /// the origin file, see [`crate::merge_report`]).
    pub etc_merge: Option<MergeReport>,
    /// Whether the stateroot's `/var` got its SELinux stamp now (the first deployment).
    pub relabeled_var: bool,
    /// Entries of the commit's `/var`, which deployments never see.
    pub ignored_var: Vec<String>,
}

/// Checks out `revision` as a new deployment of `stateroot`, with `/etc` merged from
/// `merge` (the deployment whose local changes carry over), as upstream's
/// `ostree_sysroot_deploy_tree`.
pub fn deploy_tree(
    sysroot: &Sysroot,
    stateroot: &str,
    revision: &Checksum,
    merge: Option<&Deployment>,
    progress: &dyn Progress,
    options: &DeployOptions,
) -> Result<DeployOutcome> {
    let (mut deployment, ignored_var) =
        initialize(sysroot, stateroot, revision, progress, options)?;
    let (etc_merge, relabeled_var) = finalize(sysroot, &mut deployment, merge, progress)?;
    Ok(DeployOutcome {
        deployment,
        etc_merge,
        relabeled_var,
        ignored_var,
    })
}

/// The first half of a deployment, which staging does now: the checkout, its kernel, its
/// `/etc` copied from the defaults, its origin file; and the entries of its `/var`.
pub(crate) fn initialize(
    sysroot: &Sysroot,
    stateroot: &str,
    revision: &Checksum,
    progress: &dyn Progress,
    options: &DeployOptions,
) -> Result<(Deployment, Vec<String>)> {
    let repo = &sysroot.repo;
    let commit = repo.load_commit(revision)?;
    let deploy_dir = format!("deploy/{stateroot}/deploy");
    let serial = next_serial(sysroot, &deploy_dir, revision)?;
    let name = format!("{revision}.{serial}");
    progress.event(Event::Phase("checking out"));
    let checkout_into = || -> Result<()> {
        mkdir_p(&sysroot.ostree, &deploy_dir, 0o775)?;
        let parent = sysroot
            .ostree
            .open_dir(&deploy_dir)
            .io("opendir", &deploy_dir)?;
        remove_all(&parent, &name)?;
        let options = CheckoutOptions {
            passthrough_whiteouts: true,
            ..Default::default()
        };
        let interrupt = AtomicBool::new(false);
        checkout(
            repo,
            (commit.root_tree, commit.root_meta),
            &parent,
            name.as_ref(),
            progress,
            &interrupt,
            &options,
        )?;
        Ok(())
    };
    checkout_into().context(|| "Checking out deployment tree".to_owned())?;
    let path = format!("{deploy_dir}/{name}");
    let root = sysroot.ostree.open_dir(&path).io("opendir", &path)?;
    let layout = crate::kernel::find_kernel(&root, sysroot.debug.no_dtb)?;
    let mut bootconfig = BootEntry::new();
    if let Some(kargs) = &options.kargs {
        bootconfig.set("options", &kargs.to_string());
    }
    prepare_etc(sysroot, &root, (commit.root_tree, commit.root_meta))
        .context(|| "Preparing /etc".to_owned())?;
    let ignored_var = match root.open_dir("var") {
        Ok(var) => {
            let mut names = Vec::new();
            for entry in var.entries().io("readdir", "var")? {
                names.push(
                    entry
                        .io("readdir", "var")?
                        .file_name()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    };
    let deployment = Deployment {
        index: 0,
        stateroot: stateroot.to_owned(),
        checksum: *revision,
        serial,
        bootcsum: layout.bootcsum,
        bootserial: 0,
        bootconfig,
        origin: options.origin.clone(),
        staged: false,
    };
    if let Some(origin) = &deployment.origin {
        write_beside(
            sysroot,
            &deployment,
            ".origin",
            origin.to_data().as_bytes(),
            false,
        )
        .context(|| "Writing out origin file".to_owned())?;
    }
    Ok((deployment, ignored_var))
}

/// The second half, which a staged deployment gets at shutdown: kernel arguments and
/// `/etc` from the merge deployment, the stateroot's `/var` stamped, the root made
/// immutable. Returns the merge report and whether `/var` was stamped now.
pub(crate) fn finalize(
    sysroot: &Sysroot,
    deployment: &mut Deployment,
    merge: Option<&Deployment>,
    progress: &dyn Progress,
) -> Result<(Option<MergeReport>, bool)> {
    let root = sysroot
        .ostree
        .open_dir(deployment.in_ostree())
        .io("opendir", deployment.path())?;
    if deployment.bootconfig.get("options").is_none()
        && let Some(options) = merge.and_then(|m| m.bootconfig.get("options"))
    {
        deployment.bootconfig.set("options", options);
    }
    progress.event(Event::Phase("merging /etc"));
    let etc_merge = match merge {
        Some(m) => {
            let merge_root = sysroot
                .ostree
                .open_dir(m.in_ostree())
                .io("opendir", m.path())?;
            Some(crate::etc_merge::merge(&merge_root, &root)?)
        }
        None => None,
    };
    let var_path = format!("deploy/{}/var", deployment.stateroot);
    let var = sysroot.ostree.open_dir(&var_path).io("opendir", "var")?;
    for (dir, name) in [(&root, "etc/.updated"), (&var, ".updated")] {
        match dir.remove_file(name) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).io("unlinkat", name);
            }
            _ => {}
        }
    }
    let relabeled_var = !var.exists(".ostree-selabeled");
    if relabeled_var {
        // No SELinux policy is applied here; the stamp records that /var was considered.
        replace_file(&var, ".ostree-selabeled", b"", true)?;
    }
    if let Some(report) = &etc_merge {
        write_beside(
            sysroot,
            deployment,
            REPORT_SUFFIX,
            report.to_text().as_bytes(),
            false,
        )?;
    }
    if !sysroot.debug.mutable_deployments {
        crate::fsutil::set_immutable(&root, true)?;
    }
    Ok((etc_merge, relabeled_var))
}

/// Writes `<csum>.<serial><suffix>` beside the deployment's directory (its origin file, its
/// merge report) by a rename; `durable` syncs the data first.
pub(crate) fn write_beside(
    sysroot: &Sysroot,
    deployment: &Deployment,
    suffix: &str,
    data: &[u8],
    durable: bool,
) -> Result<()> {
    let deploy_dir = format!("deploy/{}/deploy", deployment.stateroot);
    let parent = sysroot
        .ostree
        .open_dir(&deploy_dir)
        .io("opendir", &deploy_dir)?;
    replace_file(
        &parent,
        &format!("{}{suffix}", deployment.name()),
        data,
        durable,
    )
}

/// One more than the highest serial of `revision` among the stateroot's deployments.
fn next_serial(sysroot: &Sysroot, deploy_dir: &str, revision: &Checksum) -> Result<u32> {
    let dir = match sysroot.ostree.open_dir(deploy_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).io("opendir", deploy_dir),
    };
    let mut next = 0;
    for entry in dir.entries().io("readdir", deploy_dir)? {
        let entry = entry.io("readdir", deploy_dir)?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let (csum, serial) = parse_deploy_name(&name).ok_or_else(|| invalid_deploy_name(&name))?;
        if csum == *revision {
            next = next.max(serial + 1);
        }
    }
    Ok(next)
}

pub(crate) fn invalid_deploy_name(name: &str) -> Error {
    Error::Refused(format!(
        "Invalid deploy name '{name}', expected CHECKSUM.TREESERIAL"
    ))
}

/// `usr/etc` is the defaults; the deployment's `etc` starts as a real copy of them.
fn prepare_etc(
    sysroot: &Sysroot,
    root: &cap_std::fs::Dir,
    commit_root: (Checksum, Checksum),
) -> Result<()> {
    let has_etc = root.symlink_metadata("etc").is_ok();
    let has_usr_etc = root.symlink_metadata("usr/etc").is_ok();
    if has_etc && has_usr_etc {
        return Err(Error::Refused(
            "Tree contains both /etc and /usr/etc".into(),
        ));
    }
    if has_etc {
        root.rename("etc", root, "usr/etc").io("renameat", "etc")?;
    }
    if !has_etc && !has_usr_etc {
        return Ok(());
    }
    let TreeEntry::Dir(tree, meta) = lookup_path(&sysroot.repo, commit_root, "/usr/etc")? else {
        return Err(Error::Refused("/usr/etc is not a directory".into()));
    };
    let options = CheckoutOptions {
        force_copy: true,
        ..Default::default()
    };
    let interrupt = AtomicBool::new(false);
    checkout(
        &sysroot.repo,
        (tree, meta),
        root,
        "etc".as_ref(),
        &NoProgress,
        &interrupt,
        &options,
    )?;
    Ok(())
}
