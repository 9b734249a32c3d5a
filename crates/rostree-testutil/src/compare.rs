//! Comparing the `objects/` directories of two repositories of the same mode.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::repo::Mode;

/// What is compared for one content object.
#[derive(Debug, PartialEq, Eq)]
struct ContentFacts {
    /// `st_mode` of the object file (type and permission bits).
    st_mode: u32,
    uid: u32,
    gid: u32,
    /// File content, or symlink target.
    data: Vec<u8>,
    /// All xattrs of the object file, sorted by name.
    xattrs: Vec<(String, Vec<u8>)>,
    /// Whether the mtime is 0 (upstream resets it for bare regular files).
    mtime_zero: bool,
}

/// What is compared for an archive `.filez`.
#[derive(Debug, PartialEq, Eq)]
struct ArchiveFacts {
    /// Permission bits of the `.filez` file.
    perms: u32,
    /// The length prefix, padding and `(tuuuusa(ayay))` header, verbatim.
    header: Vec<u8>,
    /// The decompressed payload.
    payload: Vec<u8>,
}

/// Asserts that repos `a` and `b` (the first being the reference, normally
/// upstream's) hold the same objects:
///
/// - the same set of file names under `objects/`;
/// - metadata objects (`.commit`, `.dirtree`, `.dirmeta`, `.commitmeta`,
///   `.tombstone-commit`) byte-identical, with the same permission bits;
/// - content objects in `bare`, `bare-user` and `bare-user-only` repos: same file
///   type, `st_mode`, uid/gid, content (or symlink target) and xattrs (so in
///   `bare-user`, the `user.ostreemeta` xattr), and an mtime of 0 wherever the
///   reference has one;
/// - `.filez` objects in `archive` repos: same permission bits, same header bytes
///   and same decompressed payload (the zlib stream itself may differ).
///
/// # Panics
///
/// Panics with the list of every difference found.
pub fn compare_object_dirs(a: &Path, b: &Path) {
    let problems = object_dir_differences(a, b);
    assert!(
        problems.is_empty(),
        "objects of {} (a) and {} (b) differ ({} problems):\n{}",
        a.display(),
        b.display(),
        problems.len(),
        problems.join("\n")
    );
}

/// The differences [`compare_object_dirs`] would report, without panicking on them.
pub fn object_dir_differences(a: &Path, b: &Path) -> Vec<String> {
    let mode = Mode::of_repo(a);
    assert_eq!(
        mode,
        Mode::of_repo(b),
        "repos {} and {} have different modes",
        a.display(),
        b.display()
    );
    let list_a = list_objects(a);
    let list_b = list_objects(b);
    let mut problems = Vec::new();
    for name in list_a.keys() {
        if !list_b.contains_key(name) {
            problems.push(format!("only in {}: {}", a.display(), name.display()));
        }
    }
    for name in list_b.keys() {
        if !list_a.contains_key(name) {
            problems.push(format!("only in {}: {}", b.display(), name.display()));
        }
    }
    for (name, path_a) in &list_a {
        let Some(path_b) = list_b.get(name) else {
            continue;
        };
        let ext = name
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        let shown = name.display();
        match ext {
            "commit" | "dirtree" | "dirmeta" | "commitmeta" | "tombstone-commit" => {
                let da = read(path_a);
                let db = read(path_b);
                if da != db {
                    problems.push(format!(
                        "metadata object {shown} differs:\n  a: {}\n  b: {}",
                        hex::encode(&da),
                        hex::encode(&db)
                    ));
                }
                let (pa, pb) = (perms(path_a), perms(path_b));
                if pa != pb {
                    problems.push(format!("{shown}: permissions {pa:o} vs {pb:o}"));
                }
            }
            "filez" => {
                let (fa, fb) = (archive_facts(path_a), archive_facts(path_b));
                if fa != fb {
                    problems.push(format!(
                        "archive object {shown} differs:\n  a: perms {:o} header {} payload {} bytes\n  b: perms {:o} header {} payload {} bytes{}",
                        fa.perms,
                        hex::encode(&fa.header),
                        fa.payload.len(),
                        fb.perms,
                        hex::encode(&fb.header),
                        fb.payload.len(),
                        if fa.payload == fb.payload {
                            ""
                        } else {
                            " (payloads differ)"
                        }
                    ));
                }
            }
            "file" => {
                let (fa, fb) = (content_facts(path_a), content_facts(path_b));
                let mut diffs = Vec::new();
                if fa.st_mode != fb.st_mode {
                    diffs.push(format!("st_mode {:o} vs {:o}", fa.st_mode, fb.st_mode));
                }
                if (fa.uid, fa.gid) != (fb.uid, fb.gid) {
                    diffs.push(format!(
                        "owner {}:{} vs {}:{}",
                        fa.uid, fa.gid, fb.uid, fb.gid
                    ));
                }
                if fa.data != fb.data {
                    diffs.push(format!(
                        "content ({} vs {} bytes)",
                        fa.data.len(),
                        fb.data.len()
                    ));
                }
                if fa.xattrs != fb.xattrs {
                    diffs.push(format!(
                        "xattrs {} vs {}",
                        show_xattrs(&fa.xattrs),
                        show_xattrs(&fb.xattrs)
                    ));
                }
                if fa.mtime_zero && !fb.mtime_zero {
                    diffs.push("mtime is 0 in a but not in b".to_owned());
                }
                if !diffs.is_empty() {
                    problems.push(format!(
                        "{mode} content object {shown}: {}",
                        diffs.join("; ")
                    ));
                }
            }
            _ => {
                // payload-link, file-xattrs...: compare like metadata.
                if read_any(path_a) != read_any(path_b) {
                    problems.push(format!("object {shown} differs"));
                }
            }
        }
    }
    problems
}

