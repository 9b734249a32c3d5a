//! Making a sysroot (`admin init-fs`) and a stateroot in it (`admin os-init`).

use std::path::Path;

use cap_std::fs::{Dir, Permissions, PermissionsExt};
use rostree_repo::{InitOptions, Repo, RepoMode};

use crate::error::{Error, IoContext, Result, WithContext};
use crate::fsutil::mkdir_p;
use crate::sysroot::Sysroot;

/// Options of [`init_fs`].
#[derive(Clone, Copy, Debug, Default)]
pub struct InitFsOptions {
    /// `--modern`: only `boot` and `ostree`, no top-level directories of a root file system.
    pub modern: bool,
}

/// Lays out an empty sysroot in `dir`: the top-level directories of a root (unless modern),
/// `ostree/deploy` and a bare `ostree/repo`. Running it again changes nothing.
pub fn init_fs(dir: &Dir, path: &Path, options: &InitFsOptions) -> Result<()> {
    mkdir_p(dir, "boot", 0o755)?;
    if !options.modern {
        for name in ["boot", "dev", "home", "proc", "run", "sys"] {
            mkdir_p(dir, name, 0o755)?;
        }
        mkdir_p(dir, "root", 0o700)?;
        mkdir_p(dir, "tmp", 0o1777)?;
        dir.set_permissions("tmp", Permissions::from_mode(0o1777))
            .io("chmod", "tmp")?;
    }
    ensure_initialized(dir, path)
}

/// `ostree/repo` (a bare repository) and `ostree/deploy`, made when missing.
pub(crate) fn ensure_initialized(dir: &Dir, path: &Path) -> Result<()> {
    mkdir_p(dir, "ostree/repo", 0o755)?;
    mkdir_p(dir, "ostree/deploy", 0o755)?;
    let repo_dir = dir.open_dir("ostree/repo").io("opendir", "ostree/repo")?;
    if repo_dir.exists("config") {
        return Ok(());
    }
    let options = InitOptions {
        mode: RepoMode::Bare,
        ..Default::default()
    };
    Repo::init(repo_dir, path.join("ostree/repo"), &options)?;
    Ok(())
}

/// Makes the stateroot `name`: `ostree/deploy/<name>` with its shared `var` (`tmp`, `lib`,
/// `log`, and `run`/`lock` pointing into `/run`). A stateroot that exists is refused.
pub fn init_stateroot(sysroot: &Sysroot, name: &str) -> Result<()> {
    ensure_initialized(&sysroot.dir, &sysroot.path)?;
    let root = format!("deploy/{name}");
    let within = || format!("Creating ostree/{root}");
    sysroot
        .ostree
        .create_dir(&root)
        .map_err(|e| Error::Refused(rostree_repo::os_error_text(&e)))
        .context(within)?;
    let stateroot = sysroot.ostree.open_dir(&root).io("opendir", &root)?;
    let made = |name: &str, mode: u32| -> Result<()> {
        let mut builder = cap_std::fs::DirBuilder::new();
        cap_std::fs::DirBuilderExt::mode(&mut builder, mode);
        stateroot
            .create_dir_with(name, &builder)
            .map_err(|e| Error::Refused(rostree_repo::os_error_text(&e)))
            .context(|| format!("Creating {name}"))
    };
    made("var", 0o777)?;
    made("var/tmp", 0o777)?;
    stateroot
        .set_permissions("var/tmp", Permissions::from_mode(0o1777))
        .map_err(|e| Error::Refused(rostree_repo::os_error_text(&e)))
        .context(|| "fchmod var/tmp".to_owned())?;
    made("var/lib", 0o777)?;
    made("var/log", 0o755)?;
    for (link, target) in [("var/run", "../run"), ("var/lock", "../run/lock")] {
        stateroot
            .symlink(target, link)
            .map_err(|e| Error::Refused(rostree_repo::os_error_text(&e)))
            .context(|| format!("Symlinking {link}"))?;
    }
    touch_deploy_dir(&sysroot.ostree)
}

/// Bumps `ostree/deploy`'s mtime (`ostree` being the handle of `ostree/`), which tells
/// readers the deployments changed.
pub(crate) fn touch_deploy_dir(ostree: &Dir) -> Result<()> {
    use rustix::fs::{AtFlags, Timespec, Timestamps, UTIME_NOW};
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: UTIME_NOW,
    };
    let times = Timestamps {
        last_access: now,
        last_modification: now,
    };
    rustix::fs::utimensat(ostree, "deploy", &times, AtFlags::empty())
        .io("utimensat", "ostree/deploy")
}
