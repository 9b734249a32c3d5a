//! The Rust tutorial's program (docs/tutorials/rust.md): a tree committed, served over
//! HTTP, pulled into a scratch sysroot's repository and deployed there, all through the
//! library.
//!
//! `tutorial WORKDIR` (an empty directory): prints the commit, the pull and the sysroot's
//! deployments as `ostree admin status --json` describes them.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree::core::object::Metadata;
use rostree::repo::commit::TreeSource;
use rostree::repo::remote::{IfExists, RemoteAddOptions};
use rostree::repo::summary::update_summary;
use rostree::repo::{InitOptions, RepoMode};
use rostree::sysroot::admin::{DeployRequest, deploy};
use rostree::sysroot::init::{InitFsOptions, init_fs, init_stateroot};
use rostree::sysroot::status::status;
use rostree::sysroot::{DebugFlags, Sysroot};
use rostree::{CommitOptions, NoProgress, Repo, TrustRoots, commit, pull, pull_options};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn open(path: &Path) -> Result<Dir> {
    Ok(Dir::open_ambient_dir(path, ambient_authority())?)
}

/// An OS tree as ostree deploys it: `/etc` defaults in `/usr/etc`, a kernel and an
/// initramfs (stand-ins here) in `/usr/lib/modules/VERSION`.
fn make_tree(tree: &Path) -> Result<()> {
    let modules = tree.join("usr/lib/modules/6.1.0-tutorial");
    std::fs::create_dir_all(&modules)?;
    std::fs::create_dir_all(tree.join("usr/etc"))?;
    std::fs::write(
        tree.join("usr/etc/os-release"),
        "ID=tutorial\nVERSION_ID=1\n",
    )?;
    std::fs::write(modules.join("vmlinuz"), "a kernel\n")?;
    std::fs::write(modules.join("initramfs.img"), "an initramfs\n")?;
    Ok(())
}

/// Commits `tree` to `os/stable` of a new archive repository at `path` and writes its
/// summary, as `ostree init --mode=archive`, `commit` and `summary -u` would.
fn publish(path: &Path, tree: &Path) -> Result<Repo> {
    std::fs::create_dir_all(path)?;
    let init = InitOptions {
        mode: RepoMode::Archive,
        ..Default::default()
    };
    let mut repo = Repo::init(open(path)?, path, &init)?;
    let mut metadata = Metadata::new();
    metadata.push(
        "version",
        rostree::core::gvariant::Value::String("1.0".into()),
    );
    let options = CommitOptions {
        branch: Some("os/stable".into()),
        subject: "The first release".into(),
        metadata,
        ..Default::default()
    };
    let sources = vec![TreeSource::Dir(open(tree)?, tree.to_owned())];
    let interrupt = AtomicBool::new(false);
    let outcome = commit(&repo, sources, &NoProgress, &interrupt, &options)?;
    println!("committed {}", outcome.checksum);
    update_summary(&mut repo, &Metadata::new())?;
    Ok(repo)
}

/// A scratch sysroot with the stateroot `os`, as `ostree admin init-fs` and `os-init`.
fn new_sysroot(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path)?;
    init_fs(&open(path)?, path, &InitFsOptions::default())?;
    let sysroot = Sysroot::load(open(path)?, path, DebugFlags::default())?;
    init_stateroot(&sysroot, "os")?;
    Ok(())
}

/// Pulls `os/stable` from `url` into the sysroot's repository as the remote `origin`, as
/// `ostree remote add --no-gpg-verify` and `ostree pull` would.
fn pull_into(sysroot: &Path, url: &str) -> Result<()> {
    let path = sysroot.join("ostree/repo");
    let mut repo = Repo::open(open(&path)?, &path)?;
    let options = RemoteAddOptions {
        branches: Vec::new(),
        settings: vec![("gpg-verify".into(), "false".into())],
        if_exists: IfExists::Fail,
    };
    repo.add_remote("origin", Some(url), &options)?;
    let remote = repo.remote("origin")?;
    let (spec, options) = pull_options(&repo, &remote, &TrustRoots::none())?;
    let interrupt = AtomicBool::new(false);
    let refs = ["os/stable".to_owned()];
    let outcome = pull(&repo, &spec, &refs, &NoProgress, &interrupt, &options)?;
    for (name, commit) in &outcome.refs {
        println!("pulled {name} {commit}");
    }
    Ok(())
}

/// Deploys `origin:os/stable` as the sysroot's default, under its lock, and prints what
/// `admin status` would say.
fn deploy_and_show(path: &Path) -> Result<()> {
    // Deployment roots are made immutable on a real system; a scratch sysroot stays
    // removable.
    let debug = DebugFlags {
        mutable_deployments: true,
        ..Default::default()
    };
    let dir = open(path)?;
    let _lock = rostree::sysroot::lock::lock(&dir, &|| println!("waiting for the lock"))?;
    let mut sysroot = Sysroot::load(dir, path, debug)?;
    let mut request = DeployRequest::new("os", "origin:os/stable");
    request.kargs.replace = vec!["quiet".into()];
    let report = deploy(&mut sysroot, &request, &NoProgress)?;
    println!("deployed {}", report.outcome.deployment.name());
    for d in status(&sysroot) {
        println!(
            "deployment {} stateroot {} serial {} refspec {} version {}",
            d.checksum,
            d.stateroot,
            d.serial,
            d.refspec.as_deref().unwrap_or("-"),
            d.version.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let work = PathBuf::from(std::env::args().nth(1).ok_or("usage: tutorial WORKDIR")?);
    make_tree(&work.join("tree"))?;
    publish(&work.join("repo"), &work.join("tree"))?;

    // `ostree serve`'s server, in this process, on a free port of 127.0.0.1.
    let server = rostree::serve::serve(open(&work.join("repo"))?, "127.0.0.1:0".parse()?)?;
    new_sysroot(&work.join("sysroot"))?;
    pull_into(&work.join("sysroot"), &server.url())?;
    deploy_and_show(&work.join("sysroot"))?;
    Ok(())
}
