//! `ostree admin` against upstream: the same commits deployed by rostree and by upstream
//! into two sysroots give the same loader entries, origin files, link farms, deployment refs
//! and merged `/etc`, and each tool's `admin status` reads the other's sysroot alike.

use std::path::{Path, PathBuf};

use rostree_testutil::cmd::{Invocation, upstream_ostree};

fn rostree() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rostree"))
}

/// Runs `bin` with `OSTREE_SYSROOT` set (deployment roots stay mutable, so the temp dir can
/// go away) and returns stdout; fails the test on failure.
fn run(bin: &Path, sysroot: &Path, args: &[&str]) -> String {
    let out = Invocation::new(bin)
        .env("OSTREE_SYSROOT", sysroot)
        .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
        .args(args)
        .ok();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(path: &Path, data: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

/// libtest's OS tree: a kernel and initramfs in the modules layout, /usr/etc defaults.
fn os_tree(dir: &Path, kernel: &str) {
    write(&dir.join("usr/lib/modules/3.6.0/vmlinuz"), kernel);
    write(
        &dir.join("usr/lib/modules/3.6.0/initramfs.img"),
        "an initramfs\n",
    );
    write(
        &dir.join("usr/etc/os-release"),
        "NAME=TestOS\nVERSION=42\nID=testos\nPRETTY_NAME=\"TestOS 42\"\n",
    );
    write(&dir.join("usr/etc/aconfigfile"), "default\n");
    write(&dir.join("usr/etc/NetworkManager/nm.conf"), "a default\n");
    write(&dir.join("usr/bin/sh"), "a shell\n");
}

/// Everything a deployment writes outside the object store, as text to compare.
fn layout(sysroot: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = sysroot.join(&rel);
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        let shown = rel.display().to_string();
        // rostree's own merge report has no upstream counterpart (see `etc_merge_report`).
        let own = shown.ends_with(".etc-merge");
        if own || (shown.starts_with("ostree/repo") && shown != "ostree/repo") {
            continue;
        }
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).expect("readlink");
            out.push((shown, format!("-> {}", target.display())));
        } else if meta.is_dir() {
            out.push((shown, "dir".into()));
            for entry in std::fs::read_dir(&path).expect("readdir") {
                stack.push(rel.join(entry.expect("entry").file_name()));
            }
        } else {
            let data = std::fs::read(&path).expect("read");
            out.push((shown, String::from_utf8_lossy(&data).into_owned()));
        }
    }
    out.sort();
    out
}

/// The first deployment's directory.
fn current_deployment(bin: &Path, sysroot: &Path) -> String {
    run(bin, sysroot, &["admin", "--print-current-dir"])
        .trim()
        .to_owned()
}

/// Sets up `boot/` for a bootloader as upstream's libtest does.
fn setup_bootloader(sysroot: &Path, bootloader: &str) {
    let boot = sysroot.join("boot");
    let stub = |name: &str, link: &str| {
        std::fs::create_dir_all(boot.join("loader.0")).expect("mkdir");
        std::os::unix::fs::symlink("loader.0", boot.join("loader")).expect("symlink");
        std::fs::write(boot.join("loader.0").join(name), "").expect("touch");
        let link = boot.join(link);
        std::fs::create_dir_all(link.parent().expect("a parent")).expect("mkdir");
        let target = match link.parent() == Some(boot.as_path()) {
            true => format!("loader/{name}"),
            false => format!("../loader/{name}"),
        };
        std::os::unix::fs::symlink(target, link).expect("symlink");
    };
    match bootloader {
        "syslinux" => stub("syslinux.cfg", "syslinux/syslinux.cfg"),
        "uboot" => stub("uEnv.txt", "uEnv.txt"),
        _ => {}
    }
}

#[test]
fn deployments_match_upstream_and_each_reads_the_other() {
    for bootloader in ["none", "syslinux", "uboot"] {
        deployments_match_upstream(bootloader);
    }
}

