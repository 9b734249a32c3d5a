//! `ostree ls`: list paths in a commit.

use std::io::Write;

use anyhow::Result;
use rostree::core::gvariant::print_text;
use rostree::core::object::{DirTree, Xattrs};
use rostree::{Checksum, Repo};

use super::tree::{Entry, load_dirtree, lookup};
use crate::{GlobalOptions, json, util};

/// Arguments of `ls`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] COMMIT [PATH...]")]
pub struct Args {
    /// Do not list directory contents
    #[arg(short = 'd', long = "dironly")]
    dironly: bool,
    /// Print directories recursively
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Print checksums
    #[arg(short = 'C', long = "checksum")]
    checksum: bool,
    /// Print extended attributes
    #[arg(short = 'X', long = "xattrs")]
    xattrs: bool,
    /// Print only filenames, NUL separated
    #[arg(long = "nul-filenames-only")]
    nul_filenames_only: bool,
    /// Print the entries as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// The ref or commit
    rev: String,
    /// Paths to list (default /)
    paths: Vec<String>,
}

struct Lister<'a> {
    repo: &'a Repo,
    args: &'a Args,
    out: Vec<u8>,
    /// The entries, for `--json`.
    entries: Vec<serde_json::Value>,
}

impl Lister<'_> {
    fn print(&mut self, path: &str, entry: &Entry) -> Result<()> {
        if self.args.nul_filenames_only {
            self.out.extend_from_slice(path.as_bytes());
            self.out.push(0);
            return Ok(());
        }
        let (kind, mode, uid, gid, size, xattrs, target, sums) = match entry {
            Entry::Dir(tree, meta) => {
                // A directory whose listing is missing is an error even with -d, as upstream.
                if !self.repo.has_object(rostree::ObjectType::DirTree, tree)? {
                    return Err(rostree::Error::MissingObject {
                        objtype: rostree::ObjectType::DirTree,
                        checksum: *tree,
                    }
                    .into());
                }
                let m = self.repo.load_dirmeta(meta)?;
                (
                    'd',
                    m.mode,
                    m.uid,
                    m.gid,
                    0,
                    m.xattrs,
                    None,
                    format!("{tree} {meta}"),
                )
            }
            Entry::File(c) => {
                let (h, size) = self.repo.file_info(c)?;
                let (kind, target) = if h.is_symlink() {
                    ('l', Some(h.symlink_target.clone()))
                } else {
                    ('-', None)
                };
                (
                    kind,
                    h.mode,
                    h.uid,
                    h.gid,
                    size,
                    h.xattrs,
                    target,
                    c.to_string(),
                )
            }
        };
        if self.args.json {
            let (kind_name, checksums) = match entry {
                Entry::Dir(tree, meta) => (
                    "directory",
                    serde_json::json!({ "checksum": null, "dirtree": tree.to_hex(), "dirmeta": meta.to_hex() }),
                ),
                Entry::File(c) => (
                    if kind == 'l' { "symlink" } else { "file" },
                    serde_json::json!({ "checksum": c.to_hex(), "dirtree": null, "dirmeta": null }),
                ),
            };
            let mut item = serde_json::json!({
                "path": path,
                "type": kind_name,
                "mode": mode & 0o7777,
                "uid": uid,
                "gid": gid,
                "size": size,
                "symlink_target": target,
                "xattrs": if self.args.xattrs { json::xattrs(&xattrs) } else { serde_json::Value::Null },
            });
            if let (Some(item), serde_json::Value::Object(sums)) = (item.as_object_mut(), checksums)
            {
                item.extend(sums);
            }
            self.entries.push(item);
            return Ok(());
        }
        write!(
            self.out,
            "{kind}0{:04o} {uid} {gid} {size:6} ",
            mode & 0o7777
        )?;
        if self.args.checksum {
            write!(self.out, "{sums} ")?;
        }
        if self.args.xattrs {
            write!(
                self.out,
                "{{ {} }} ",
                print_text(&Xattrs::to_value(&xattrs), true)
            )?;
        }
        match target {
            Some(t) => writeln!(self.out, "{path} -> {t}")?,
            None => writeln!(self.out, "{path}")?,
        }
        Ok(())
    }

    fn list_dir(&mut self, path: &str, tree: &Checksum) -> Result<()> {
        if path.matches('/').count() > rostree::core::object::MAX_TREE_DEPTH {
            anyhow::bail!("Directories nested too deeply at {path}");
        }
        let DirTree { files, dirs } = load_dirtree(self.repo, tree)?;
        let join = |name: &str| {
            if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            }
        };
        for (name, c) in &files {
            self.print(&join(name), &Entry::File(*c))?;
        }
        for (name, t, m) in &dirs {
            let child = join(name);
            self.print(&child, &Entry::Dir(*t, *m))?;
            if self.args.recursive {
                self.list_dir(&child, t)?;
            }
        }
        Ok(())
    }
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let (checksum, commit) = util::resolve_commit(&repo, &args.rev)?;
    let paths = if args.paths.is_empty() {
        vec!["/".to_owned()]
    } else {
        args.paths.clone()
    };
    let mut lister = Lister {
        repo: &repo,
        args: &args,
        out: Vec::new(),
        entries: Vec::new(),
    };
    for path in &paths {
        // Upstream shows a path given without its leading `/` as rooted.
        let given = path;
        let rooted = if path.starts_with('/') {
            path.clone()
        } else {
            format!("/{path}")
        };
        let path = &rooted;
        let entry = lookup(&repo, (commit.root_tree, commit.root_meta), path)
            .map_err(|e| anyhow::anyhow!("Inspecting path '{given}': {e}"))?;
        lister.print(path, &entry)?;
        if let Entry::Dir(tree, _) = entry
            && !args.dironly
        {
            lister.list_dir(path, &tree)?;
        }
    }
    if args.json {
        json::print(&serde_json::json!({
            "commit": checksum.to_hex(),
            "entries": lister.entries,
        }))?;
    } else {
        util::write_stdout(&lister.out)?;
    }
    Ok(0)
}
