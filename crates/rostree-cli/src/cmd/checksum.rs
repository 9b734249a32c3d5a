//! `ostree checksum`: the object checksum of a file or directory on disk.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rostree::core::object::{DirMeta, FileHeader, Xattrs, content_checksum};

/// Arguments of `checksum`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] PATH")]
pub struct Args {
    /// Don't include xattrs in checksum
    #[arg(long = "ignore-xattrs")]
    ignore_xattrs: bool,
    /// Files or directories to checksum
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn xattrs_of(path: &std::path::Path, ignore: bool) -> Result<Xattrs> {
    if ignore {
        return Ok(Xattrs::new());
    }
    rostree::repo::read_path_xattrs(path)
        .with_context(|| format!("reading xattrs of {}", path.display()))
}

pub fn run(args: Args) -> Result<i32> {
    // Upstream only checksums the first path it is given.
    let path = &args.paths[0];
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("stat {}", path.display()))?;
    let xattrs = xattrs_of(path, args.ignore_xattrs)?;
    let checksum = if meta.is_dir() {
        DirMeta {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode(),
            xattrs,
        }
        .checksum()
    } else {
        let (target, payload) = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path)?;
            (target.to_string_lossy().into_owned(), Vec::new())
        } else if meta.is_file() {
            let data =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            (String::new(), data)
        } else {
            // Fifos and device nodes hash as a header alone (rdev unrecorded), as upstream does.
            (String::new(), Vec::new())
        };
        let header = FileHeader {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode(),
            rdev: 0,
            symlink_target: target,
            xattrs,
        };
        content_checksum(&header, &payload)
    };
    crate::util::write_stdout(format!("{checksum}\n").as_bytes())?;
    Ok(0)
}
