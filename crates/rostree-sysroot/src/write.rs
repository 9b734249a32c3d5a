//! Putting a list of deployments into the bootloader (`admin deploy`'s second half,
//! `undeploy`, kernel argument changes): kernels installed, entries written into the loader
//! not in use, the link farm rebuilt, and one rename that switches the bootloader over.
//!
//! When only the deployments' roots change (same kernels, same arguments, same count), the
//! loader stays and only `ostree/boot.N` is swapped to a new link farm `boot.N.M`.

use std::collections::{BTreeSet, HashMap};

use rostree_core::Checksum;

use crate::bls::BootEntry;
use crate::deployment::Deployment;
use crate::error::{Error, IoContext, Result, WithContext};
use crate::fsutil::{mkdir_p, read_link_opt, remove_all, replace_file, replace_symlink};
use crate::kargs::KernelArgs;
use crate::sysroot::Sysroot;
use rostree_repo::progress::{Event, Progress};

/// How a new deployment joins the list ([`simple_write_deployment`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteFlags {
    /// `--retain`: keep every existing deployment.
    pub retain: bool,
    /// `--retain-pending`: keep the deployments before the booted (or merge) one.
    pub retain_pending: bool,
    /// `--retain-rollback`: keep the deployments after it.
    pub retain_rollback: bool,
    /// `--not-as-default`: the new deployment goes after the booted (or merge) one.
    pub not_default: bool,
    /// Skip the cleanup (and prune) after writing.
    pub no_clean: bool,
}

/// What writing the deployments did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    /// A new loader was written (else only the link farm was swapped).
    pub bootconfig_swapped: bool,
    /// The loader now live.
    pub bootversion: u32,
    /// The link farm now live.
    pub subbootversion: u32,
    /// Deployments now minus before.
    pub count_change: i64,
    /// The switch was one atomic step for the bootloader in use (false when no bootloader
    /// configuration was written, only BLS entries).
    pub atomic: bool,
    /// Bytes freed by the cleanup's prune.
    pub freed: u64,
}

impl WriteOutcome {
    /// Upstream's summary line.
    pub fn summary(&self) -> String {
        format!(
            "{}; bootconfig swap: {}; bootversion: boot.{}.{}, deployment count change: {}",
            if self.atomic {
                "Transaction complete"
            } else {
                "Bootloader updated"
            },
            if self.bootconfig_swapped { "yes" } else { "no" },
            self.bootversion,
            self.subbootversion,
            self.count_change
        )
    }
}

/// Adds `new` to the sysroot's deployments as upstream's `simple_write_deployment`: first
/// (unless `not_default`), keeping the booted and merge deployments, other stateroots and
/// pinned ones, and what the flags retain; the rest is dropped.
pub fn simple_write_deployment(
    sysroot: &mut Sysroot,
    new: Deployment,
    merge: Option<&Deployment>,
    progress: &dyn Progress,
    flags: WriteFlags,
) -> Result<WriteOutcome> {
    let booted = sysroot.booted_deployment().cloned();
    let mut flags = flags;
    if booted.is_none() && merge.is_none() && (flags.retain_pending || flags.retain_rollback) {
        flags.retain = true;
    }
    let mut list = Vec::new();
    let mut placed = false;
    if !flags.not_default {
        list.push(new.clone());
        placed = true;
    }
    let mut crossed = false;
    for d in &sysroot.deployments {
        let is_booted = booted.as_ref().is_some_and(|b| b.same_as(d));
        let is_merge = merge.is_some_and(|m| m.same_as(d));
        let is_crossover = match &booted {
            Some(_) => is_booted,
            None => is_merge,
        };
        let keep = flags.retain
            || d.is_pinned()
            || d.stateroot != new.stateroot
            || (flags.retain_pending && !crossed && !is_crossover)
            || is_booted
            || is_merge
            || (flags.retain_rollback && crossed);
        if is_crossover {
            crossed = true;
        }
        if keep {
            list.push(d.clone());
        }
        if !placed && crossed {
            list.push(new.clone());
            placed = true;
        }
    }
    if !placed {
        list.push(new);
    }
    write_deployments(sysroot, list, progress, !flags.no_clean)
}

