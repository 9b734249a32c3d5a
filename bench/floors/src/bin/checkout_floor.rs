//! The least work a hardlink checkout from a bare repository must do: one mkdir per
//! directory (level by level, on every core) and one link per file (grouped by directory,
//! on every core), nothing else: no metadata, no object checks. Reads the commit's listing
//! as `rostree ls -R -C REV` prints it and opens the object directories (untimed), then
//! times the work into DEST.
//!
//! Usage: checkout_floor REPO LISTING DEST

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use rustix::fs::{AtFlags, CWD, Mode, OFlags, linkat, open, openat};

/// A file to link: the object directory (`objects/XX`), the object's name there, and the
/// file's name in its directory.
type Link = (usize, String, String);

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, repo, listing, dest] = &args[..] else {
        panic!("usage: checkout_floor REPO LISTING DEST");
    };
    let (repo, dest) = (PathBuf::from(repo), PathBuf::from(dest));
    let mut dirs: Vec<String> = Vec::new();
    let mut by_dir: BTreeMap<String, Vec<Link>> = BTreeMap::new();
    for line in std::fs::read_to_string(listing)?.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields[0].starts_with('d') {
            // d0MODE UID GID SIZE DIRTREE DIRMETA PATH
            dirs.push(fields[6].to_owned());
        } else {
            // -0MODE UID GID SIZE CHECKSUM PATH [-> TARGET]
            let (checksum, path) = (fields[4], fields[5]);
            let prefix = usize::from_str_radix(&checksum[..2], 16).expect("hex");
            let (parent, name) = path.rsplit_once('/').expect("an absolute path");
            by_dir.entry(parent.to_owned()).or_default().push((
                prefix,
                format!("{}.file", &checksum[2..]),
                name.to_owned(),
            ));
        }
    }
    let objects: Vec<_> = (0..256)
        .map(|i| {
            open(
                repo.join(format!("objects/{i:02x}")),
                OFlags::DIRECTORY | OFlags::PATH,
                Mode::empty(),
            )
        })
        .collect::<Result<_, _>>()?;
    let groups: Vec<(String, Vec<Link>)> = by_dir.into_iter().collect();
    let links: usize = groups.iter().map(|(_, l)| l.len()).sum();
    let depth = |d: &String| d.matches('/').count();
    let deepest = dirs.iter().map(depth).max().unwrap_or(0);

    let started = Instant::now();
    std::fs::DirBuilder::new().mode(0o755).create(&dest)?;
    for level in 1..=deepest {
        dirs.par_iter()
            .filter(|d| d.as_str() != "/" && depth(d) == level)
            .try_for_each(|d| {
                std::fs::DirBuilder::new()
                    .mode(0o755)
                    .create(dest.join(&d[1..]))
            })?;
    }
    let mkdirs = started.elapsed();
    groups
        .par_iter()
        .try_for_each(|(parent, items)| -> std::io::Result<()> {
            let dir = openat(
                CWD,
                dest.join(parent.trim_start_matches('/')),
                OFlags::DIRECTORY | OFlags::PATH,
                Mode::empty(),
            )?;
            for (prefix, object, name) in items {
                linkat(
                    &objects[*prefix],
                    object.as_str(),
                    &dir,
                    name.as_str(),
                    AtFlags::empty(),
                )?;
            }
            Ok(())
        })?;
    println!(
        "{} directories in {:.1} ms, then {links} links: {:.1} ms in all",
        dirs.len(),
        mkdirs.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
