//! Cleanup after the deployments changed: the loader and link farms not in use, deployment
//! directories and boot directories no entry names, the deployment refs, and a prune of the
//! system repository.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

use rostree_repo::RefKind;
use rostree_repo::progress::NoProgress;
use rostree_repo::prune::{PruneOptions, prune};

use crate::deploy::invalid_deploy_name;
use crate::deployment::parse_deploy_name;
use crate::error::{IoContext, Result, WithContext};
use crate::fsutil::remove_all;
use crate::merge_report::REPORT_SUFFIX;
use crate::sysroot::Sysroot;

/// What [`cleanup`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupOutcome {
    /// Bytes the prune freed.
    pub freed: u64,
}

/// Removes what the live loader does not name and, with `prune`, the objects no ref or
/// deployment needs, as upstream's `ostree_sysroot_cleanup`.
pub fn cleanup(sysroot: &Sysroot, with_prune: bool) -> Result<CleanupOutcome> {
    clean_bootversions(sysroot).context(|| "Cleaning bootversions".to_owned())?;
    clean_deployments(sysroot).context(|| "Cleaning deployments".to_owned())?;
    write_deployment_refs(sysroot).context(|| "Generating deployment refs".to_owned())?;
    let mut outcome = CleanupOutcome::default();
    if with_prune {
        let options = PruneOptions {
            refs_only: true,
            depth: Some(0),
            ..Default::default()
        };
        let interrupt = AtomicBool::new(false);
        outcome.freed = prune(&sysroot.repo, &NoProgress, &interrupt, &options)?.freed;
    }
    Ok(outcome)
}

fn clean_bootversions(sysroot: &Sysroot) -> Result<()> {
    let (n, m) = (sysroot.bootversion, sysroot.subbootversion);
    let other = 1 - n;
    remove_all(&sysroot.dir, format!("boot/loader.{other}"))?;
    for path in [
        format!("boot.{other}"),
        format!("boot.{other}.0"),
        format!("boot.{other}.1"),
        format!("boot.{n}.{}", 1 - m),
    ] {
        remove_all(&sysroot.ostree, path)?;
    }
    Ok(())
}

fn clean_deployments(sysroot: &Sysroot) -> Result<()> {
    let active: HashSet<_> = sysroot.deployments.iter().map(|d| d.in_ostree()).collect();
    let deploy = sysroot
        .ostree
        .open_dir("deploy")
        .io("opendir", "ostree/deploy")?;
    for stateroot in deploy.entries().io("readdir", "ostree/deploy")? {
        let stateroot = stateroot.io("readdir", "ostree/deploy")?;
        if !stateroot.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let stateroot = stateroot.file_name().to_string_lossy().into_owned();
        let path = format!("deploy/{stateroot}/deploy");
        let Ok(dir) = sysroot.ostree.open_dir(&path) else {
            continue;
        };
        for entry in dir.entries().io("readdir", &path)? {
            let entry = entry.io("readdir", &path)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                // A merge report outlives its deployment when another tool removed it.
                if let Some(stem) = name.strip_suffix(REPORT_SUFFIX)
                    && !active.contains(&std::path::PathBuf::from(format!("{path}/{stem}")))
                {
                    remove_all(&dir, &name)?;
                }
                continue;
            }
            if parse_deploy_name(&name).is_none() {
                return Err(invalid_deploy_name(&name));
            }
            if active.contains(&std::path::PathBuf::from(format!("{path}/{name}"))) {
                continue;
            }
            if let Ok(root) = dir.open_dir(&name) {
                crate::fsutil::set_immutable(&root, false)?;
            }
            remove_all(&dir, format!("{name}.origin"))?;
            remove_all(&dir, format!("{name}{REPORT_SUFFIX}"))?;
            remove_all(&dir, &name)?;
        }
    }
    let bootcsums: HashSet<String> = sysroot
        .deployments
        .iter()
        .map(|d| d.bootcsum.to_hex())
        .collect();
    let Ok(boot) = sysroot.dir.open_dir("boot/ostree") else {
        return Ok(());
    };
    for entry in boot.entries().io("readdir", "boot/ostree")? {
        let entry = entry.io("readdir", "boot/ostree")?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((_, hex)) = name.rsplit_once('-') else {
            continue;
        };
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && !bootcsums.contains(hex)
        {
            remove_all(&boot, &name)?;
        }
    }
    Ok(())
}

/// `ostree/<bootversion>/<subbootversion>/<i>` naming each deployment's commit, and no
/// other `ostree/<0|1>/...` ref.
fn write_deployment_refs(sysroot: &Sysroot) -> Result<()> {
    let repo = &sysroot.repo;
    let prefix = format!("ostree/{}/{}/", sysroot.bootversion, sysroot.subbootversion);
    let wanted: Vec<(String, _)> = sysroot
        .deployments
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("{prefix}{i}"), d.checksum))
        .collect();
    for (name, target) in repo.list_refs(&RefKind::Local)? {
        let is_deployment_ref = name.starts_with("ostree/0/") || name.starts_with("ostree/1/");
        if is_deployment_ref && !wanted.iter().any(|(n, c)| *n == name && *c == target) {
            repo.set_ref(&RefKind::Local, &name, None)?;
        }
    }
    // Set in a transaction of the repository, as upstream does (so its test hooks and locks
    // apply).
    let refs: Vec<_> = wanted
        .into_iter()
        .map(|(name, target)| (RefKind::Local, name, target))
        .collect();
    rostree_repo::Transaction::begin(repo)?.commit_with_refs(&refs)?;
    Ok(())
}
