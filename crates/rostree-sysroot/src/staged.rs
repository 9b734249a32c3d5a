//! Booted systems and staged deployments. A deployment is staged (`admin deploy --stage`,
//! `admin upgrade --stage`) on a running system: checked out now, put into the bootloader at
//! shutdown by `admin finalize-staged` (upstream's `ostree-finalize-staged.service`), so
//! that `/etc` changes made until then are merged. The state lives in `/run`:
//!
//! ```text
//! /run/ostree-booted                         the system booted through ostree
//! /run/ostree/staged-deployment              GVariant a{sv}: target {name, osname, bootcsum},
//!                                            merge-deployment {...}, kargs (as)
//! /run/ostree/staged-deployment-locked       finalization locked (`admin lock-finalization`)
//! /boot/ostree/finalize-failure.stamp        why the last finalization failed
//! ```

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use rostree_core::gvariant::{Type, Value};
use rostree_core::object::Metadata;

use rostree_core::Checksum;
use rostree_repo::progress::Progress;

use crate::deploy::DeployOptions;
use crate::deployment::Deployment;
use crate::error::{Error, IoContext, Result};
use crate::kargs::KernelArgs;
use crate::merge_report::MergeReport;
use crate::sysroot::Sysroot;
use crate::write::{WriteFlags, WriteOutcome, simple_write_deployment};

/// Where a running system keeps its state: `/run` and `/` on a real system. Tests point
/// them elsewhere (`ROSTREE_TEST_RUN_DIR`, `ROSTREE_TEST_ROOT`) to play a booted system in
/// a temporary sysroot; then the sysroot need not be `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootEnv {
    /// `/run`.
    pub run: PathBuf,
    /// `/`: the booted deployment is the one whose root this is.
    pub root: PathBuf,
    /// Set by the test overrides.
    pub test: bool,
}

impl BootEnv {
    /// The running system's.
    pub fn system() -> BootEnv {
        BootEnv {
            run: PathBuf::from("/run"),
            root: PathBuf::from("/"),
            test: false,
        }
    }

    /// The running system's, but for the test overrides of the environment.
    pub fn from_env() -> BootEnv {
        let run = std::env::var_os("ROSTREE_TEST_RUN_DIR").map(PathBuf::from);
        let root = std::env::var_os("ROSTREE_TEST_ROOT").map(PathBuf::from);
        let test = run.is_some() || root.is_some();
        let system = BootEnv::system();
        BootEnv {
            run: run.unwrap_or(system.run),
            root: root.unwrap_or(system.root),
            test,
        }
    }

    /// `/run/ostree/staged-deployment`.
    pub fn staged_file(&self) -> PathBuf {
        self.run.join("ostree/staged-deployment")
    }

    /// `/run/ostree/staged-deployment-locked`.
    pub fn staged_lock_file(&self) -> PathBuf {
        self.run.join("ostree/staged-deployment-locked")
    }

    /// The device and inode of the booted root, when this system booted through ostree and
    /// `sysroot` (device, inode) is the root (or a test says so).
    pub(crate) fn booted_root(&self, sysroot: (u64, u64)) -> Option<(u64, u64)> {
        if !self.run.join("ostree-booted").exists() {
            return None;
        }
        let root = std::fs::metadata(&self.root).ok()?;
        let root = (root.dev(), root.ino());
        (self.test || root == sysroot).then_some(root)
    }
}

/// The staged deployment's state, as `/run/ostree/staged-deployment` holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StagedState {
    /// `<csum>.<serial>`, stateroot and bootcsum of the staged deployment.
    pub target: (String, String, String),
    /// The same of the merge deployment.
    pub merge: Option<(String, String, String)>,
    /// Kernel arguments given at staging (else the merge deployment's).
    pub kargs: Option<Vec<String>>,
}

fn deployment_dict(name: &str, stateroot: &str, bootcsum: &str) -> Value {
    let mut m = Metadata::new();
    m.push("name", Value::String(name.to_owned()));
    m.push("osname", Value::String(stateroot.to_owned()));
    m.push("bootcsum", Value::String(bootcsum.to_owned()));
    m.to_value()
}

fn read_dict(value: &Value) -> Option<(String, String, String)> {
    let m = Metadata::from_value(value)?;
    Some((
        m.get_str("name")?.to_owned(),
        m.get_str("osname")?.to_owned(),
        m.get_str("bootcsum")?.to_owned(),
    ))
}

