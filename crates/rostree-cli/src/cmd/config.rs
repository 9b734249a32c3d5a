//! `ostree config`: read and change the repo config.

use anyhow::{Result, bail};

use crate::{GlobalOptions, util};

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] (get KEY|set KEY VALUE|unset KEY)")]
pub struct Args {
    /// Group name for keys whose group contains dots (e.g. `remote "origin"`)
    #[arg(long)]
    group: Option<String>,
    /// get, set or unset
    action: String,
    /// SECTION.KEY (or KEY with --group)
    key: String,
    /// The value, for set
    value: Option<String>,
}

fn split_key(group: &Option<String>, key: &str) -> Result<(String, String)> {
    if let Some(g) = group {
        return Ok((g.clone(), key.to_owned()));
    }
    // Upstream splits at the first dot: `a.b.c` is key `b.c` in group `a`.
    match key.split_once('.') {
        Some((section, name)) if !section.is_empty() && !name.is_empty() => {
            Ok((section.to_owned(), name.to_owned()))
        }
        _ => bail!("Key must be of the form \"sectionname.keyname\""),
    }
}

pub fn run(args: Args, global: &GlobalOptions) -> Result<i32> {
    let mut repo = global.open_repo()?;
    let (section, name) = split_key(&args.group, &args.key)?;
    match args.action.as_str() {
        "get" => {
            let Some(value) = repo.config().get_string(&section, &name)? else {
                if repo.config().has_group(&section) {
                    bail!("Key file does not have key “{name}” in group “{section}”");
                }
                bail!("Key file does not have group “{section}”");
            };
            util::write_stdout(format!("{value}\n").as_bytes())?;
        }
        "set" => {
            let Some(value) = &args.value else {
                bail!("Usage: config set SECTION.KEY VALUE")
            };
            let mut config = repo.config().clone();
            config.set_string(&section, &name, value)?;
            repo.write_config(config)?;
        }
        "unset" => {
            let mut config = repo.config().clone();
            // Unsetting a missing key is not an error upstream.
            config.remove_key(&section, &name);
            repo.write_config(config)?;
        }
        other => bail!("Unknown operation {other}"),
    }
    Ok(0)
}
