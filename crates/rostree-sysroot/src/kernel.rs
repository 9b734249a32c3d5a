//! Finding a deployment's kernel, initramfs and devicetree, and their boot checksum.
//!
//! Two layouts, as upstream looks for them:
//!
//! ```text
//! usr/lib/modules/<kver>/vmlinuz             the modules layout (preferred): bootcsum is
//!                      /initramfs.img         the sha256 of the kernel, initramfs and
//!                      /devicetree or dtb/    devicetree bytes, in that order
//!                      /.vmlinuz.hmac
//! usr/lib/ostree-boot/ or boot/              the legacy layout: the bootcsum is in the
//!     vmlinuz[-<kver>]-<bootcsum>            file names
//!     initramfs[-<kver>.img]-<bootcsum>
//!     devicetree[-<kver>]-<bootcsum>
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use rostree_core::Checksum;
use rostree_core::checksum::Hasher;

use crate::error::{Error, IoContext, Result};

/// One file to install into `/boot/ostree/<stateroot>-<bootcsum>/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootFile {
    /// Where it is in the deployment.
    pub source: PathBuf,
    /// Its name in the boot directory.
    pub name: String,
}

/// A deployment's boot files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    /// The kernel.
    pub kernel: BootFile,
    /// The initramfs, if any.
    pub initramfs: Option<BootFile>,
    /// A single devicetree file, if any.
    pub devicetree: Option<BootFile>,
    /// A directory of devicetrees (`dtb/`), copied whole as `dtb`.
    pub dtb_dir: Option<PathBuf>,
    /// The kernel's HMAC file (FIPS), if any.
    pub hmac: Option<BootFile>,
    /// The checksum naming the boot directory.
    pub bootcsum: Checksum,
}

/// Finds the boot files in the deployment `root`. `no_dtb` skips devicetrees (the
/// `no-dtb` debug switch).
pub fn find_kernel(root: &Dir, no_dtb: bool) -> Result<KernelLayout> {
    find(root, no_dtb, true)
}

/// As [`find_kernel`] but for the bootcsum of a modules layout, which is left zero: for
/// a deployment whose bootcsum is recorded already (its files are re-found at every loader
/// write, and hashing a 40 MiB kernel and initramfs each time would be waste).
pub(crate) fn find_kernel_files(root: &Dir, no_dtb: bool) -> Result<KernelLayout> {
    find(root, no_dtb, false)
}

fn find(root: &Dir, no_dtb: bool, hash: bool) -> Result<KernelLayout> {
    let modules = find_modules_layout(root, no_dtb, hash)?;
    let legacy = find_legacy_layout(root)?;
    match (modules, legacy) {
        (None, None) => Err(Error::Refused(
            "Failed to find kernel in /usr/lib/modules, /usr/lib/ostree-boot or /boot".into(),
        )),
        (Some(m), None) => Ok(m),
        // A legacy layout with an initramfs wins over modules without one.
        (Some(m), Some(l)) if m.initramfs.is_none() && l.initramfs.is_some() => Ok(l),
        (Some(m), Some(_)) => Ok(m),
        (None, Some(l)) => Ok(l),
    }
}

fn is_file(root: &Dir, path: &Path) -> bool {
    root.metadata(path).is_ok_and(|m| m.is_file())
}

fn find_modules_layout(root: &Dir, no_dtb: bool, hash: bool) -> Result<Option<KernelLayout>> {
    let modules = Path::new("usr/lib/modules");
    let dir = match root.open_dir(modules) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).io("opendir", modules),
    };
    let mut kvers: Vec<String> = Vec::new();
    for entry in dir.entries().io("readdir", modules)? {
        let entry = entry.io("readdir", modules)?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            kvers.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    kvers.sort();
    let Some(kver) = kvers
        .into_iter()
        .find(|k| is_file(root, &modules.join(k).join("vmlinuz")))
    else {
        return Ok(None);
    };
    let base = modules.join(&kver);
    let kernel = BootFile {
        source: base.join("vmlinuz"),
        name: format!("vmlinuz-{kver}"),
    };
    let initramfs = ["initramfs.img", "initramfs"]
        .iter()
        .map(|n| base.join(n))
        .find(|p| is_file(root, p))
        .map(|source| BootFile {
            source,
            name: format!("initramfs-{kver}.img"),
        });
    let (mut devicetree, mut dtb_dir) = (None, None);
    if !no_dtb {
        if is_file(root, &base.join("devicetree")) {
            devicetree = Some(BootFile {
                source: base.join("devicetree"),
                name: format!("devicetree-{kver}"),
            });
        } else if root.metadata(base.join("dtb")).is_ok_and(|m| m.is_dir()) {
            dtb_dir = Some(base.join("dtb"));
        }
    }
    let hmac = is_file(root, &base.join(".vmlinuz.hmac")).then(|| BootFile {
        source: base.join(".vmlinuz.hmac"),
        name: format!(".vmlinuz-{kver}.hmac"),
    });
    let mut hasher = Hasher::new();
    if hash {
        hash_file(root, &kernel.source, &mut hasher)?;
        if let Some(f) = &initramfs {
            hash_file(root, &f.source, &mut hasher)?;
        }
        if let Some(f) = &devicetree {
            hash_file(root, &f.source, &mut hasher)?;
        }
        if let Some(d) = &dtb_dir {
            hash_tree(root, d, &mut hasher)?;
        }
    }
    let bootcsum = match hash {
        true => hasher.finish(),
        false => Checksum::from_array([0; 32]),
    };
    Ok(Some(KernelLayout {
        kernel,
        initramfs,
        devicetree,
        dtb_dir,
        hmac,
        bootcsum,
    }))
}