impl StagedState {
    /// The state of `staged`, merging from `merge`.
    pub(crate) fn of(
        staged: &Deployment,
        merge: Option<&Deployment>,
        kargs: Option<&KernelArgs>,
    ) -> StagedState {
        let ids = |d: &Deployment| (d.name(), d.stateroot.clone(), d.bootcsum.to_hex());
        StagedState {
            target: ids(staged),
            merge: merge.map(ids),
            kargs: kargs.map(|k| k.iter().collect()),
        }
    }

    /// The file's bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut m = Metadata::new();
        let (name, root, boot) = &self.target;
        m.push("target", deployment_dict(name, root, boot));
        if let Some((name, root, boot)) = &self.merge {
            m.push("merge-deployment", deployment_dict(name, root, boot));
        }
        if let Some(kargs) = &self.kargs {
            let items = kargs.iter().map(|k| Value::String(k.clone())).collect();
            m.push("kargs", Value::Array(Type::String, items));
        }
        m.to_bytes()
    }

    /// Reads the file's bytes.
    pub(crate) fn parse(data: &[u8]) -> Result<StagedState> {
        let bad = || Error::Refused("Invalid /run/ostree/staged-deployment".into());
        let m = Metadata::from_bytes(data).map_err(|_| bad())?;
        let target = m.get("target").and_then(read_dict).ok_or_else(bad)?;
        let merge = m.get("merge-deployment").and_then(read_dict);
        let kargs = match m.get("kargs") {
            Some(Value::Array(_, items)) => Some(
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        };
        Ok(StagedState {
            target,
            merge,
            kargs,
        })
    }
}

/// Stages `revision` as the next deployment of `stateroot` on a booted system: checked out
/// now, its `/etc` merged from `merge` and its entry written by [`finalize_staged`] at
/// shutdown. A deployment staged before is replaced.
pub fn stage_tree(
    sysroot: &mut Sysroot,
    stateroot: &str,
    revision: &Checksum,
    merge: Option<&Deployment>,
    progress: &dyn Progress,
    options: &DeployOptions,
) -> Result<Deployment> {
    if sysroot.booted_deployment().is_none() {
        return Err(Error::Refused(
            "Cannot stage deployment: Not currently booted into an OSTree system".into(),
        ));
    }
    let (deployment, _) =
        crate::deploy::initialize(sysroot, stateroot, revision, progress, options)?;
    let state = StagedState::of(&deployment, merge, options.kargs.as_ref());
    let run = sysroot.boot_env.run.join("ostree");
    std::fs::create_dir_all(&run).io("mkdir", &run)?;
    let file = sysroot.boot_env.staged_file();
    let tmp = run.join(".staged-deployment.tmp");
    std::fs::write(&tmp, state.to_bytes()).io("write", &tmp)?;
    let previous = sysroot.staged_deployment_of().cloned();
    std::fs::rename(&tmp, &file).io("rename", &file)?;
    if let Some(previous) = previous.filter(|p| !p.same_as(&deployment)) {
        remove_deployment_files(sysroot, &previous)?;
    }
    crate::init::touch_deploy_dir(&sysroot.ostree)?;
    sysroot.reload()?;
    crate::cleanup::cleanup(sysroot, false)?;
    Ok(deployment)
}

/// What [`finalize_staged`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finalized {
    /// Nothing was staged.
    NothingStaged,
    /// Finalization is locked (`/run/ostree/staged-deployment-locked`).
    Locked,
    /// The staged deployment is now the default.
    Done {
        /// The deployment.
        deployment: Box<Deployment>,
        /// Its `/etc` merge.
        etc_merge: Option<MergeReport>,
        /// The loader written.
        written: WriteOutcome,
    },
}

/// Puts the staged deployment into the bootloader (upstream's `ostree-finalize-staged`, run
/// at shutdown): `/etc` merged from the merge deployment as it is now, then written as the
/// new default. A failure is also recorded in `/boot/ostree/finalize-failure.stamp`, which
/// [`boot_complete`] reports at the next boot.
pub fn finalize_staged(sysroot: &mut Sysroot, progress: &dyn Progress) -> Result<Finalized> {
    let outcome = finalize_inner(sysroot, progress);
    if let Err(e) = &outcome {
        let stamp = format!("boot/{FAILURE_STAMP}");
        let _ = crate::fsutil::mkdir_p(&sysroot.dir, "boot/ostree", 0o755);
        let _ = std::fs::write(sysroot.path.join(&stamp), e.to_string());
    }
    outcome
}

/// Where a failed finalization leaves its reason, under `/boot`.
const FAILURE_STAMP: &str = "ostree/finalize-failure.stamp";