/// Both tools deploy the same commits with `bootloader` in use: every file, link, entry and
/// bootloader configuration of the two sysroots is the same.
fn deployments_match_upstream(bootloader: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let upstream = upstream_ostree();
    let repo = t.join("testos-repo");
    let repo_arg = format!("--repo={}", repo.display());
    run(&upstream, t, &[&repo_arg, "init", "--mode=archive"]);
    for (i, kernel) in ["a kernel\n", "another kernel\n"].iter().enumerate() {
        let tree = t.join(format!("tree{i}"));
        os_tree(&tree, kernel);
        let tree_arg = format!("--tree=dir={}", tree.display());
        let version = format!("--add-metadata-string=version=1.0.{i}");
        let timestamp = format!("--timestamp=2024-01-0{}T00:00:00Z", i + 1);
        run(
            &upstream,
            t,
            &[
                &repo_arg,
                "commit",
                "-b",
                "testos/main",
                &version,
                &timestamp,
                &tree_arg,
            ],
        );
    }
    let mut layouts = Vec::new();
    for (tool, bin) in [("upstream", upstream.clone()), ("rostree", rostree())] {
        let sysroot = t.join(tool);
        std::fs::create_dir(&sysroot).expect("mkdir");
        let s = sysroot.to_str().expect("utf-8");
        run(&bin, &sysroot, &["admin", "init-fs", s]);
        setup_bootloader(&sysroot, bootloader);
        let out = run(&bin, &sysroot, &["admin", "os-init", "testos"]);
        assert_eq!(
            out, "ostree/deploy/testos initialized as OSTree root\n",
            "{tool}"
        );
        let sysrepo = format!("--repo={s}/ostree/repo");
        let source = repo.to_str().expect("utf-8");
        let first = run(&bin, &sysroot, &[&repo_arg, "rev-parse", "testos/main^"]);
        run(
            &bin,
            &sysroot,
            &[&sysrepo, "pull-local", source, first.trim()],
        );
        run(
            &bin,
            &sysroot,
            &[&sysrepo, "refs", "--create=testos/main", first.trim()],
        );
        run(
            &bin,
            &sysroot,
            &[
                "admin",
                "deploy",
                "--os=testos",
                "--karg=root=LABEL=MOO",
                "--karg=quiet",
                "testos/main",
            ],
        );
        // A local /etc change carried into the next deployment.
        let current = run(&bin, &sysroot, &["admin", "--print-current-dir"]);
        let etc = Path::new(current.trim()).join("etc");
        std::fs::write(etc.join("aconfigfile"), "local\n").expect("edit");
        std::fs::write(etc.join("added"), "mine\n").expect("add");
        std::fs::remove_file(etc.join("NetworkManager/nm.conf")).expect("remove");
        run(
            &bin,
            &sysroot,
            &[&sysrepo, "pull-local", source, "testos/main"],
        );
        let out = run(
            &bin,
            &sysroot,
            &["admin", "deploy", "--os=testos", "testos/main"],
        );
        assert!(
            out.contains("Copying /etc changes: 1 modified, 1 removed, 1 added"),
            "{tool}: {out}"
        );
        run(&bin, &sysroot, &["admin", "pin", "1"]);
        if tool == "rostree" {
            let report = format!("{}.etc-merge", current_deployment(&bin, &sysroot));
            assert_eq!(
                std::fs::read_to_string(report).expect("rostree's merge report"),
                "modified aconfigfile\nremoved NetworkManager/nm.conf\nadded added\n"
            );
        }
        layouts.push((tool, sysroot.clone(), layout(&sysroot)));
    }
    let (_, up_root, up) = &layouts[0];
    let (_, ro_root, ro) = &layouts[1];
    let config = match bootloader {
        "syslinux" => Some(("boot/loader/syslinux.cfg", "\tKERNEL /boot/ostree/testos-")),
        "uboot" => Some(("boot/loader/uEnv.txt", "kernel_image=/boot/ostree/testos-")),
        _ => None,
    };
    if let Some((path, line)) = config {
        let text = std::fs::read_to_string(ro_root.join(path)).expect("the bootloader's config");
        assert!(text.contains(line), "{bootloader}: {text}");
    }
    let up_keys: Vec<_> = up.iter().map(|(k, _)| k).collect();
    let ro_keys: Vec<_> = ro.iter().map(|(k, _)| k).collect();
    assert_eq!(ro_keys, up_keys, "the same files and directories");
    for ((path, a), (_, b)) in up.iter().zip(ro) {
        assert_eq!(b, a, "{path}");
    }
    // Each tool's config-diff of each sysroot says the same.
    for root in [up_root, ro_root] {
        let diff = |bin: &Path| run(bin, root, &["admin", "config-diff", "--os=testos"]);
        assert_eq!(diff(&rostree()), diff(&upstream));
        assert_eq!(
            diff(&rostree()),
            "M    aconfigfile\nD    NetworkManager/nm.conf\nA    added\n"
        );
    }
    // Each tool's status of each sysroot says the same.
    let status = |bin: &Path, root: &Path| run(bin, root, &["admin", "status"]);
    let expected = status(&upstream, up_root);
    assert!(expected.contains("Pinned: yes"), "{expected}");
    assert_eq!(status(&upstream, ro_root), expected);
    assert_eq!(status(&rostree(), up_root), expected);
    assert_eq!(status(&rostree(), ro_root), expected);
    // Both repos list the same deployment refs.
    for root in [up_root, ro_root] {
        let sysrepo = format!("--repo={}/ostree/repo", root.display());
        let refs = run(&upstream, root, &[&sysrepo, "refs", "ostree"]);
        let mut refs: Vec<_> = refs.lines().collect();
        refs.sort();
        assert_eq!(refs, ["0/1/0", "0/1/1"], "{}", root.display());
    }

    // Undeploying the rollback removes its entry, directory and boot files alike.
    for (bin, root) in [(upstream.clone(), up_root), (rostree(), ro_root)] {
        run(&bin, root, &["admin", "pin", "-u", "1"]);
        run(&bin, root, &["admin", "undeploy", "1"]);
    }
    let (up, ro) = (layout(up_root), layout(ro_root));
    assert_eq!(ro, up);
}

