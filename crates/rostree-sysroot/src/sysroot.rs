//! Loading a sysroot: which loader is live, and the deployments its entries name.

use cap_std::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use rostree_core::Checksum;
use rostree_repo::Repo;

use crate::bls::{BootEntry, compare_versions_desc};
use crate::deployment::{Deployment, parse_deploy_name};
use crate::error::{Error, IoContext, Result, WithContext};
use crate::fsutil::read_link_opt;
use crate::staged::{BootEnv, StagedState};

/// `OSTREE_SYSROOT_DEBUG` and `OSTREE_SYSROOT_OPTS` switches, as upstream reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DebugFlags {
    /// `bootloader-naming-2` (`OSTREE_SYSROOT_OPTS`): entries named `ostree-<N>.conf`, as
    /// upstream names them by default since 2024.5, instead of 2022.7's
    /// `ostree-<N>-<stateroot>.conf` (GRUB reads the name, not the version field).
    pub short_entry_names: bool,
    /// `mutable-deployments`: deployment roots are not made immutable.
    pub mutable_deployments: bool,
    /// `no-dtb`: devicetrees are not looked for in `usr/lib/modules`.
    pub no_dtb: bool,
    /// `test-fifreeze`: the full sync fails as if freezing `/boot` had hung.
    pub test_fifreeze: bool,
}

impl DebugFlags {
    /// Reads the flags from a GLib debug string (`,`, `:`, `;` or space separated).
    pub fn parse(text: &str) -> DebugFlags {
        let mut flags = DebugFlags::default();
        for word in text.split([',', ':', ';', ' ', '\t']) {
            match word.to_ascii_lowercase().as_str() {
                "mutable-deployments" => flags.mutable_deployments = true,
                "no-dtb" => flags.no_dtb = true,
                "test-fifreeze" => flags.test_fifreeze = true,
                "bootloader-naming-2" => flags.short_entry_names = true,
                "bootloader-naming-1" => flags.short_entry_names = false,
                _ => {}
            }
        }
        flags
    }

    /// The flags of `$OSTREE_SYSROOT_DEBUG` and `$OSTREE_SYSROOT_OPTS`.
    pub fn from_env() -> DebugFlags {
        let words = ["OSTREE_SYSROOT_DEBUG", "OSTREE_SYSROOT_OPTS"]
            .map(|name| std::env::var(name).unwrap_or_default());
        DebugFlags::parse(&words.join(","))
    }
}

/// Which bootloader configuration the repo's `sysroot.bootloader` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootloaderChoice {
    /// Probe for syslinux, grub2 and u-boot (the default).
    Auto,
    /// Write BLS entries only.
    None,
    /// GRUB 2.
    Grub2,
    /// syslinux.
    Syslinux,
    /// U-Boot.
    Uboot,
    /// s390x zipl.
    Zipl,
}

/// A loaded sysroot: its handle, system repository and deployments.
pub struct Sysroot {
    pub(crate) dir: Dir,
    /// `ostree/`, opened through symlinks (a deployment's view of a sysroot links it).
    pub(crate) ostree: Dir,
    pub(crate) path: PathBuf,
    pub(crate) repo: Repo,
    pub(crate) bootversion: u32,
    pub(crate) subbootversion: u32,
    pub(crate) deployments: Vec<Deployment>,
    pub(crate) booted: Option<usize>,
    pub(crate) debug: DebugFlags,
    pub(crate) bootloader: BootloaderChoice,
    pub(crate) boot_env: BootEnv,
    /// The staged deployment's state, when one is staged (it is then deployment 0).
    pub(crate) staged: Option<StagedState>,
}

impl Sysroot {
    /// Loads the sysroot at `dir` (`path` names it in messages), as upstream's
    /// `ostree_sysroot_load`; errors say `loading sysroot: ` first.
    pub fn load(dir: Dir, path: impl Into<PathBuf>, debug: DebugFlags) -> Result<Sysroot> {
        Sysroot::load_with(dir, path, debug, BootEnv::from_env())
    }

    /// As [`Sysroot::load`], with the running system's state where `boot_env` says.
    pub fn load_with(
        dir: Dir,
        path: impl Into<PathBuf>,
        debug: DebugFlags,
        boot_env: BootEnv,
    ) -> Result<Sysroot> {
        let path = path.into();
        Sysroot::load_inner(dir, path, debug, boot_env).context(|| "loading sysroot".to_owned())
    }

