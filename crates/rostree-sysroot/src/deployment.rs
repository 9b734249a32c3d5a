//! One deployment: a checkout of a commit under a stateroot, with its boot entry.

use std::path::PathBuf;

use rostree_core::Checksum;
use rostree_core::keyfile::KeyFile;

use crate::bls::BootEntry;

/// A deployment as the sysroot lists it (the loader's entries name them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// Its position in the sysroot's list: 0 is the default boot.
    pub index: usize,
    /// The stateroot ("osname") it belongs to.
    pub stateroot: String,
    /// The commit checked out.
    pub checksum: Checksum,
    /// Tells apart deployments of the same commit (`<csum>.<serial>`).
    pub serial: u32,
    /// The checksum of its kernel, initramfs and devicetree.
    pub bootcsum: Checksum,
    /// Tells apart deployments of the same bootcsum in the link farm.
    pub bootserial: u32,
    /// Its boot loader entry (`options` holds the kernel arguments).
    pub bootconfig: BootEntry,
    /// Its origin file, when it has one.
    pub origin: Option<KeyFile>,
    /// Staged: made, and to be finalized into the loader at shutdown (no entry yet).
    pub staged: bool,
}

impl Deployment {
    /// `<csum>.<serial>`, the name of its directory.
    pub fn name(&self) -> String {
        format!("{}.{}", self.checksum, self.serial)
    }

    /// Its directory, relative to the sysroot.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "ostree/deploy/{}/deploy/{}",
            self.stateroot,
            self.name()
        ))
    }

    /// Its directory, relative to the sysroot's `ostree/`.
    pub(crate) fn in_ostree(&self) -> PathBuf {
        PathBuf::from(format!("deploy/{}/deploy/{}", self.stateroot, self.name()))
    }

    /// Its origin file, relative to the sysroot's `ostree/`.
    pub(crate) fn origin_in_ostree(&self) -> PathBuf {
        PathBuf::from(format!(
            "deploy/{}/deploy/{}.origin",
            self.stateroot,
            self.name()
        ))
    }

    /// Its origin file, relative to the sysroot.
    pub fn origin_path(&self) -> PathBuf {
        PathBuf::from(format!(
            "ostree/deploy/{}/deploy/{}.origin",
            self.stateroot,
            self.name()
        ))
    }

    /// The same deployment: stateroot, commit and serial.
    pub fn same_as(&self, other: &Deployment) -> bool {
        self.stateroot == other.stateroot
            && self.checksum == other.checksum
            && self.serial == other.serial
    }

    /// Whether `admin pin` marked it.
    pub fn is_pinned(&self) -> bool {
        self.origin.as_ref().is_some_and(crate::origin::is_pinned)
    }
}

/// Parses a deployment directory's name, `<csum>.<serial>`.
pub(crate) fn parse_deploy_name(name: &str) -> Option<(Checksum, u32)> {
    let (csum, serial) = name.split_once('.')?;
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Checksum::from_hex(csum).ok()?, serial.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_names_parse_as_upstream_reads_them() {
        let c = "7bd091ad6955c0e7ef41bab65adb016275664b55efc0d10a0c8cb263da3c1e4e";
        for (name, ok) in [
            (format!("{c}.0"), Some(0)),
            (format!("{c}.12"), Some(12)),
            (format!("{c}."), None),
            (format!("{c}.x"), None),
            (format!("{c}.0.origin"), None),
            (c.to_owned(), None),
            ("garbage".to_owned(), None),
        ] {
            assert_eq!(parse_deploy_name(&name).map(|(_, s)| s), ok, "{name}");
        }
    }
}