/// A sysroot with one deployment of `good` (a tree with a kernel) made by rostree, and
/// `nokernel` committed in its repo.
fn sysroot_with_a_deployment(t: &Path) -> PathBuf {
    let sysroot = t.join("sysroot");
    std::fs::create_dir_all(&sysroot).expect("mkdir");
    let s = sysroot.to_str().expect("utf-8");
    run(&rostree(), &sysroot, &["admin", "init-fs", "--modern", s]);
    run(&rostree(), &sysroot, &["admin", "os-init", "testos"]);
    let sysrepo = format!("--repo={s}/ostree/repo");
    let good = t.join("good");
    os_tree(&good, "a kernel\n");
    let nokernel = t.join("nokernel");
    write(&nokernel.join("usr/bin/sh"), "a shell\n");
    for (branch, tree) in [("good", &good), ("nokernel", &nokernel)] {
        let tree_arg = format!("--tree=dir={}", tree.display());
        run(
            &rostree(),
            &sysroot,
            &[&sysrepo, "commit", "-b", branch, &tree_arg],
        );
    }
    run(
        &rostree(),
        &sysroot,
        &["admin", "deploy", "--os=testos", "--karg=quiet", "good"],
    );
    sysroot
}

/// What bad input may leave: the layout but for a failed deployment's checkout (the next
/// cleanup's) and the directories a deploy to a missing stateroot makes (as upstream).
fn settled_layout(bin: &Path, sysroot: &Path) -> Vec<(String, String)> {
    run(bin, sysroot, &["admin", "cleanup"]);
    layout(sysroot)
        .into_iter()
        .filter(|(path, _)| !path.starts_with("ostree/deploy/nosuchroot"))
        .collect()
}

#[test]
fn bad_input_is_refused_in_upstreams_words_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let sysroot = sysroot_with_a_deployment(t);
    let bad_origin = t.join("bad.origin");
    std::fs::write(&bad_origin, "garbage\n").expect("write");
    let bad_origin = format!("--origin-file={}", bad_origin.display());
    let before = settled_layout(&rostree(), &sysroot);
    for (args, message) in [
        (
            vec!["admin", "deploy", "--os=testos", "nokernel"],
            "error: Failed to find kernel in /usr/lib/modules, /usr/lib/ostree-boot or /boot\n",
        ),
        (
            vec!["admin", "deploy", "--os=testos", "nosuchref"],
            "error: Refspec 'nosuchref' not found\n",
        ),
        (
            vec!["admin", "deploy", "--os=nosuchroot", "good"],
            "error: opendir(var): No such file or directory\n",
        ),
        (
            vec!["admin", "deploy", "--os=testos", &bad_origin, "good"],
            "error: Key file contains line “garbage” which is not a key-value pair, group, or comment\n",
        ),
        (
            vec![
                "admin",
                "deploy",
                "--os=testos",
                "--origin-file=/nonexistent",
                "good",
            ],
            "error: No such file or directory\n",
        ),
        (
            vec![
                "admin",
                "deploy",
                "--os=testos",
                "--karg-delete=nokey",
                "good",
            ],
            "error: No key 'nokey' found\n",
        ),
        (
            vec!["admin", "os-init", "testos"],
            "error: Creating ostree/deploy/testos: File exists\n",
        ),
        (
            vec!["admin", "undeploy", "5"],
            "error: Out of range deployment index 5, expected < 1\n",
        ),
        (
            vec!["admin", "pin", "medal"],
            "error: Invalid index: medal\n",
        ),
    ] {
        for bin in [upstream_ostree(), rostree()] {
            let out = Invocation::new(&bin)
                .env("OSTREE_SYSROOT", &sysroot)
                .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
                .args(&args)
                .output();
            assert!(!out.status.success(), "{args:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.ends_with(message),
                "{} {args:?}: {stderr}",
                bin.display()
            );
            // The loader, links, refs and deployments are untouched.
            assert_eq!(
                settled_layout(&bin, &sysroot),
                before,
                "{} {args:?}",
                bin.display()
            );
        }
    }
}

