//! rostree's report of an `/etc` merge, which upstream does not write: what was carried
//! over from the machine's `/etc`, and what the new defaults no longer have. It sits beside
//! the deployment's origin file, one line per path:
//!
//! ```text
//! ostree/deploy/<stateroot>/deploy/<csum>.<serial>.etc-merge
//!     modified PATH    a local change carried over
//!     removed PATH     a local removal carried over
//!     added PATH       a local addition carried over
//!     dropped PATH     an unchanged default the new tree no longer ships: gone
//!     orphaned PATH    a local change kept though the new tree no longer ships its default
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use crate::error::{IoContext, Result};
use crate::etc_merge::{EtcChanges, sorted_names};

/// The suffix of a report's file name, after the deployment's `<csum>.<serial>`.
pub const REPORT_SUFFIX: &str = ".etc-merge";

/// What an `/etc` merge did and what it lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// The local changes carried over.
    pub carried: EtcChanges,
    /// Unchanged defaults of the old tree that the new one does not ship (topmost only).
    pub dropped: Vec<PathBuf>,
    /// Local changes kept whose default the new tree does not ship.
    pub orphaned: Vec<PathBuf>,
}

impl MergeReport {
    /// Compares the old defaults with the new ones (`None`: the new tree has no `usr/etc`).
    pub(crate) fn new(
        carried: EtcChanges,
        old_defaults: &Dir,
        new_defaults: Option<&Dir>,
    ) -> Result<MergeReport> {
        let shipped = |path: &Path| new_defaults.is_some_and(|d| d.symlink_metadata(path).is_ok());
        let touched: HashSet<&PathBuf> = carried.modified.iter().chain(&carried.removed).collect();
        let mut dropped = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(dir_path) = stack.pop() {
            let dir = match dir_path.as_os_str().is_empty() {
                true => old_defaults.try_clone().io("dup", "usr/etc")?,
                false => old_defaults.open_dir(&dir_path).io("opendir", &dir_path)?,
            };
            for name in sorted_names(&dir, &dir_path)? {
                let path = dir_path.join(&name);
                if touched.contains(&path) {
                    continue;
                }
                if !shipped(&path) {
                    dropped.push(path);
                } else if dir.symlink_metadata(&name).is_ok_and(|m| m.is_dir()) {
                    stack.push(path);
                }
            }
        }
        dropped.sort();
        let orphaned = carried
            .modified
            .iter()
            .filter(|p| !shipped(p))
            .cloned()
            .collect();
        Ok(MergeReport {
            carried,
            dropped,
            orphaned,
        })
    }

    /// The report's text, as its file holds it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (kind, paths) in [
            ("modified", &self.carried.modified),
            ("removed", &self.carried.removed),
            ("added", &self.carried.added),
            ("dropped", &self.dropped),
            ("orphaned", &self.orphaned),
        ] {
            for path in paths {
                out.push_str(&format!("{kind} {}\n", path.display()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    #[test]
    fn dropped_defaults_and_orphaned_changes_are_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = tmp.path();
        for (path, data) in [
            ("old/gone", "x"),
            ("old/gonedir/f", "x"),
            ("old/kept", "x"),
            ("old/edited-gone", "x"),
            ("old/sub/stays", "x"),
            ("old/sub/leaves", "x"),
            ("new/kept", "x"),
            ("new/sub/stays", "x"),
        ] {
            let p = t.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, data).expect("write");
        }
        let open = |p: &str| Dir::open_ambient_dir(t.join(p), ambient_authority()).expect("open");
        let carried = EtcChanges {
            modified: vec![PathBuf::from("edited-gone")],
            removed: vec![],
            added: vec![PathBuf::from("mine")],
        };
        let report = MergeReport::new(carried, &open("old"), Some(&open("new"))).expect("report");
        assert_eq!(
            report.to_text(),
            "modified edited-gone\nadded mine\ndropped gone\ndropped gonedir\n\
             dropped sub/leaves\norphaned edited-gone\n"
        );
    }
}