    fn load_inner(
        dir: Dir,
        path: PathBuf,
        debug: DebugFlags,
        boot_env: BootEnv,
    ) -> Result<Sysroot> {
        // The kernel resolves the path: `ostree` may be a symlink out of this directory (a
        // deployment's `ostree -> sysroot/ostree`), which upstream follows.
        let ostree =
            crate::fsutil::open_dir_following(&dir, "ostree").io("opendir", "ostree/repo")?;
        let repo_dir =
            crate::fsutil::open_dir_following(&ostree, "repo").io("opendir", "ostree/repo")?;
        let repo = Repo::open(repo_dir, path.join("ostree/repo"))?;
        let bootloader = bootloader_choice(&repo).context(|| "opening repo".to_owned())?;
        crate::fsutil::open_dir_following(&ostree, "deploy").io("opendir", "ostree/deploy")?;
        let mut sysroot = Sysroot {
            dir,
            ostree,
            path,
            repo,
            bootversion: 0,
            subbootversion: 0,
            deployments: Vec::new(),
            booted: None,
            debug,
            bootloader,
            boot_env,
            staged: None,
        };
        sysroot.reload()?;
        if !sysroot.is_physical() {
            // Remotes of a deployment's sysroot live in its /etc, as upstream keeps them.
            let root = sysroot.dir.try_clone().io("dup", ".")?;
            let remotes = rostree_repo::remotes_dir::RemotesDir::open(
                root,
                "etc/ostree/remotes.d",
                sysroot.path.join("etc/ostree/remotes.d"),
            )?;
            sysroot.repo.attach_remotes_dir(remotes, true)?;
        }
        Ok(sysroot)
    }

    /// Whether this is the physical root (neither booted into nor a deployment's view of
    /// one, which has `/sysroot`).
    pub fn is_physical(&self) -> bool {
        self.booted.is_none() && self.dir.symlink_metadata("sysroot").is_err()
    }

    /// Reads the loader and the deployments again (after a change on disk).
    pub(crate) fn reload(&mut self) -> Result<()> {
        self.bootversion = read_bootversion(&self.dir)?;
        self.subbootversion = read_subbootversion(&self.ostree, self.bootversion)?;
        let mut entries = read_entries(&self.dir, self.bootversion)?;
        entries.sort_by(|a, b| compare_versions_desc(&a.1, &b.1));
        let this = self.dir.dir_metadata().io("fstat", ".")?;
        let root_id = self.boot_env.booted_root((this.dev(), this.ino()));
        let mut deployments = Vec::new();
        let mut booted = None;
        for (_, entry) in entries {
            let (deployment, identity) = self.deployment_of(entry)?;
            if booted.is_none() && root_id.is_some() && root_id == Some(identity) {
                booted = Some(deployments.len());
            }
            deployments.push(deployment);
        }
        if root_id.is_some() && booted.is_none() {
            return Err(Error::Refused(
                "Unexpected state: /run/ostree-booted found and in / sysroot, but bootloader entry not found"
                    .into(),
            ));
        }
        self.staged = None;
        if booted.is_some()
            && let Some(state) = crate::staged::read_state(&self.boot_env)?
        {
            deployments.insert(0, self.staged_deployment(&state)?);
            booted = booted.map(|b| b + 1);
            self.staged = Some(state);
        }
        for (i, d) in deployments.iter_mut().enumerate() {
            d.index = i;
        }
        self.deployments = deployments;
        self.booted = booted;
        Ok(())
    }

    /// The deployment an entry names through its `ostree=` argument, and the device and
    /// inode of its root.
    fn deployment_of(&self, entry: BootEntry) -> Result<(Deployment, (u64, u64))> {
        let options = entry.get("options").unwrap_or_default().to_owned();
        let Some(link) = options.split(' ').find_map(|a| a.strip_prefix("ostree=")) else {
            return Err(Error::Refused("No ostree= kernel argument found".into()));
        };
        let (bootcsum, treebootserial, stateroot) = parse_ostree_karg(link).ok_or_else(|| {
            Error::Refused(format!(
                "Invalid ostree= argument '{link}', expected ostree=/ostree/boot.BOOTVERSION/OSNAME/BOOTCSUM/TREESERIAL"
            ))
        })?;
        let within = || format!("Parsing deployment {link} in stateroot '{stateroot}'");
        let relative = link.trim_start_matches("/ostree/");
        let target = self
            .ostree
            .read_link_contents(relative)
            .io("readlinkat", relative)
            .context(within)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (checksum, serial) = parse_deploy_name(&name)
            .ok_or_else(|| {
                Error::Refused(format!(
                    "Invalid deploy name '{name}', expected CHECKSUM.TREESERIAL"
                ))
            })
            .context(within)?;
        let root = self
            .ostree
            .metadata(relative)
            .io("openat", relative)
            .context(within)?;
        let mut deployment = Deployment {
            index: 0,
            stateroot: stateroot.to_owned(),
            checksum,
            serial,
            bootcsum,
            bootserial: treebootserial,
            bootconfig: entry,
            origin: None,
            staged: false,
        };
        let origin_path = deployment.origin_path();
        match self.ostree.read_to_string(deployment.origin_in_ostree()) {
            Ok(text) => {
                let origin = crate::origin::parse_origin(&text)
                    .context(|| format!("Parsing {}", origin_path.display()))
                    .context(within)?;
                deployment.origin = Some(origin);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).io("openat", origin_path).context(within),
        }
        Ok((deployment, (root.dev(), root.ino())))
    }