/// A tmpfs of `kib` KiB mounted at `path` (needs root, as CI is), unmounted on drop.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(path: &Path, kib: u32) -> SmallFs {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount");
        assert!(status.success(), "mounting a tmpfs (the test needs root)");
        SmallFs(path.to_owned())
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_boot_partition_leaves_the_loader_as_it_was() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    // /boot on a file system of its own, nearly full: kernels are copied there, not linked.
    let boot = t.join("sysroot/boot");
    std::fs::create_dir_all(&boot).expect("mkdir");
    let _boot = SmallFs::mount(&boot, 256);
    let sysroot = sysroot_with_a_deployment(t);
    let big = t.join("big");
    os_tree(&big, &"a big kernel\n".repeat(40_000));
    let sysrepo = format!("--repo={}/ostree/repo", sysroot.display());
    let tree_arg = format!("--tree=dir={}", big.display());
    run(
        &rostree(),
        &sysroot,
        &[&sysrepo, "commit", "-b", "big", &tree_arg],
    );
    let before = settled_layout(&rostree(), &sysroot);
    for bin in [upstream_ostree(), rostree()] {
        let out = Invocation::new(&bin)
            .env("OSTREE_SYSROOT", &sysroot)
            .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
            .args(["admin", "deploy", "--os=testos", "big"])
            .output();
        assert!(
            !out.status.success(),
            "{}: a 520 KB kernel fit",
            bin.display()
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("No space left on device"),
            "{}: {stderr}",
            bin.display()
        );
        // The failed attempt's files stay until a cleanup; the live loader never changed.
        assert_eq!(settled_layout(&bin, &sysroot), before, "{}", bin.display());
    }
}

