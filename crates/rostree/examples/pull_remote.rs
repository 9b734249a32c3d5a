//! Pulls a configured remote as `ostree pull REMOTE [REF…]` would, with the checks its
//! configuration asks for (GPG signatures by default), through the library alone.
//!
//! `pull_remote REPO REMOTE [REF…]`: without refs, the remote's `branches`.

use std::sync::atomic::AtomicBool;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: pull_remote REPO REMOTE [REF…]";
    let path = args.next().ok_or(usage)?;
    let name = args.next().ok_or(usage)?;
    let dir = cap_std::fs::Dir::open_ambient_dir(&path, cap_std::ambient_authority())?;
    let repo = rostree::Repo::open(dir, &path)?;
    let remote = repo.remote(&name)?;
    let mut refs: Vec<String> = args.collect();
    if refs.is_empty() {
        refs = remote.option_list("branches")?;
    }
    // URL, keys and trust as the remote's config and the system's keyrings say.
    let (spec, options) = rostree::pull_options(&repo, &remote, &rostree::TrustRoots::system())?;
    let interrupt = AtomicBool::new(false);
    let outcome = rostree::pull(
        &repo,
        &spec,
        &refs,
        &rostree::NoProgress,
        &interrupt,
        &options,
    )?;
    for (name, commit) in &outcome.refs {
        println!("{name} {commit}");
    }
    Ok(())
}