    /// The deployment `/run/ostree/staged-deployment` describes.
    fn staged_deployment(&self, state: &StagedState) -> Result<Deployment> {
        let (name, stateroot, bootcsum) = &state.target;
        let bad = || Error::Refused(format!("Invalid staged deployment '{name}'"));
        let (checksum, serial) = parse_deploy_name(name).ok_or_else(bad)?;
        let bootcsum = Checksum::from_hex(bootcsum).map_err(|_| bad())?;
        let mut bootconfig = BootEntry::new();
        if let Some(kargs) = &state.kargs {
            bootconfig.set("options", &kargs.join(" "));
        }
        let mut deployment = Deployment {
            index: 0,
            stateroot: stateroot.clone(),
            checksum,
            serial,
            bootcsum,
            bootserial: 0,
            bootconfig,
            origin: None,
            staged: true,
        };
        if let Ok(text) = self.ostree.read_to_string(deployment.origin_in_ostree()) {
            deployment.origin = Some(crate::origin::parse_origin(&text)?);
        }
        Ok(deployment)
    }

    /// Takes the staged deployment out of the list (it is being finalized).
    pub(crate) fn forget_staged(&mut self) {
        if self.deployments.first().is_some_and(|d| d.staged) {
            self.deployments.remove(0);
            self.booted = self.booted.and_then(|b| b.checked_sub(1));
            for (i, d) in self.deployments.iter_mut().enumerate() {
                d.index = i;
            }
        }
        self.staged = None;
    }

    /// The staged deployment, if one is.
    pub fn staged_deployment_of(&self) -> Option<&Deployment> {
        self.deployments.first().filter(|d| d.staged)
    }

    /// The sysroot's directory handle.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// The path it was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The system repository, `ostree/repo`.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    /// The system repository, to change its configuration (remotes).
    pub fn repo_mut(&mut self) -> &mut Repo {
        &mut self.repo
    }

    /// The deployments, the default first.
    pub fn deployments(&self) -> &[Deployment] {
        &self.deployments
    }

    /// The deployment the running system booted, when this sysroot is `/` and was booted.
    pub fn booted_deployment(&self) -> Option<&Deployment> {
        self.booted.map(|i| &self.deployments[i])
    }

    /// Which of `boot/loader.{0,1}` is live.
    pub fn bootversion(&self) -> u32 {
        self.bootversion
    }

    /// Which of `ostree/boot.N.{0,1}` is live.
    pub fn subbootversion(&self) -> u32 {
        self.subbootversion
    }

    /// The debug switches in force.
    pub fn debug_flags(&self) -> DebugFlags {
        self.debug
    }

    /// The deployment whose `/etc` a new deployment of `stateroot` merges: the booted one
    /// when it is of that stateroot, else the first of it.
    pub fn merge_deployment(&self, stateroot: &str) -> Option<&Deployment> {
        match self.booted_deployment() {
            Some(b) if b.stateroot == stateroot => Some(b),
            _ => self.deployments.iter().find(|d| d.stateroot == stateroot),
        }
    }

    /// The pending and the rollback deployment of `stateroot`: before and after the booted
    /// one (none without a booted deployment).
    pub fn pending_and_rollback(&self, stateroot: &str) -> (Option<usize>, Option<usize>) {
        let Some(booted) = self.booted else {
            return (None, None);
        };
        let of_root = |d: &&Deployment| d.stateroot == stateroot;
        let pending = self.deployments[..booted]
            .iter()
            .find(of_root)
            .map(|d| d.index);
        let rollback = self.deployments[booted + 1..]
            .iter()
            .find(of_root)
            .map(|d| d.index);
        (pending, rollback)
    }
}

/// Parses `/ostree/boot.N/<stateroot>/<bootcsum>/<serial>`.
fn parse_ostree_karg(link: &str) -> Option<(Checksum, u32, &str)> {
    let rest = link.strip_prefix("/ostree/boot.")?;
    let mut parts = rest.split('/');
    let version = parts.next()?;
    let stateroot = parts.next()?;
    let bootcsum = parts.next()?;
    let serial = parts.next()?;
    if parts.next().is_some()
        || !matches!(version, "0" | "1")
        || stateroot.is_empty()
        || serial.is_empty()
        || !serial.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((
        Checksum::from_hex(bootcsum).ok()?,
        serial.parse().ok()?,
        stateroot,
    ))
}