fn hash_file(root: &Dir, path: &Path, hasher: &mut Hasher) -> Result<()> {
    let mut file = root.open(path).io("openat", path)?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buf).io("read", path)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}

/// Hashes every file under `dir`, names in byte order, directories recursed into; names
/// and metadata are not hashed, as upstream.
fn hash_tree(root: &Dir, dir: &Path, hasher: &mut Hasher) -> Result<()> {
    let handle = root.open_dir(dir).io("opendir", dir)?;
    let mut names: Vec<(std::ffi::OsString, bool)> = Vec::new();
    for entry in handle.entries().io("readdir", dir)? {
        let entry = entry.io("readdir", dir)?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        names.push((entry.file_name(), is_dir));
    }
    names.sort();
    for (name, is_dir) in names {
        let path = dir.join(&name);
        if is_dir {
            hash_tree(root, &path, hasher)?;
            continue;
        }
        match root.open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).io("openat", &path),
            Ok(_) => hash_file(root, &path, hasher)?,
        }
    }
    Ok(())
}

/// `NAME-<sha256>` split into `NAME` and the checksum.
fn split_checksum_suffix(name: &str) -> Option<(&str, Checksum)> {
    let (stem, hex) = name.rsplit_once('-')?;
    Some((stem, Checksum::from_hex(hex).ok()?))
}

