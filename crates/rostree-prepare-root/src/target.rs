//! Which deployment to boot: the `ostree=` kernel argument, checked, and resolved through
//! the `boot.N` link farm to a deployment directory.
//!
//! ```text
//! ostree=/ostree/boot.1/debian/<bootcsum>/0
//!   <sysroot>/ostree/boot.1 -> boot.1.0           (symlinks, written by `admin deploy`)
//!   <sysroot>/ostree/boot.1.0/debian/<bootcsum>/0
//!                    -> ../../../deploy/debian/deploy/<checksum>.0
//! ```

use std::path::{Component, Path, PathBuf};

use crate::Error;

/// The value of the first `ostree=` argument of a kernel command line, as upstream takes it.
pub fn ostree_karg(cmdline: &str) -> Option<&str> {
    cmdline
        .split_ascii_whitespace()
        .find_map(|arg| arg.strip_prefix("ostree="))
}

/// Refuses a target that does not name something under `/ostree/`: an absolute path, no
/// `..`, nothing but ordinary names. Only what `admin deploy` writes gets further.
pub fn check_target(target: &str) -> Result<(), Error> {
    let path = Path::new(target);
    let mut components = path.components();
    let outside = || Error::TargetOutside(target.to_string());
    if components.next() != Some(Component::RootDir)
        || components.next() != Some(Component::Normal("ostree".as_ref()))
    {
        return Err(outside());
    }
    let mut names = 0;
    for component in components {
        match component {
            Component::Normal(_) => names += 1,
            _ => return Err(outside()),
        }
    }
    if names == 0 {
        return Err(outside());
    }
    Ok(())
}

/// Resolves `target` under the physical root `sysroot` to the deployment directory it
/// links to, which must be `<sysroot>/ostree/deploy/<stateroot>/deploy/<name>`.
pub fn resolve_deployment(sysroot: &Path, target: &str) -> Result<PathBuf, Error> {
    check_target(target)?;
    let link = sysroot.join(target.trim_start_matches('/'));
    let meta = std::fs::symlink_metadata(&link).map_err(|source| Error::Io {
        what: "finding the OSTree target",
        path: link.clone(),
        source,
    })?;
    if !meta.file_type().is_symlink() {
        return Err(Error::NotALink(link));
    }
    let deployment = std::fs::canonicalize(&link).map_err(|source| {
        if source.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            Error::Loop(link.clone())
        } else {
            Error::Io {
                what: "resolving the OSTree target",
                path: link.clone(),
                source,
            }
        }
    })?;
    let deploy_root = sysroot.join("ostree/deploy");
    let inside = deployment
        .strip_prefix(&deploy_root)
        .ok()
        .map(|rest| rest.components().collect::<Vec<_>>());
    let well_placed = matches!(
        inside.as_deref(),
        Some([Component::Normal(_), Component::Normal(deploy), Component::Normal(_)])
            if *deploy == "deploy"
    );
    if !well_placed {
        return Err(Error::NotADeployment {
            target: target.to_string(),
            resolved: deployment,
        });
    }
    let meta = std::fs::metadata(&deployment).map_err(|source| Error::Io {
        what: "opening the deployment",
        path: deployment.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(Error::NotADeployment {
            target: target.to_string(),
            resolved: deployment,
        });
    }
    Ok(deployment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn karg() {
        let cases = [
            (
                "root=/dev/vda ostree=/ostree/boot.1/os/abc/0 rw",
                Some("/ostree/boot.1/os/abc/0"),
            ),
            ("ostree=/a ostree=/b", Some("/a")),
            ("  quiet\tostree=/x  ", Some("/x")),
            ("root=/dev/vda myostree=/x", None),
            ("", None),
        ];
        for (cmdline, want) in cases {
            assert_eq!(ostree_karg(cmdline), want, "{cmdline:?}");
        }
    }

    #[test]
    fn targets() {
        let cases = [
            ("/ostree/boot.1/os/abc/0", true),
            ("/ostree/x", true),
            ("/ostree", false),
            ("/ostree/", false),
            ("/ostree/boot.1/../../etc", false),
            ("/etc/passwd", false),
            ("ostree/boot.1/os/abc/0", false),
            ("/ostree/./boot.1", true), // `.` is dropped by Path, not a way out
            ("", false),
        ];
        for (target, ok) in cases {
            assert_eq!(check_target(target).is_ok(), ok, "{target:?}");
        }
    }

    /// A sysroot laid out as `admin deploy` leaves it, with extra links for the bad cases.
    fn sysroot() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let deployment = root.join("ostree/deploy/os/deploy/abc.0");
        std::fs::create_dir_all(&deployment).expect("deployment");
        std::fs::create_dir_all(root.join("ostree/boot.1.0/os/abc")).expect("boot dir");
        symlink("boot.1.0", root.join("ostree/boot.1")).expect("link");
        let farm = root.join("ostree/boot.1.0/os/abc");
        symlink("../../../deploy/os/deploy/abc.0", farm.join("0")).expect("link");
        symlink("../../../deploy/os/deploy/gone.0", farm.join("1")).expect("link");
        symlink("loop", farm.join("loop")).expect("link");
        symlink("/etc", farm.join("2")).expect("link");
        symlink("../../../deploy/os", farm.join("3")).expect("link");
        std::fs::write(farm.join("4"), "").expect("file");
        dir
    }

    #[test]
    fn resolving() {
        let dir = sysroot();
        let root = dir.path();
        let got = resolve_deployment(root, "/ostree/boot.1/os/abc/0").expect("resolves");
        assert_eq!(
            got,
            root.canonicalize()
                .expect("canonical")
                .join("ostree/deploy/os/deploy/abc.0")
        );
        let cases: &[(&str, &str)] = &[
            ("/ostree/boot.1/os/abc/1", "resolving the OSTree target"),
            ("/ostree/boot.1/os/abc/loop", "symlink loop"),
            ("/ostree/boot.1/os/abc/2", "not a deployment"),
            ("/ostree/boot.1/os/abc/3", "not a deployment"),
            ("/ostree/boot.1/os/abc/4", "not a symbolic link"),
            ("/ostree/boot.1/os/abc/5", "finding the OSTree target"),
            ("/ostree/../etc", "outside /ostree"),
        ];
        for (target, want) in cases {
            let err = resolve_deployment(root, target)
                .expect_err(target)
                .to_string();
            assert!(err.contains(want), "{target}: {err}");
        }
    }
}