/// Reads `boot/loader`: missing means 0.
fn read_bootversion(dir: &Dir) -> Result<u32> {
    match dir.symlink_metadata("boot/loader") {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).io("fstatat", "boot/loader"),
        Ok(meta) if !meta.file_type().is_symlink() => {
            return Err(Error::Refused("Not a symbolic link: boot/loader".into()));
        }
        Ok(_) => {}
    }
    let target = read_link_opt(dir, "boot/loader")?.unwrap_or_default();
    match target.as_str() {
        "loader.0" => Ok(0),
        "loader.1" => Ok(1),
        _ => Err(Error::Refused(format!(
            "Invalid target '{target}' in boot/loader"
        ))),
    }
}

/// Reads `ostree/boot.N` (`ostree` being the handle of that directory): missing means 0.
pub(crate) fn read_subbootversion(ostree: &Dir, bootversion: u32) -> Result<u32> {
    let link = format!("boot.{bootversion}");
    let Some(target) = read_link_opt(ostree, &link)? else {
        return Ok(0);
    };
    if target.ends_with(".0") {
        Ok(0)
    } else if target.ends_with(".1") {
        Ok(1)
    } else {
        Err(Error::Refused(format!(
            "Invalid target '{target}' in ostree/{link}"
        )))
    }
}

/// The `ostree-*.conf` entries of `boot/loader.N/entries`, parsed.
pub(crate) fn read_entries(dir: &Dir, bootversion: u32) -> Result<Vec<(String, BootEntry)>> {
    let entries_path = format!("boot/loader.{bootversion}/entries");
    let entries = match dir.open_dir(&entries_path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).io("opendir", entries_path),
    };
    let mut out = Vec::new();
    for item in entries.entries().io("readdir", &entries_path)? {
        let item = item.io("readdir", &entries_path)?;
        let name = item.file_name().to_string_lossy().into_owned();
        if !name.starts_with("ostree-") || !name.ends_with(".conf") {
            continue;
        }
        if !entries.metadata(&name).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let text = entries
            .read_to_string(&name)
            .io("openat", format!("{entries_path}/{name}"))?;
        out.push((name, BootEntry::parse(&text)));
    }
    Ok(out)
}

/// `sysroot.bootloader` of the repo's config, refused as upstream refuses it.
fn bootloader_choice(repo: &Repo) -> Result<BootloaderChoice> {
    let value = repo
        .config()
        .get_raw("sysroot", "bootloader")
        .unwrap_or("auto");
    Ok(match value {
        "auto" => BootloaderChoice::Auto,
        "none" => BootloaderChoice::None,
        "grub2" => BootloaderChoice::Grub2,
        "syslinux" => BootloaderChoice::Syslinux,
        "uboot" => BootloaderChoice::Uboot,
        "zipl" => BootloaderChoice::Zipl,
        other => {
            return Err(Error::Refused(format!(
                "Invalid bootloader configuration: '{other}'"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ostree_kargs_parse_as_upstream_reads_them() {
        let c = "7bd091ad6955c0e7ef41bab65adb016275664b55efc0d10a0c8cb263da3c1e4e";
        for (link, expected) in [
            (format!("/ostree/boot.1/testos/{c}/0"), Some(("testos", 0))),
            (format!("/ostree/boot.0/os/{c}/12"), Some(("os", 12))),
            (format!("/ostree/boot.2/os/{c}/0"), None),
            (format!("/ostree/boot.0/os/{c}/x"), None),
            (format!("/ostree/boot.0/os/{c}/0/extra"), None),
            ("/ostree/boot.0/os/abc/0".to_owned(), None),
            ("/bad".to_owned(), None),
        ] {
            let parsed = parse_ostree_karg(&link).map(|(_, serial, root)| (root, serial));
            assert_eq!(parsed, expected, "{link}");
        }
    }

    #[test]
    fn debug_flags_read_glib_debug_strings() {
        for (text, mutable, no_dtb) in [
            ("", false, false),
            ("mutable-deployments", true, false),
            ("no-dtb,MUTABLE-DEPLOYMENTS", true, true),
            ("other:no-dtb", false, true),
            ("bootloader-naming-2,mutable-deployments", true, false),
        ] {
            let flags = DebugFlags::parse(text);
            assert_eq!(
                (flags.mutable_deployments, flags.no_dtb),
                (mutable, no_dtb),
                "{text}"
            );
        }
        assert!(DebugFlags::parse("skip-sync,bootloader-naming-2").short_entry_names);
        assert!(!DebugFlags::parse("bootloader-naming-2,bootloader-naming-1").short_entry_names);
    }
}