/// Every non-directory under `objects/`, keyed by its path relative to `objects/`.
fn list_objects(repo: &Path) -> BTreeMap<PathBuf, PathBuf> {
    let mut out = BTreeMap::new();
    let objects = repo.join("objects");
    let prefixes = std::fs::read_dir(&objects)
        .unwrap_or_else(|e| panic!("readdir {}: {e}", objects.display()));
    for prefix in prefixes {
        let prefix = prefix.expect("readdir entry");
        let ppath = prefix.path();
        if !prefix.file_type().expect("file type").is_dir() {
            out.insert(PathBuf::from(prefix.file_name()), ppath);
            continue;
        }
        for obj in
            std::fs::read_dir(&ppath).unwrap_or_else(|e| panic!("readdir {}: {e}", ppath.display()))
        {
            let obj = obj.expect("readdir entry");
            out.insert(
                Path::new(&prefix.file_name()).join(obj.file_name()),
                obj.path(),
            );
        }
    }
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_any(path: &Path) -> Vec<u8> {
    match std::fs::read_link(path) {
        Ok(target) => target.into_os_string().into_encoded_bytes(),
        Err(_) => read(path),
    }
}

fn lstat(path: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()))
}

fn perms(path: &Path) -> u32 {
    lstat(path).mode() & 0o7777
}

fn xattrs_of(path: &Path) -> Vec<(String, Vec<u8>)> {
    let names = xattr::list(path).unwrap_or_else(|e| panic!("listxattr {}: {e}", path.display()));
    let mut out: Vec<(String, Vec<u8>)> = names
        .map(|name| {
            let value = xattr::get(path, &name)
                .unwrap_or_else(|e| panic!("getxattr {}: {e}", path.display()))
                .unwrap_or_default();
            (name.to_string_lossy().into_owned(), value)
        })
        .collect();
    out.sort();
    out
}

fn show_xattrs(x: &[(String, Vec<u8>)]) -> String {
    let items: Vec<String> = x
        .iter()
        .map(|(k, v)| format!("{k}={}", hex::encode(v)))
        .collect();
    format!("[{}]", items.join(", "))
}

fn content_facts(path: &Path) -> ContentFacts {
    let meta = lstat(path);
    let data = if meta.file_type().is_symlink() {
        read_any(path)
    } else {
        read(path)
    };
    ContentFacts {
        st_mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
        data,
        xattrs: xattrs_of(path),
        mtime_zero: meta.file_type().is_file() && meta.mtime() == 0,
    }
}

fn archive_facts(path: &Path) -> ArchiveFacts {
    let data = read(path);
    assert!(
        data.len() >= 8,
        "{}: shorter than its header",
        path.display()
    );
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let end = 8 + len;
    assert!(
        data.len() >= end,
        "{}: header length {len} exceeds file size {}",
        path.display(),
        data.len()
    );
    let mut payload = Vec::new();
    if data.len() > end {
        flate2::read::DeflateDecoder::new(&data[end..])
            .read_to_end(&mut payload)
            .unwrap_or_else(|e| panic!("{}: bad raw deflate payload: {e}", path.display()));
    }
    ArchiveFacts {
        perms: lstat(path).mode() & 0o7777,
        header: data[..end].to_vec(),
        payload,
    }
}
