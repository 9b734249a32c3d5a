//! `man-pages DIR` (rostree's own, hidden): writes the manual, one roff page per command
//! and subcommand (`rostree.1`, `rostree-commit.1`, `rostree-admin-deploy.1`, ...), from the
//! command definition the parser uses. Packaging runs it, so the pages cannot drift from
//! the code.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Command;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write the pages into (created if missing)
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(args: Args) -> Result<i32> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let mut written = 0;
    write_pages(&args.dir, crate::definition(), &[], &mut written)?;
    crate::util::write_stdout(
        format!("{written} pages written to {}\n", args.dir.display()).as_bytes(),
    )?;
    Ok(0)
}

/// Writes the page of `command`, reached from the top by the subcommand names `words`, and
/// the pages of its visible subcommands.
fn write_pages(dir: &Path, command: Command, words: &[&str], written: &mut usize) -> Result<()> {
    let page = page_name(words);
    let invocation = std::iter::once(crate::PROGRAM)
        .chain(words.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut named = command.clone().name(page.clone());
    // The usage written for `--help` (upstream's "[OPTION…] REV") lacks the command itself.
    if let Some(usage) = command.get_overridden_usage() {
        named = named.override_usage(format!("{invocation} {usage}"));
    }
    let man = clap_mangen::Man::new(named.bin_name(invocation))
        .title(page.to_uppercase())
        .section("1")
        .source(format!("rostree {}", env!("CARGO_PKG_VERSION")))
        .manual("rostree manual");
    let mut roff = Vec::new();
    man.render(&mut roff)
        .with_context(|| format!("rendering {page}"))?;
    let path = dir.join(format!("{page}.1"));
    std::fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
    *written += 1;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut sub_words = words.to_vec();
        sub_words.push(sub.get_name());
        write_pages(dir, sub.clone(), &sub_words, written)?;
    }
    Ok(())
}

/// `rostree`, `rostree-commit`, `rostree-admin-deploy`: the page of a command path.
fn page_name(words: &[&str]) -> String {
    std::iter::once(crate::PROGRAM)
        .chain(words.iter().copied())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page says what each command and option is for: a missing help text would
    /// leave a bare option name in the manual and in `--help`.
    #[test]
    fn every_command_and_option_is_described() {
        fn undescribed(command: &Command, path: &str, out: &mut Vec<String>) {
            if command.get_about().is_none() && !path.is_empty() {
                out.push(path.to_owned());
            }
            for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
                if arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    out.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
                undescribed(sub, &format!("{path} {}", sub.get_name()), out);
            }
        }
        let mut missing = Vec::new();
        undescribed(&crate::definition(), "", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn a_page_for_every_visible_command() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut written = 0;
        write_pages(dir.path(), crate::definition(), &[], &mut written).expect("pages");
        for page in [
            "rostree",
            "rostree-commit",
            "rostree-admin-deploy",
            "rostree-remote-add",
        ] {
            let roff = std::fs::read_to_string(dir.path().join(format!("{page}.1")))
                .unwrap_or_else(|e| panic!("{page}.1: {e}"));
            assert!(
                roff.starts_with(".ie") || roff.contains(".TH"),
                "{page}: {roff}"
            );
        }
        assert!(!dir.path().join("rostree-man-pages.1").exists());
        let files = std::fs::read_dir(dir.path()).expect("list pages").count();
        assert_eq!(files, written);
        assert!(written > 60, "only {written} pages");
    }

    #[test]
    fn page_names_join_the_command_path() {
        for (words, page) in [
            (&[][..], "rostree"),
            (&["commit"][..], "rostree-commit"),
            (&["admin", "deploy"][..], "rostree-admin-deploy"),
        ] {
            assert_eq!(page_name(words), page);
        }
    }
}