/// Makes `deployments` the sysroot's list, in that order, as upstream's
/// `ostree_sysroot_write_deployments`; `postclean` then removes what no entry names and
/// prunes the repository.
pub fn write_deployments(
    sysroot: &mut Sysroot,
    deployments: Vec<Deployment>,
    progress: &dyn Progress,
    postclean: bool,
) -> Result<WriteOutcome> {
    progress.event(Event::Phase("writing boot entries"));
    let mut new = deployments;
    let all_before = sysroot.deployments.len();
    let all_after = new.len();
    // A staged deployment has no entry: kept only as the first of the new list (it stays
    // staged), else it goes with its state.
    let keeps_staged = new.first().is_some_and(|d| d.staged);
    if keeps_staged {
        new.remove(0);
    } else if let Some(staged) = sysroot.staged_deployment_of().cloned() {
        crate::staged::remove_deployment_files(sysroot, &staged)?;
        for file in [
            sysroot.boot_env.staged_file(),
            sysroot.boot_env.staged_lock_file(),
        ] {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).io("unlinkat", file);
                }
                _ => {}
            }
        }
    }
    let mut serials: HashMap<Checksum, u32> = HashMap::new();
    for (i, d) in new.iter_mut().enumerate() {
        let serial = serials.entry(d.bootcsum).or_default();
        d.bootserial = *serial;
        *serial += 1;
        d.index = i;
    }
    let current: Vec<Deployment> = sysroot
        .deployments
        .iter()
        .filter(|d| !d.staged)
        .cloned()
        .collect();
    let same_boot = current.len() == new.len()
        && current
            .iter()
            .zip(&new)
            .all(|(a, b)| same_bootconfig(sysroot, a, b));
    for d in &new {
        if !sysroot.ostree.is_dir(d.in_ostree()) {
            return Err(Error::Refused(format!(
                "Unable to find expected deployment root: {}",
                sysroot.path.join(d.path()).display()
            )));
        }
    }
    if let Some(booted) = sysroot.booted_deployment()
        && !new.iter().any(|d| d.same_as(booted))
    {
        return Err(Error::Refused(
            "Attempting to remove booted deployment".into(),
        ));
    }
    let (bootversion, subbootversion, atomic) = if same_boot {
        let bootversion = sysroot.bootversion;
        let sub = 1 - sysroot.subbootversion;
        write_link_farm(sysroot, bootversion, sub, &new)?;
        full_sync(sysroot)?;
        swap_link_farm(sysroot, bootversion, sub)?;
        (bootversion, sub, true)
    } else {
        let bootversion = 1 - sysroot.bootversion;
        let entries_dir = format!("boot/loader.{bootversion}/entries");
        remove_all(&sysroot.dir, &entries_dir)?;
        mkdir_p(&sysroot.dir, &entries_dir, 0o755)?;
        let stateroots: BTreeSet<&str> = new.iter().map(|d| d.stateroot.as_str()).collect();
        let show_stateroot = stateroots.len() > 1;
        let total = new.len();
        let mut entries = Vec::new();
        for d in new.iter_mut() {
            install_deployment_kernel(sysroot, d, bootversion, total, show_stateroot)?;
            entries.push(d.bootconfig.clone());
        }
        let old_sub = match read_link_opt(&sysroot.ostree, &format!("boot.{bootversion}"))? {
            Some(t) if t.ends_with(".1") => 1,
            _ => 0,
        };
        let sub = 1 - old_sub;
        write_link_farm(sysroot, bootversion, sub, &new)?;
        swap_link_farm(sysroot, bootversion, sub)?;
        let atomic = crate::bootloader::write_config(sysroot, bootversion, &entries, &new)
            .context(|| "Bootloader write config".to_owned())?;
        if sysroot.dir.symlink_metadata("boot/boot").is_err() {
            sysroot
                .dir
                .symlink(".", "boot/boot")
                .io("symlinkat", "boot/boot")?;
        }
        let loader_tmp = "boot/loader.tmp";
        remove_all(&sysroot.dir, loader_tmp)?;
        replace_symlink(&sysroot.dir, &format!("loader.{bootversion}"), loader_tmp)?;
        full_sync(sysroot)?;
        sysroot
            .dir
            .rename(loader_tmp, &sysroot.dir, "boot/loader")
            .io("renameat", "boot/loader")?;
        let boot = sysroot.dir.open_dir("boot").io("opendir", "boot")?;
        rustix::fs::fsync(crate::fsutil::readable(&boot, "boot")?).io("fsync", "boot")?;
        (bootversion, sub, atomic)
    };
    let count_change = all_after as i64 - all_before as i64;
    crate::init::touch_deploy_dir(&sysroot.ostree)?;
    sysroot
        .reload()
        .context(|| "Reloading deployments after commit".to_owned())?;
    let freed = match postclean {
        true => {
            progress.event(Event::Phase("cleaning up"));
            crate::cleanup::cleanup(sysroot, true)
                .context(|| "Performing final cleanup".to_owned())?
                .freed
        }
        false => 0,
    };
    Ok(WriteOutcome {
        bootconfig_swapped: !same_boot,
        bootversion,
        subbootversion,
        count_change,
        atomic,
        freed,
    })
}

