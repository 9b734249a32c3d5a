//! `ostree admin status`: the deployments, the default first.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use rostree::ObjectType;
use rostree::core::object::Metadata;
use rostree::sysroot::origin;
use rostree::sysroot::status::status;

use super::SysrootPath;
use crate::util;

/// Arguments of `admin status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the commit verification status
    #[arg(short = 'V', long)]
    verify: bool,
    /// Emit JSON (upstream 2025.3's fields)
    #[arg(short = 'J', long)]
    json: bool,
}

/// Runs `admin status`.
pub fn run(args: Args, paths: &SysrootPath) -> Result<i32> {
    let sysroot = paths.load()?;
    if args.json {
        util::write_stdout(json(&sysroot).as_bytes())?;
        return Ok(0);
    }
    let mut out = String::new();
    if sysroot.deployments().is_empty() {
        out.push_str("No deployments.\n");
    }
    for (d, st) in sysroot.deployments().iter().zip(status(&sysroot)) {
        let state = if st.staged {
            " (staged)"
        } else if st.pending {
            " (pending)"
        } else if st.rollback {
            " (rollback)"
        } else {
            ""
        };
        let mark = if st.booted { '*' } else { ' ' };
        let _ = writeln!(out, "{mark} {} {}{state}", d.stateroot, d.name());
        if let Some(version) = &st.version {
            let _ = writeln!(out, "    Version: {version}");
        }
        if st.pinned {
            out.push_str("    Pinned: yes\n");
        }
        if d.origin.is_none() {
            out.push_str("    origin: none\n");
        } else {
            match &st.refspec {
                Some(r) => {
                    let _ = writeln!(out, "    origin refspec: {r}");
                }
                None => out.push_str("    origin: <unknown origin type>\n"),
            }
            if let Some(title) = &st.source_title {
                let _ = writeln!(out, "    `- {title}");
            }
        }
        let remote = d
            .origin
            .as_ref()
            .and_then(origin::refspec)
            .and_then(|r| r.split_once(':'))
            .map(|(remote, _)| remote.to_owned());
        if args.verify {
            let Some(origin) = &d.origin else {
                bail!("Cannot verify deployment with no origin");
            };
            if origin::refspec(origin).is_none() {
                bail!("No origin/refspec, cannot verify");
            }
            let Some(remote) = remote else {
                bail!("Cannot verify deployment without remote");
            };
            let (text, valid) = signatures(&sysroot, &d.checksum, &remote, "GPG: ")?;
            if !valid {
                bail!("GPG signatures found, but none are in trusted keyring");
            }
            let _ = writeln!(out, "{text}");
        } else if let Some(remote) = remote {
            let repo = sysroot.repo();
            let checks = repo
                .remote(&remote)
                .is_ok_and(|r| r.option_bool("gpg-verify", true).unwrap_or(false));
            if checks {
                // Upstream checks with the keys of the remote named like the stateroot.
                let (text, _) = signatures(&sysroot, &d.checksum, &d.stateroot, "    GPG: ")?;
                out.push_str(&text);
            }
        }
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}

/// Describes the GPG signatures of `commit` as checked with `remote`'s keys, each line after
/// `prefix`; whether one is good. An unsigned commit describes as nothing.
fn signatures(
    sysroot: &rostree::sysroot::Sysroot,
    commit: &rostree::Checksum,
    remote: &str,
    prefix: &str,
) -> Result<(String, bool)> {
    let repo = sysroot.repo();
    let detached = match repo.load_commitmeta(commit)? {
        Some(bytes) => Metadata::from_bytes(&bytes)?,
        None => return Ok((String::new(), false)),
    };
    let signatures = rostree::sign::gpg::signatures(&detached)?;
    if signatures.is_empty() {
        return Ok((String::new(), false));
    }
    let keyring = crate::cmd::remote::remote_keyring(repo, &repo.remote(remote)?)?;
    let data = repo.load_metadata(ObjectType::Commit, commit)?;
    let mut text = String::new();
    let mut valid = false;
    for raw in &signatures {
        match keyring.check(&data, raw) {
            Some(status) => {
                valid |= status.valid;
                text.push_str(&status.describe(prefix));
            }
            None => text.push_str(&format!("{prefix}Invalid signature packet\n")),
        }
    }
    Ok((text, valid))
}

/// `status --json`: the deployments with upstream's fields, pretty-printed as upstream
/// prints them.
fn json(sysroot: &rostree::sysroot::Sysroot) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    let mut items = Vec::new();
    for d in status(sysroot) {
        let mut fields = vec![
            ("checksum", text(&d.checksum.to_hex())),
            ("stateroot", text(&d.stateroot)),
            (
                "refspec",
                d.refspec.as_deref().map_or("null".to_owned(), text),
            ),
            ("serial", d.serial.to_string()),
            ("index", d.index.to_string()),
            ("booted", d.booted.to_string()),
            ("pending", d.pending.to_string()),
            ("rollback", d.rollback.to_string()),
            ("finalization-locked", d.finalization_locked.to_string()),
            ("soft-reboot-target", "false".to_owned()),
            ("staged", d.staged.to_string()),
            ("pinned", d.pinned.to_string()),
            ("unlocked", text("none")),
        ];
        for (name, value) in [("version", &d.version), ("source-title", &d.source_title)] {
            if let Some(value) = value {
                fields.push((name, text(value)));
            }
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("         \"{k}\": {v}"))
            .collect();
        items.push(format!("      {{\n{}\n      }}", body.join(",\n")));
    }
    format!(
        "{{\n   \"deployments\": [\n{}\n   ]\n}}\n",
        items.join(",\n")
    )
}
