//! `ostree config`: read and change the repo config.

use anyhow::{Result, bail};

use crate::{GlobalOptions, util};

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] (get KEY|set KEY VALUE|unset KEY)")]
pub struct Args {
    /// Group name for keys whose group contains dots (e.g. `remote "origin"`)
    #[arg(long, value_name = "")]
    group: Option<String>,
    /// The operation (get, set or unset) and its arguments
    words: Vec<String>,
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
    let Some(op) = args.words.first() else {
        return Err(util::usage_error("OPERATION must be specified"));
    };
    let wanted = if op == "set" { 3 } else { 2 };
    if args.words.len() > wanted {
        return Err(util::usage_error("Too many arguments given"));
    }
    if !["get", "set", "unset"].contains(&op.as_str()) {
        bail!("Unknown operation {op}");
    }
    if args.words.len() < wanted {
        match (op.as_str(), &args.group) {
            ("set", Some(_)) => bail!("GROUP name, KEY and VALUE must be specified"),
            ("set", None) => bail!("KEY and VALUE must be specified"),
            (_, Some(_)) => bail!("Group name and key must be specified"),
            (_, None) => bail!("KEY must be specified"),
        }
    }
    let key = args.words.get(1).cloned().unwrap_or_default();
    let value = args.words.get(2);
    let (section, name) = split_key(&args.group, &key)?;
    match op.as_str() {
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
            let value = value.expect("counted above");
            let mut config = repo.config().clone();
            config.set_string(&section, &name, value)?;
            repo.write_config(config)?;
        }
        // "unset", the one left.
        _ => {
            let mut config = repo.config().clone();
            // Unsetting a missing key is not an error upstream.
            config.remove_key(&section, &name);
            repo.write_config(config)?;
        }
    }
    Ok(0)
}