/// Makes everything written so far durable before the switch-over.
fn full_sync(sysroot: &Sysroot) -> Result<()> {
    let sync = || -> Result<()> {
        crate::fsutil::sync_filesystems(&sysroot.dir)?;
        if sysroot.debug.test_fifreeze {
            // Upstream's freeze watchdog, made to fire for its tests.
            eprintln!("fifreeze watchdog was run");
            return Err(Error::Refused(
                "During fsfreeze-thaw: aborting due to test-fifreeze".into(),
            ));
        }
        Ok(())
    };
    sync().context(|| "Full sync".to_owned())
}

/// Whether two deployments boot alike: the same kernel files, overlay initrds, kernel
/// arguments but for `ostree=`, and commit version.
fn same_bootconfig(sysroot: &Sysroot, a: &Deployment, b: &Deployment) -> bool {
    let kargs = |d: &Deployment| {
        let mut k = KernelArgs::parse(d.bootconfig.get("options").unwrap_or_default());
        k.replace("ostree");
        k.to_string()
    };
    a.bootcsum == b.bootcsum
        && a.bootconfig.overlay_initrds() == b.bootconfig.overlay_initrds()
        && kargs(a) == kargs(b)
        && commit_version(sysroot, &a.checksum) == commit_version(sysroot, &b.checksum)
}

fn commit_version(sysroot: &Sysroot, commit: &Checksum) -> Option<String> {
    let commit = sysroot.repo.load_commit(commit).ok()?;
    commit.metadata.get_str("version").map(str::to_owned)
}

/// `ostree/boot.N.M/<stateroot>/<bootcsum>/<bootserial>` for every deployment.
fn write_link_farm(
    sysroot: &Sysroot,
    bootversion: u32,
    sub: u32,
    new: &[Deployment],
) -> Result<()> {
    let farm = format!("boot.{bootversion}.{sub}");
    remove_all(&sysroot.ostree, &farm)?;
    mkdir_p(&sysroot.ostree, &farm, 0o755)?;
    for d in new {
        let dir = format!("{farm}/{}/{}", d.stateroot, d.bootcsum);
        mkdir_p(&sysroot.ostree, &dir, 0o755)?;
        let target = format!("../../../deploy/{}/deploy/{}", d.stateroot, d.name());
        replace_symlink(&sysroot.ostree, &target, &format!("{dir}/{}", d.bootserial))?;
    }
    Ok(())
}

fn swap_link_farm(sysroot: &Sysroot, bootversion: u32, sub: u32) -> Result<()> {
    replace_symlink(
        &sysroot.ostree,
        &format!("boot.{bootversion}.{sub}"),
        &format!("boot.{bootversion}"),
    )
}

