//! `ostree admin status`: the deployments, the default first.

use std::fmt::Write as _;

use anyhow::Result;
use rostree::sysroot::origin;

use super::SysrootPath;
use crate::util;

/// Arguments of `admin status`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `admin status`.
pub fn run(_args: Args, paths: &SysrootPath) -> Result<i32> {
    let sysroot = paths.load()?;
    let mut out = String::new();
    if sysroot.deployments().is_empty() {
        out.push_str("No deployments.\n");
    }
    let booted = sysroot.booted_deployment().map(|b| b.index);
    for d in sysroot.deployments() {
        let (pending, rollback) = sysroot.pending_and_rollback(&d.stateroot);
        let state = if pending == Some(d.index) {
            " (pending)"
        } else if rollback == Some(d.index) {
            " (rollback)"
        } else {
            ""
        };
        let mark = if booted == Some(d.index) { '*' } else { ' ' };
        let _ = writeln!(out, "{mark} {} {}{state}", d.stateroot, d.name());
        let commit = sysroot.repo().load_commit(&d.checksum).ok();
        if let Some(version) = commit.as_ref().and_then(|c| c.metadata.get_str("version")) {
            let _ = writeln!(out, "    Version: {version}");
        }
        if d.is_pinned() {
            out.push_str("    Pinned: yes\n");
        }
        match &d.origin {
            None => out.push_str("    origin: none\n"),
            Some(o) => {
                match origin::refspec(o) {
                    Some(r) => {
                        let _ = writeln!(out, "    origin refspec: {r}");
                    }
                    None => out.push_str("    origin: <unknown origin type>\n"),
                }
                let title = commit
                    .as_ref()
                    .and_then(|c| c.metadata.get_str("ostree.source-title"));
                if let Some(title) = title {
                    let _ = writeln!(out, "    `- {title}");
                }
            }
        }
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}