/// Everything about a tree that the /etc merge must keep: type, mode, owner, xattrs, and
/// the bytes or link target.
fn etc_snapshot(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        let mut xattrs: Vec<String> = xattr::list(&path)
            .map(|names| {
                names
                    .filter(|n| n.to_string_lossy().starts_with("user."))
                    .map(|n| {
                        let value = xattr::get(&path, &n).ok().flatten().unwrap_or_default();
                        format!(
                            "{}={}",
                            n.to_string_lossy(),
                            String::from_utf8_lossy(&value)
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        xattrs.sort();
        let what = if meta.file_type().is_symlink() {
            format!(
                "-> {}",
                std::fs::read_link(&path).expect("readlink").display()
            )
        } else if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("readdir") {
                stack.push(rel.join(entry.expect("entry").file_name()));
            }
            "dir".to_owned()
        } else {
            String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned()
        };
        out.push(format!(
            "{} {:o} {}:{} [{}] {what}",
            rel.display(),
            meta.mode(),
            meta.uid(),
            meta.gid(),
            xattrs.join(",")
        ));
    }
    out.sort();
    out
}

/// The local changes a machine makes to its /etc, the same in both sysroots.
fn edit_etc(etc: &Path) {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let set_mode = |p: &str, mode: u32| {
        std::fs::set_permissions(etc.join(p), std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    std::fs::write(etc.join("modified"), "local\n").expect("modify");
    set_mode("chmodded", 0o600);
    std::os::unix::fs::chown(etc.join("chowned"), Some(42), Some(43)).expect("chown");
    // An xattr alone is no change to upstream's diff; on a modified file it is copied.
    xattr::set(etc.join("xattred"), "user.local", b"yes").expect("xattr");
    xattr::set(etc.join("modified"), "user.local", b"yes").expect("xattr");
    std::fs::remove_file(etc.join("removed")).expect("remove");
    std::fs::remove_dir_all(etc.join("removed-dir")).expect("remove dir");
    std::fs::remove_file(etc.join("file-to-dir")).expect("rm");
    std::fs::create_dir(etc.join("file-to-dir")).expect("mkdir");
    std::fs::write(etc.join("file-to-dir/inside"), "inside\n").expect("write");
    std::fs::remove_dir_all(etc.join("dir-to-file")).expect("rm dir");
    std::fs::write(etc.join("dir-to-file"), "now a file\n").expect("write");
    std::fs::remove_file(etc.join("file-to-link")).expect("rm");
    symlink("modified", etc.join("file-to-link")).expect("symlink");
    std::fs::remove_file(etc.join("link-to-file")).expect("rm");
    std::fs::write(etc.join("link-to-file"), "was a link\n").expect("write");
    std::fs::write(etc.join("added"), "added\n").expect("add");
    std::fs::create_dir_all(etc.join("added-dir/sub")).expect("mkdir");
    std::fs::write(etc.join("added-dir/sub/file"), "deep\n").expect("add");
    set_mode("added-dir/sub", 0o750);
    symlink("/nonexistent", etc.join("dangling")).expect("symlink");
    std::fs::write(etc.join("in-removed-default-dir/local"), "kept\n").expect("add");
    std::fs::write(etc.join("newly-default-dir"), "a local file\n").expect("add");
}

#[test]
fn the_etc_merge_matches_upstream_case_by_case() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let upstream = upstream_ostree();
    let repo = t.join("repo");
    let repo_arg = format!("--repo={}", repo.display());
    run(&upstream, t, &[&repo_arg, "init", "--mode=archive"]);
    let v1 = t.join("v1");
    os_tree(&v1, "a kernel\n");
    for name in [
        "modified",
        "chmodded",
        "chowned",
        "xattred",
        "removed",
        "file-to-dir",
        "file-to-link",
        "kept",
    ] {
        write(&v1.join("usr/etc").join(name), &format!("{name} default\n"));
    }
    write(&v1.join("usr/etc/removed-dir/f"), "x\n");
    write(&v1.join("usr/etc/dir-to-file/f"), "x\n");
    write(&v1.join("usr/etc/in-removed-default-dir/f"), "x\n");
    std::os::unix::fs::symlink("kept", v1.join("usr/etc/link-to-file")).expect("symlink");
    // v2 changes defaults: one edited, one dropped, one directory gone, one file now a
    // directory (a local file there is refused by both tools, so that case has its own run).
    let v2 = t.join("v2");
    os_tree(&v2, "a kernel\n");
    std::fs::remove_dir_all(v2.join("usr/etc")).expect("rm");
    let copy = std::process::Command::new("cp")
        .args(["-a"])
        .arg(v1.join("usr/etc"))
        .arg(v2.join("usr/etc"))
        .status()
        .expect("cp");
    assert!(copy.success());
    write(&v2.join("usr/etc/kept"), "kept, new default\n");
    std::fs::remove_file(v2.join("usr/etc/chmodded")).expect("rm");
    std::fs::remove_dir_all(v2.join("usr/etc/in-removed-default-dir")).expect("rm");
    // A directory made a file locally merges only where the new default drops it.
    std::fs::remove_dir_all(v2.join("usr/etc/dir-to-file")).expect("rm");
    write(&v2.join("usr/etc/new-default"), "new\n");
    for (branch, tree) in [("v1", &v1), ("v2", &v2)] {
        let tree_arg = format!("--tree=dir={}", tree.display());
        run(
            &upstream,
            t,
            &[&repo_arg, "commit", "-b", branch, &tree_arg],
        );
    }
    let mut results = Vec::new();
    for (tool, bin) in [("upstream", upstream.clone()), ("rostree", rostree())] {
        let sysroot = t.join(tool);
        std::fs::create_dir(&sysroot).expect("mkdir");
        let s = sysroot.to_str().expect("utf-8");
        run(&bin, &sysroot, &["admin", "init-fs", "--modern", s]);
        run(&bin, &sysroot, &["admin", "os-init", "testos"]);
        let sysrepo = format!("--repo={s}/ostree/repo");
        let source = repo.to_str().expect("utf-8");
        run(
            &bin,
            &sysroot,
            &[&sysrepo, "pull-local", source, "v1", "v2"],
        );
        run(&bin, &sysroot, &["admin", "deploy", "--os=testos", "v1"]);
        let current = run(&bin, &sysroot, &["admin", "--print-current-dir"]);
        edit_etc(&Path::new(current.trim()).join("etc"));
        let out = run(&bin, &sysroot, &["admin", "deploy", "--os=testos", "v2"]);
        let copying = out
            .lines()
            .find(|l| l.starts_with("Copying /etc changes"))
            .expect("the merge's report")
            .to_owned();
        let current = run(&bin, &sysroot, &["admin", "--print-current-dir"]);
        results.push((
            copying,
            etc_snapshot(&Path::new(current.trim()).join("etc")),
        ));
    }
    assert_eq!(results[1].0, results[0].0, "the merge's counts");
    assert_eq!(results[1].1, results[0].1, "the merged /etc");
    let modified = results[1].1.iter().find(|l| l.starts_with("modified "));
    assert_eq!(
        modified.map(String::as_str),
        Some("modified 100644 0:0 [user.local=yes] local\n")
    );
}

/// `deploy --json`: JSON Lines only on stdout, the phases in order, file counts that never
/// go back, and a last line naming the new deployment and what the merge carried.
#[test]
fn deploy_json_progress() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sysroot = sysroot_with_a_deployment(tmp.path());
    let current = current_deployment(&rostree(), &sysroot);
    std::fs::write(Path::new(&current).join("etc/added"), "mine\n").expect("add");
    let out = run(
        &rostree(),
        &sysroot,
        &["admin", "deploy", "--os=testos", "--json", "good"],
    );
    let lines: Vec<&str> = out.lines().collect();
    let mut done = 0;
    let mut phases = Vec::new();
    for line in &lines {
        assert!(
            line.starts_with("{\"event\":\"") && line.ends_with('}'),
            "{out}"
        );
        let count: u64 = line["{\"event\":\"".len()..]
            .split_once("\"done\":")
            .and_then(|(_, rest)| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("done in {line}"));
        assert!(count >= done, "{out}");
        done = count;
        if let Some((_, phase)) = line.split_once("\"phase\":\"") {
            phases.push(phase.trim_end_matches("\"}").to_owned());
        }
    }
    assert_eq!(
        phases,
        ["checking out", "merging /etc", "writing boot entries"]
    );
    // Every file of the commit was checked out, and counted.
    let sysrepo = format!("--repo={}/ostree/repo", sysroot.display());
    let listing = run(&rostree(), &sysroot, &[&sysrepo, "ls", "-R", "good"]);
    let files = listing.lines().filter(|l| !l.starts_with('d')).count() as u64;
    assert_eq!(done, files, "{out}");
    let last = lines.last().expect("lines");
    let new = current_deployment(&rostree(), &sysroot);
    let name = Path::new(&new)
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    assert!(last.starts_with("{\"event\":\"done\""), "{last}");
    assert!(
        last.contains(&format!("\"deployment\":\"{name}\"")),
        "{last}"
    );
    assert!(last.contains("\"stateroot\":\"testos\""), "{last}");
    let done: serde_json::Value = serde_json::from_str(last).expect("a JSON line");
    assert_eq!(
        done["etc"],
        serde_json::json!({"modified": 0, "removed": 0, "added": 1}),
        "{last}"
    );
}

/// `OSTREE_SYSROOT_OPTS=bootloader-naming-2` names entries `ostree-<N>.conf` as upstream does
/// since 2024.5; upstream 2022.7 still reads such a sysroot.
#[test]
fn newer_entry_names_on_request() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sysroot = sysroot_with_a_deployment(tmp.path());
    let out = Invocation::new(rostree())
        .env("OSTREE_SYSROOT", &sysroot)
        .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
        .env("OSTREE_SYSROOT_OPTS", "bootloader-naming-2")
        .args(["admin", "deploy", "--os=testos", "good"])
        .ok();
    assert!(out.status.success());
    let mut names: Vec<String> = std::fs::read_dir(sysroot.join("boot/loader/entries"))
        .expect("entries")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ostree-1.conf", "ostree-2.conf"]);
    let status = |bin: &Path| run(bin, &sysroot, &["admin", "status"]);
    assert_eq!(status(&upstream_ostree()), status(&rostree()));
    assert_eq!(status(&rostree()).matches("  testos ").count(), 2);
}

/// GRUB 2 through its generator (`$OSTREE_GRUB2_EXEC`), on BIOS (`boot/grub2/grub.cfg`, a
/// link into the loader) and on EFI (`boot/efi/EFI/<vendor>/grub.cfg`, replaced in place):
/// both tools run it the same way and say the same.
#[test]
fn grub2_configs_are_made_as_upstream_makes_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let generator = t.join("grub-generator");
    std::fs::write(
        &generator,
        "#!/bin/sh\nset -e\n[ \"$1\" = -o ]\nout=$2\n\
         { echo \"bootversion $_OSTREE_GRUB2_BOOTVERSION efi ${_OSTREE_GRUB2_IS_EFI:-0}\"\n\
           for e in $(dirname $out)/entries/*.conf; do grep -h '^title' $e || true; done\n\
         } > $out\n",
    )
    .expect("write");
    std::fs::set_permissions(
        &generator,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let repo = t.join("repo");
    let repo_arg = format!("--repo={}", repo.display());
    let upstream = upstream_ostree();
    run(&upstream, t, &[&repo_arg, "init", "--mode=archive"]);
    let tree = t.join("tree");
    os_tree(&tree, "a kernel\n");
    let tree_arg = format!("--tree=dir={}", tree.display());
    run(&upstream, t, &[&repo_arg, "commit", "-b", "os", &tree_arg]);
    for efi in [false, true] {
        let mut outputs = Vec::new();
        for bin in [upstream.clone(), rostree()] {
            let sysroot = t.join(format!(
                "{}-{efi}",
                bin.file_name().expect("name").to_string_lossy()
            ));
            std::fs::create_dir(&sysroot).expect("mkdir");
            let s = sysroot.to_str().expect("utf-8");
            run(&bin, &sysroot, &["admin", "init-fs", "--modern", s]);
            run(&bin, &sysroot, &["admin", "os-init", "testos"]);
            let config = match efi {
                false => {
                    std::fs::create_dir_all(sysroot.join("boot/grub2")).expect("mkdir");
                    // Dangling until a loader has a grub.cfg, and GRUB's all the same.
                    std::os::unix::fs::symlink(
                        "../loader/grub.cfg",
                        sysroot.join("boot/grub2/grub.cfg"),
                    )
                    .expect("symlink");
                    "boot/grub2/grub.cfg"
                }
                true => {
                    std::fs::create_dir_all(sysroot.join("boot/efi/EFI/vendor")).expect("mkdir");
                    std::fs::write(sysroot.join("boot/efi/EFI/vendor/grub.cfg"), "first\n")
                        .expect("write");
                    "boot/efi/EFI/vendor/grub.cfg"
                }
            };
            run(
                &bin,
                &sysroot,
                &[
                    &format!("--repo={s}/ostree/repo"),
                    "pull-local",
                    repo.to_str().expect("utf-8"),
                    "os",
                ],
            );
            let mut said = String::new();
            for _ in 0..2 {
                let out = Invocation::new(&bin)
                    .env("OSTREE_SYSROOT", &sysroot)
                    .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
                    .env("OSTREE_GRUB2_EXEC", &generator)
                    .args(["admin", "deploy", "--os=testos", "os"])
                    .ok();
                said.push_str(&String::from_utf8_lossy(&out.stdout));
            }
            let read = |p: &str| std::fs::read_to_string(sysroot.join(p)).unwrap_or_default();
            outputs.push((said, read(config), read("boot/efi/EFI/vendor/grub.cfg.old")));
        }
        let [upstream_made, rostree_made] = [&outputs[0], &outputs[1]];
        assert_eq!(rostree_made, upstream_made, "efi: {efi}");
        assert!(
            outputs[1].1.starts_with("bootversion "),
            "efi {efi}: {:?}",
            outputs[1]
        );
        if efi {
            assert!(
                outputs[1].1.starts_with("bootversion 0 efi 1\n"),
                "{:?}",
                outputs[1]
            );
            assert!(
                outputs[1].0.contains("Bootloader updated"),
                "{:?}",
                outputs[1]
            );
        }
    }
}