fn find_legacy_layout(root: &Dir) -> Result<Option<KernelLayout>> {
    let Some(base) = ["usr/lib/ostree-boot", "boot"]
        .into_iter()
        .map(Path::new)
        .find(|p| root.metadata(p).is_ok_and(|m| m.is_dir()))
    else {
        return Ok(None);
    };
    let dir = root.open_dir(base).io("opendir", base)?;
    let mut names: Vec<String> = Vec::new();
    for entry in dir.entries().io("readdir", base)? {
        let entry = entry.io("readdir", base)?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let mut kernel = None;
    let mut initramfs = None;
    let mut devicetree = None;
    for name in &names {
        let Some((stem, csum)) = split_checksum_suffix(name) else {
            continue;
        };
        let file = BootFile {
            source: base.join(name),
            name: stem.to_owned(),
        };
        if name.starts_with("vmlinuz-") && kernel.is_none() {
            kernel = Some((file, csum));
        } else if name.starts_with("initramfs-") && initramfs.is_none() {
            initramfs = Some((file, csum));
        } else if name.starts_with("devicetree-") && devicetree.is_none() {
            devicetree = Some((file, csum));
        }
    }
    let Some((kernel, bootcsum)) = kernel else {
        return Ok(None);
    };
    if initramfs.as_ref().is_some_and(|(_, c)| *c != bootcsum) {
        return Err(Error::Refused(
            "Mismatched kernel checksum vs initrd".into(),
        ));
    }
    if devicetree.as_ref().is_some_and(|(_, c)| *c != bootcsum) {
        return Err(Error::Refused(
            "Mismatched kernel checksum vs device tree in tree".into(),
        ));
    }
    Ok(Some(KernelLayout {
        kernel,
        initramfs: initramfs.map(|(f, _)| f),
        devicetree: devicetree.map(|(f, _)| f),
        dtb_dir: None,
        hmac: None,
        bootcsum,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (path, data) in files {
            let p = tmp.path().join(path);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            std::fs::write(p, data).expect("write");
        }
        let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).expect("open");
        (tmp, dir)
    }

    fn sha(parts: &[&str]) -> Checksum {
        let mut h = Hasher::new();
        for p in parts {
            h.update(p.as_bytes());
        }
        h.finish()
    }

    #[test]
    fn the_modules_layout_hashes_kernel_initramfs_and_devicetrees() {
        // libtest's tree: the bootcsum upstream computes for it.
        let (_t, root) = tree(&[
            ("usr/lib/modules/3.6.0/vmlinuz", "a kernel\n"),
            ("usr/lib/modules/3.6.0/initramfs.img", "an initramfs\n"),
            ("usr/lib/modules/3.6.0/.vmlinuz.hmac", "an hmac file\n"),
        ]);
        let layout = find_kernel(&root, false).expect("found");
        assert_eq!(
            layout.bootcsum.to_hex(),
            "7bd091ad6955c0e7ef41bab65adb016275664b55efc0d10a0c8cb263da3c1e4e"
        );
        assert_eq!(layout.kernel.name, "vmlinuz-3.6.0");
        assert_eq!(
            layout.initramfs.map(|f| f.name),
            Some("initramfs-3.6.0.img".into())
        );
        assert_eq!(
            layout.hmac.map(|f| f.name),
            Some(".vmlinuz-3.6.0.hmac".into())
        );

        let (_t, root) = tree(&[
            ("usr/lib/modules/5.0/vmlinuz", "k"),
            ("usr/lib/modules/5.0/initramfs.img", "i"),
            ("usr/lib/modules/5.0/dtb/overlays/overlay.dtbo", "o"),
            ("usr/lib/modules/5.0/dtb/asoc-board.dtb", "b"),
        ]);
        let layout = find_kernel(&root, false).expect("found");
        assert_eq!(layout.bootcsum, sha(&["k", "i", "b", "o"]));
        assert!(layout.dtb_dir.is_some());
        let layout = find_kernel(&root, true).expect("found");
        assert_eq!(layout.bootcsum, sha(&["k", "i"]));

        let (_t, root) = tree(&[
            ("usr/lib/modules/5.0/vmlinuz", "k"),
            ("usr/lib/modules/5.0/devicetree", "d"),
        ]);
        let layout = find_kernel(&root, false).expect("found");
        assert_eq!(layout.bootcsum, sha(&["k", "d"]));
        assert_eq!(
            layout.devicetree.map(|f| f.name),
            Some("devicetree-5.0".into())
        );
        assert_eq!(layout.initramfs, None);
    }

    #[test]
    fn legacy_layouts_take_the_checksum_from_the_names() {
        let c = sha(&["x"]).to_hex();
        let kernel = format!("boot/vmlinuz-3.6.0-{c}");
        let initramfs = format!("boot/initramfs-3.6.0.img-{c}");
        let (_t, root) = tree(&[(&kernel, "k"), (&initramfs, "i")]);
        let layout = find_kernel(&root, false).expect("found");
        assert_eq!(layout.bootcsum.to_hex(), c);
        assert_eq!(layout.kernel.name, "vmlinuz-3.6.0");
        assert_eq!(
            layout.initramfs.map(|f| f.name),
            Some("initramfs-3.6.0.img".into())
        );

        let other = sha(&["y"]).to_hex();
        let kernel = format!("usr/lib/ostree-boot/vmlinuz-{c}");
        let initramfs = format!("usr/lib/ostree-boot/initramfs-{other}");
        let (_t, root) = tree(&[(&kernel, "k"), (&initramfs, "i")]);
        let err = find_kernel(&root, false).expect_err("mismatch");
        assert_eq!(err.to_string(), "Mismatched kernel checksum vs initrd");

        // Modules without an initramfs give way to a legacy layout with one.
        let kernel = format!("usr/lib/ostree-boot/vmlinuz-{c}");
        let initramfs = format!("usr/lib/ostree-boot/initramfs-{c}");
        let (_t, root) = tree(&[
            ("usr/lib/modules/3.6.0/vmlinuz", "m"),
            (&kernel, "k"),
            (&initramfs, "i"),
        ]);
        assert_eq!(
            find_kernel(&root, false).expect("found").kernel.name,
            "vmlinuz"
        );

        let (_t, root) = tree(&[("usr/bin/sh", "")]);
        let err = find_kernel(&root, false).expect_err("no kernel");
        assert_eq!(
            err.to_string(),
            "Failed to find kernel in /usr/lib/modules, /usr/lib/ostree-boot or /boot"
        );
    }
}
