//! `ostree create-usb`: copy collection–refs onto a removable drive, in an archive repo
//! that `find-remotes`' mount finder (and upstream's) looks for.
//!
//! ```text
//! MOUNT-PATH/.ostree/repo              the default destination (or ostree/repo)
//! MOUNT-PATH/DEST                      --destination-repo=DEST elsewhere, then also
//! MOUNT-PATH/.ostree/repos.d/NN-generated -> ../../DEST
//! ```

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rostree::core::object::Metadata;
use rostree::repo::pull_local::{PullLocalOptions, pull_local};
use rostree::repo::{InitOptions, Repo, RepoMode};

use crate::{GlobalOptions, util};

/// Arguments of `create-usb`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] MOUNT-PATH COLLECTION-ID REF [COLLECTION-ID REF...]")]
pub struct Args {
    /// Do not invoke fsync()
    #[arg(long = "disable-fsync")]
    disable_fsync: bool,
    /// Use custom repository directory within the mount
    #[arg(long = "destination-repo", value_name = "DEST")]
    destination_repo: Option<String>,
    /// Pull a specific commit (only works when a single ref is specified)
    #[arg(long, value_name = "COMMIT")]
    commit: Option<String>,
    /// The mount, then collection IDs and refs in pairs
    args: Vec<String>,
}

/// The destinations the mount finder looks in without a `repos.d` link.
const WELL_KNOWN: [&str; 2] = ["ostree/repo", ".ostree/repo"];

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let source = global.open_repo()?;
    let Some((mount, pairs)) = args.args.split_first() else {
        return Err(util::usage_error("A MOUNT-PATH must be specified"));
    };
    let refs = crate::cmd::find_remotes::collection_refs(pairs)?;
    if args.commit.is_some() && refs.len() > 1 {
        return Err(util::usage_error(
            "The --commit option can only be used when a single COLLECTION-ID REF pair is \
             specified",
        ));
    }
    let mount_path = Path::new(mount);
    let mount_meta = std::fs::metadata(mount_path)
        .map_err(|e| anyhow::anyhow!("opendir({mount}): {}", rostree::repo::os_error_text(&e)))?;
    if !mount_meta.is_dir() {
        bail!("opendir({mount}): Not a directory");
    }
    // What to copy, resolved in the source before anything is written.
    let mut resolved = Vec::new();
    let listed = rostree::repo::collections::list_collection_refs(&source)?;
    for r in &refs {
        let commit = match &args.commit {
            Some(rev) => source.resolve_rev(rev)?,
            None => listed
                .iter()
                .find(|l| l.collection_id == r.collection_id && l.name == r.ref_name)
                .map(|l| l.commit)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "Refspec \u{2018}({}, {})\u{2019} not found in the source repository",
                        r.collection_id,
                        r.ref_name
                    )
                })?,
        };
        resolved.push((r, commit));
    }
    let dest_rel = args
        .destination_repo
        .clone()
        .unwrap_or_else(|| ".ostree/repo".to_owned());
    let dest_path = mount_path.join(&dest_rel);
    std::fs::create_dir_all(&dest_path)
        .with_context(|| format!("creating {}", dest_path.display()))?;
    let dest_meta = std::fs::metadata(&dest_path)?;
    if dest_meta.dev() != mount_meta.dev() {
        return Err(util::usage_error(
            "--destination-repo must be a descendent of MOUNT-PATH",
        ));
    }
    let source_meta = std::fs::metadata(source.path())?;
    if (source_meta.dev(), source_meta.ino()) == (dest_meta.dev(), dest_meta.ino()) {
        return Err(util::usage_error(
            "--destination-repo must not be the source repository",
        ));
    }
    // Archive mode: it suits FAT drives (no xattrs, no ownership) and compresses.
    let dir = cap_std::fs::Dir::open_ambient_dir(&dest_path, cap_std::ambient_authority())
        .with_context(|| format!("opening {}", dest_path.display()))?;
    let init = InitOptions {
        mode: RepoMode::Archive,
        ..InitOptions::default()
    };
    let mut dest = Repo::init(dir, dest_path.clone(), &init)?;
    if args.disable_fsync {
        dest.disable_fsync();
    }
    let interrupt = crate::progress::interrupt_flag();
    let progress = crate::progress::CountProgress::new();
    // One copy per collection: each lands in its `refs/mirrors/COLLECTION/`.
    let mut collections: Vec<&str> = resolved
        .iter()
        .map(|(r, _)| r.collection_id.as_str())
        .collect();
    collections.dedup();
    for id in collections {
        let batch: Vec<(String, rostree::Checksum)> = resolved
            .iter()
            .filter(|(r, _)| r.collection_id == id)
            .map(|(r, c)| (r.ref_name.clone(), *c))
            .collect();
        let options = PullLocalOptions {
            mirror_collection: Some(id.to_owned()),
            ..PullLocalOptions::default()
        };
        pull_local(&dest, &source, &batch, &progress, &interrupt, &options)?;
    }
    // A summary, so that finders can learn the commits without reading refs.
    rostree::repo::summary::update_summary(&mut dest, &Metadata::new())?;
    if !WELL_KNOWN.contains(&dest_rel.as_str()) {
        link_from_repos_d(mount_path, &dest_rel, &dest_meta)?;
    }
    let source_path = std::path::absolute(source.path()).unwrap_or_else(|_| source.path().into());
    util::write_stdout(
        format!(
            "Copied {n}/{n} refs successfully from \u{2018}{}\u{2019} to \u{2018}{dest_rel}\u{2019} \
             repository in \u{2018}{mount}\u{2019}.\n",
            source_path.display(),
            n = refs.len(),
        )
        .as_bytes(),
    )?;
    Ok(0)
}

/// Makes `.ostree/repos.d/NN-generated` point at the destination, unless an entry there
/// already leads to it.
fn link_from_repos_d(mount: &Path, dest_rel: &str, dest: &std::fs::Metadata) -> Result<()> {
    let repos_d = mount.join(".ostree/repos.d");
    std::fs::create_dir_all(&repos_d).with_context(|| format!("creating {}", repos_d.display()))?;
    for entry in std::fs::read_dir(&repos_d)? {
        let target = std::fs::metadata(entry?.path());
        if target.is_ok_and(|m| (m.dev(), m.ino()) == (dest.dev(), dest.ino())) {
            return Ok(());
        }
    }
    let target: PathBuf = Path::new("../..").join(dest_rel);
    for i in 0..100 {
        let link = repos_d.join(format!("{i:02}-generated"));
        match std::os::unix::fs::symlink(&target, &link) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "symlinkat({} \u{2192} {})",
                        link.display(),
                        target.display()
                    )
                });
            }
        }
    }
    bail!("Could not find an unused symlink name for the repository")
}