fn finalize_inner(sysroot: &mut Sysroot, progress: &dyn Progress) -> Result<Finalized> {
    let (Some(state), Some(staged)) = (
        sysroot.staged.clone(),
        sysroot.staged_deployment_of().cloned(),
    ) else {
        return Ok(Finalized::NothingStaged);
    };
    if sysroot.boot_env.staged_lock_file().exists() {
        return Ok(Finalized::Locked);
    }
    let merge = match &state.merge {
        Some((name, stateroot, _)) => Some(
            sysroot
                .deployments
                .iter()
                .find(|d| !d.staged && d.name() == *name && d.stateroot == *stateroot)
                .cloned()
                .ok_or_else(|| {
                    Error::Refused(format!("Failed to find merge deployment {name} for staged"))
                })?,
        ),
        None => None,
    };
    // Unlinked first: an interrupted finalization must not be retried on a half-merged /etc.
    let file = sysroot.boot_env.staged_file();
    std::fs::remove_file(&file).io("unlinkat", &file)?;
    let mut deployment = staged;
    deployment.staged = false;
    let (etc_merge, _) =
        crate::deploy::finalize(sysroot, &mut deployment, merge.as_ref(), progress)?;
    sysroot.forget_staged();
    let flags = WriteFlags {
        no_clean: true,
        ..Default::default()
    };
    let written =
        simple_write_deployment(sysroot, deployment.clone(), merge.as_ref(), progress, flags)?;
    crate::cleanup::cleanup(sysroot, false)?;
    Ok(Finalized::Done {
        deployment: Box::new(deployment),
        etc_merge,
        written,
    })
}

/// At boot (upstream's `ostree-boot-complete`): a failed finalization of the previous
/// shutdown is an error now, naming why; the record goes with it.
pub fn boot_complete(sysroot: &Sysroot) -> Result<()> {
    let stamp = sysroot.path.join("boot").join(FAILURE_STAMP);
    match std::fs::read_to_string(&stamp) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).io("openat", stamp),
        Ok(reason) => {
            std::fs::remove_file(&stamp).io("unlinkat", &stamp)?;
            Err(Error::Refused(format!(
                "ostree-finalize-staged.service failed on previous boot: {reason}"
            )))
        }
    }
}

/// Locks (or unlocks) finalization of the staged deployment: a locked one is left staged at
/// shutdown (upstream 2023.8's `admin lock-finalization`).
pub fn lock_finalization(sysroot: &Sysroot, locked: bool) -> Result<()> {
    if sysroot.staged_deployment_of().is_none() {
        return Err(Error::Refused("No staged deployment".into()));
    }
    let file = sysroot.boot_env.staged_lock_file();
    match locked {
        true => std::fs::write(&file, b"").io("write", &file),
        false => match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).io("unlinkat", &file),
            _ => Ok(()),
        },
    }
}

/// Whether finalization of the staged deployment is locked.
pub fn finalization_locked(sysroot: &Sysroot) -> bool {
    sysroot.staged_deployment_of().is_some() && sysroot.boot_env.staged_lock_file().exists()
}

/// Removes a deployment's directory and files (a staged one that no loader names).
pub(crate) fn remove_deployment_files(sysroot: &Sysroot, d: &Deployment) -> Result<()> {
    let deploy_dir = format!("deploy/{}/deploy", d.stateroot);
    let dir = sysroot
        .ostree
        .open_dir(&deploy_dir)
        .io("opendir", &deploy_dir)?;
    if let Ok(root) = dir.open_dir(d.name()) {
        crate::fsutil::set_immutable(&root, false)?;
    }
    for name in [
        d.name(),
        format!("{}.origin", d.name()),
        format!("{}{}", d.name(), crate::merge_report::REPORT_SUFFIX),
    ] {
        crate::fsutil::remove_all(&dir, name)?;
    }
    Ok(())
}

/// Reads the staged state, if any.
pub(crate) fn read_state(env: &BootEnv) -> Result<Option<StagedState>> {
    let path = env.staged_file();
    match std::fs::read(&path) {
        Ok(data) => Ok(Some(StagedState::parse(&data)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).io("openat", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_state_round_trips() {
        for state in [
            StagedState {
                target: ("abc.0".into(), "os".into(), "def".into()),
                merge: Some(("123.1".into(), "os".into(), "456".into())),
                kargs: Some(vec!["root=/dev/sda".into(), "quiet".into()]),
            },
            StagedState {
                target: ("abc.0".into(), "os".into(), "def".into()),
                merge: None,
                kargs: None,
            },
        ] {
            assert_eq!(
                StagedState::parse(&state.to_bytes()).expect("parses"),
                state
            );
        }
        assert!(StagedState::parse(b"junk").is_err());
    }
}