/// Copies the deployment's kernel files into `/boot/ostree/<stateroot>-<bootcsum>/` and
/// writes its entry into `boot/loader.N/entries`.
fn install_deployment_kernel(
    sysroot: &Sysroot,
    d: &mut Deployment,
    bootversion: u32,
    total: usize,
    show_stateroot: bool,
) -> Result<()> {
    let root = sysroot
        .ostree
        .open_dir(d.in_ostree())
        .io("opendir", d.path())?;
    let layout = crate::kernel::find_kernel_files(&root, sysroot.debug.no_dtb)?;
    let boot_name = format!("{}-{}", d.stateroot, d.bootcsum);
    let boot_dir_path = format!("boot/ostree/{boot_name}");
    mkdir_p(&sysroot.dir, &boot_dir_path, 0o775)?;
    let boot_dir = sysroot
        .dir
        .open_dir(&boot_dir_path)
        .io("opendir", &boot_dir_path)?;
    for file in [
        Some(&layout.kernel),
        layout.initramfs.as_ref(),
        layout.devicetree.as_ref(),
        layout.hmac.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if boot_dir.symlink_metadata(&file.name).is_ok() {
            continue;
        }
        crate::fsutil::link_or_copy(&root, &file.source, &boot_dir, &file.name)?;
    }
    if let Some(dtb) = &layout.dtb_dir {
        crate::fsutil::copy_tree_over(&root, dtb, &boot_dir, "dtb")?;
    }

    let os_release = ["usr/lib/os-release", "etc/os-release"]
        .into_iter()
        .find(|p| root.exists(p))
        .map(|p| {
            root.read_to_string(p)
                .io("openat", p)
                .context(|| format!("Reading /{p}"))
        })
        .transpose()?
        .unwrap_or_default();
    let fields = crate::osrelease::parse_os_release(&os_release);
    let name = fields
        .get("PRETTY_NAME")
        .or_else(|| fields.get("ID"))
        .ok_or_else(|| Error::Refused("No PRETTY_NAME or ID in /etc/os-release".into()))?;
    let mut title = name.clone();
    if let Some(version) = commit_version(sysroot, &d.checksum)
        && !version.is_empty()
        && !name.contains(&version)
    {
        title.push(' ');
        title.push_str(&version);
    }
    title.push_str(" (ostree");
    if show_stateroot {
        title.push(':');
        title.push_str(&d.stateroot);
    }
    title.push_str(&format!(":{})", d.index));

    let link = format!(
        "/ostree/boot.{bootversion}/{}/{}/{}",
        d.stateroot, d.bootcsum, d.bootserial
    );
    let file = entry_file_name(sysroot, total, d);
    let entry: &mut BootEntry = &mut d.bootconfig;
    entry.set("title", &title);
    entry.set("version", &(total - d.index).to_string());
    entry.set(
        "linux",
        &format!("/ostree/{boot_name}/{}", layout.kernel.name),
    );
    let mut kargs = KernelArgs::parse(entry.get("options").unwrap_or_default());
    match &layout.initramfs {
        Some(f) => entry.set("initrd", &format!("/ostree/{boot_name}/{}", f.name)),
        None => kargs.replace(&format!("init={link}/usr/lib/ostree/ostree-prepare-root")),
    }
    if let Some(f) = &layout.devicetree {
        entry.set("devicetree", &format!("/ostree/{boot_name}/{}", f.name));
    }
    if layout.dtb_dir.is_some() {
        entry.set("fdtdir", &format!("/ostree/{boot_name}/dtb"));
    }
    kargs.replace(&format!("ostree={link}"));
    entry.set("options", &kargs.to_string());
    if d.index != 0
        && let Some(extra) = sysroot
            .repo
            .config()
            .get_raw("sysroot", "bls-append-except-default")
    {
        for pair in extra.split(';').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Error::Refused(
                    "bls-append-except-default key must be of the form \"key1=value1;key2=value2...\""
                        .into(),
                )
            })?;
            entry.set(key, value);
        }
    }
    let entries_dir_path = format!("boot/loader.{bootversion}/entries");
    let entries_dir = sysroot
        .dir
        .open_dir(&entries_dir_path)
        .io("opendir", &entries_dir_path)?;
    replace_file(&entries_dir, &file, entry.to_text().as_bytes(), false)
}

/// The name of a deployment's entry among `total`: `ostree-<N>-<stateroot>.conf` (2022.7),
/// or `ostree-<N>.conf` with `bootloader-naming-2`; the default deployment has the highest N.
fn entry_file_name(sysroot: &Sysroot, total: usize, d: &Deployment) -> String {
    let n = total - d.index;
    match sysroot.debug.short_entry_names {
        true => format!("ostree-{n}.conf"),
        false => format!("ostree-{n}-{}.conf", d.stateroot),
    }
}

/// Writes a deployment's origin file durably (`admin pin`, `set-origin`), and tells readers
/// the deployments changed.
pub fn write_origin(
    sysroot: &mut Sysroot,
    deployment: &Deployment,
    origin: &rostree_core::keyfile::KeyFile,
) -> Result<()> {
    let data = origin.to_data();
    crate::deploy::write_beside(sysroot, deployment, ".origin", data.as_bytes(), true)?;
    crate::init::touch_deploy_dir(&sysroot.ostree)?;
    sysroot.reload()
}

/// Rewrites the `options` of a deployment's entry in the live loader, and nothing else
/// (`admin kargs edit-in-place`).
pub fn rewrite_entry_options(
    sysroot: &Sysroot,
    deployment: &Deployment,
    kargs: &KernelArgs,
) -> Result<()> {
    let entries_path = format!("boot/loader.{}/entries", sysroot.bootversion);
    let entries = sysroot
        .dir
        .open_dir(&entries_path)
        .io("opendir", &entries_path)?;
    let name = entry_file_name(sysroot, sysroot.deployments.len(), deployment);
    let mut entry = deployment.bootconfig.clone();
    entry.set("options", &kargs.to_string());
    replace_file(&entries, &name, entry.to_text().as_bytes(), false)
}
