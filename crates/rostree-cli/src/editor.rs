//! `commit -e`: the commit message from an editor, as upstream asks for it.

use std::io::Write;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The editor command: `$OSTREE_EDITOR`, `$VISUAL`, `$EDITOR`, then `vi`.
fn editor_command() -> String {
    ["OSTREE_EDITOR", "VISUAL", "EDITOR"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// The text the editor starts from.
fn template(branch: Option<&str>) -> String {
    let mut text = String::from(
        "\n# Please enter the commit message for your changes. The first line will\n\
         # become the subject, and the remainder the body. Lines starting\n\
         # with '#' will be ignored, and an empty message aborts the commit.\n",
    );
    if let Some(b) = branch {
        text.push_str(&format!("#\n# Branch: {b}\n"));
    }
    text
}

/// Splits an edited message: `#` lines dropped, leading blank lines skipped, the first line
/// the subject and the rest (trimmed of the separating and trailing blank lines) the body.
pub fn parse_message(text: &str) -> Result<(String, String)> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let mut rest = lines.iter().skip_while(|l| l.trim().is_empty());
    let Some(subject) = rest.next() else {
        bail!("Aborting commit due to empty commit subject.");
    };
    let body: Vec<&str> = rest.copied().collect();
    let body = body.join("\n").trim_matches('\n').to_owned();
    Ok((subject.to_string(), body))
}

/// Runs the editor on the template and returns (subject, body).
pub fn prompt(branch: Option<&str>) -> Result<(String, String)> {
    let mut file = tempfile::Builder::new()
        .prefix(".")
        .tempfile()
        .context("creating the commit message file")?;
    file.write_all(template(branch).as_bytes())?;
    file.flush()?;
    let editor = editor_command();
    // Run through the shell, so that an editor given with arguments works as upstream.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()
        .with_context(|| format!("There was a problem with the editor '{editor}'"))?;
    if !status.success() {
        let code = status.code().unwrap_or(-1);
        bail!(
            "There was a problem with the editor '{editor}'Child process exited with code {code}"
        );
    }
    let text = std::fs::read_to_string(file.path()).context("reading the commit message")?;
    parse_message(&text)
}

#[cfg(test)]
mod tests {
    use super::parse_message;

    #[test]
    fn messages() {
        let (s, b) = parse_message("Subj line\n\nbody here\n# comment\nmore\n").expect("parses");
        assert_eq!((s.as_str(), b.as_str()), ("Subj line", "body here\nmore"));
        let (s, b) = parse_message("\n\n# c\nonly\n").expect("parses");
        assert_eq!((s.as_str(), b.as_str()), ("only", ""));
        assert!(parse_message("# nothing\n\n").is_err());
    }
}
