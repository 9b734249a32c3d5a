use super::*;

/// The typed errors read exactly as the messages they replaced (the CLI prints them and
/// upstream's tests match them).
#[test]
fn typed_errors_keep_their_words() {
    let c = Checksum::from_array([0xab; 32]);
    let d = Checksum::from_array([0x01; 32]);
    let max = rostree_core::object::MAX_TREE_DEPTH;
    let io = || io::Error::from_raw_os_error(5);
    // A regex that does not compile (in a variable: clippy refuses the literal).
    let unclosed = String::from("(");
    let cases: Vec<(Error, String)> = vec![
        (
            Error::NoParent { commit: c },
            format!("Commit {c} has no parent"),
        ),
        (
            Error::AmbiguousRev { rev: "abc".into() },
            "Refspec abc not unique".into(),
        ),
        (
            Error::InvalidRefFile {
                path: "refs/heads/main".into(),
            },
            "Invalid checksum in ref file refs/heads/main".into(),
        ),
        (
            Error::RefConflict {
                name: "a".into(),
                inner: "b/c".into(),
            },
            "Conflict: a/b/c exists under a when attempting write".into(),
        ),
        (
            Error::RefHasAlias {
                name: "main".into(),
                alias: "stable".into(),
            },
            "Ref 'main' has an active alias: 'stable'".into(),
        ),
        (
            Error::ReadUnsupported {
                mode: RepoMode::BareSplitXattrs,
            },
            "Reading bare-split-xattrs repositories is not supported yet".into(),
        ),
        (
            Error::WriteUnsupported {
                mode: RepoMode::BareSplitXattrs,
            },
            "Writing to bare-split-xattrs repositories is not supported".into(),
        ),
        (
            Error::InvalidMetadataObject {
                objtype: ObjectType::DirTree,
                checksum: c,
                source: rostree_core::gvariant::Error::TooDeep,
            },
            "Refusing to write invalid dirtree object: GVariant nesting too deep".into(),
        ),
        (
            Error::InvalidContentMode {
                checksum: c,
                mode: 0o104755,
                bits: 0o4000,
                writing: false,
            },
            format!("Content object {c}: invalid mode 0104755 with bits 04000"),
        ),
        (
            Error::InvalidContentMode {
                checksum: c,
                mode: 0o100777,
                bits: 0o2,
                writing: true,
            },
            format!(
                "Writing content object: Content object {c}: invalid mode 0100777 with \
                 bits 00002"
            ),
        ),
        (
            Error::ChangedWhileCommitted {
                path: "repo/tmp/staging/ab/cd.file".into(),
                checksum: c,
            },
            "repo/tmp/staging/ab/cd.file changed while it was being committed".into(),
        ),
        (
            Error::InvalidOptions("--union-identical requires --require-hardlinks"),
            "--union-identical requires --require-hardlinks".into(),
        ),
        (
            Error::FileExists {
                path: "out/etc/x".into(),
            },
            "out/etc/x: File exists".into(),
        ),
        (
            Error::NotIdentical {
                checksum: c,
                name: "x".into(),
                path: "out/x".into(),
            },
            format!(
                "Hardlinking {} to x: File exists",
                c.relative_path(ObjectType::File, false)
            ),
        ),
        (
            Error::DirectoryInTheWay {
                path: "out/etc".into(),
            },
            "Cannot replace directory with file: out/etc".into(),
        ),
        (
            Error::CrossDevice {
                path: "out".into(),
                src: 42,
                destination: 43,
            },
            "Unable to do hardlink checkout across devices (src=42 destination=43)".into(),
        ),
        (
            Error::InvalidWhiteout {
                path: "out/.wh.".into(),
            },
            "Invalid whiteout 'out/.wh.'".into(),
        ),
        (
            Error::TooDeep {
                path: "/a/b".into(),
                walk: TreeWalk::Checkout,
            },
            "Directories nested too deeply at /a/b".into(),
        ),
        (
            Error::TooDeep {
                path: "tree/a/b".into(),
                walk: TreeWalk::Commit,
            },
            format!("Directories nested deeper than {max} levels at tree/a/b"),
        ),
        (
            Error::TooDeep {
                path: "a/b".into(),
                walk: TreeWalk::Archive,
            },
            format!("Path nested deeper than {max} levels in tar: a/b"),
        ),
        (
            Error::NoSuchPath {
                path: "/usr/lib".into(),
            },
            "No such file or directory: /usr/lib".into(),
        ),
        (
            Error::NotADirectory { path: "a/b".into() },
            "Not a directory: a/b".into(),
        ),
        (
            Error::FileOverDirectory { name: "etc".into() },
            "Can't replace directory with file: etc".into(),
        ),
        (
            Error::DirectoryOverFile { name: "etc".into() },
            "Can't replace file with directory: etc".into(),
        ),
        (
            Error::UnsupportedFileType {
                name: "pipe".into(),
            },
            "Not a regular file or symlink: pipe".into(),
        ),
        (
            Error::NonUtf8SymlinkTarget {
                path: "tree/link".into(),
            },
            "Invalid UTF-8 in symlink target of tree/link".into(),
        ),
        (
            Error::NonUtf8FileName {
                name: "caf\u{e9}".into(),
                dir: "tree/sub".into(),
            },
            "Invalid UTF-8 in filename caf\u{e9} under tree/sub".into(),
        ),
        (
            Error::MissingMetadataKey {
                key: "version".into(),
                commit: c,
            },
            format!("Missing metadata key 'version' from commit '{c}'"),
        ),
        (
            Error::ReadingArchive {
                path: "x.tar".into(),
                source: io(),
            },
            format!("Reading tar x.tar: {}", io()),
        ),
        (
            Error::InvalidArchivePath {
                path: "../x".into(),
                archive: "x.tar".into(),
            },
            "Invalid path \"../x\" in tar x.tar".into(),
        ),
        (
            Error::UnknownHardLinkTarget {
                target: "a/b".into(),
                archive: "x.tar".into(),
            },
            "Hard link to unknown file a/b in tar".into(),
        ),
        (
            Error::WritingArchive { source: io() },
            format!("Writing tar: {}", io()),
        ),
        (
            Error::CommitReferenced {
                commit: c,
                name: "main".into(),
            },
            format!("Commit '{c}' is referenced by 'main'"),
        ),
        (
            Error::RefCommitMissing {
                collection_id: None,
                name: "main".into(),
                commit: c,
            },
            format!("Loading commit for ref main: No such metadata object {c}.commit"),
        ),
        (
            Error::RefCommitMissing {
                collection_id: Some("org.example.Os".into()),
                name: "main".into(),
                commit: c,
            },
            format!(
                "Loading commit for ref (org.example.Os, main): No such metadata object \
                 {c}.commit"
            ),
        ),
        (
            Error::InvalidBindings {
                commit: c,
                source: rostree_core::object::BindingError("no".into()),
            },
            format!("Commit {c}: no"),
        ),
        (
            Error::BoundRefMissing {
                commit: c,
                collection_id: None,
                name: "main".into(),
            },
            format!("Ref \u{2018}main\u{2019} in bindings for commit {c} does not exist"),
        ),
        (
            Error::BoundRefMismatch {
                commit: c,
                collection_id: Some("org.example.Os".into()),
                name: "main".into(),
                target: d,
            },
            format!(
                "Collection\u{2013}ref (org.example.Os, main) in bindings for commit {c} \
                 does not resolve to that commit"
            ),
        ),
        (
            Error::DeltaNotFound {
                name: crate::deltas::DeltaName {
                    from: Some(d),
                    to: c,
                },
            },
            format!("Can't find delta {d}-{c}"),
        ),
        (
            Error::InvalidTarFilter {
                spec: "x".into(),
                source: None,
            },
            "Missing ',' in --tar-pathname-filter".into(),
        ),
        (
            Error::InvalidTarFilter {
                spec: "(,y".into(),
                source: regex::Regex::new(&unclosed).err(),
            },
            format!(
                "--tar-pathname-filter: {}",
                regex::Regex::new(&unclosed).expect_err("unclosed group")
            ),
        ),
        (
            Error::NonUtf8ArchivePath {
                archive: "layer.tar".into(),
            },
            "Invalid UTF-8 in a path in tar layer.tar".into(),
        ),
        (
            Error::LinkWithoutTarget {
                kind: "symlink",
                path: "a".into(),
            },
            "symlink without target in tar: a".into(),
        ),
        (
            Error::NonUtf8LinkTarget {
                kind: "hardlink",
                path: "a".into(),
            },
            "Invalid UTF-8 in hardlink target of a".into(),
        ),
        (
            Error::InvalidRemoteSetting {
                remote: "o".into(),
                key: "url".into(),
                source: Box::new(
                    rostree_core::keyfile::KeyFile::new()
                        .set_string("remote \"o\"", "bad\nkey", "v")
                        .expect_err("a newline in a key"),
                ),
            },
            format!(
                "Remote \"o\": url: {}",
                rostree_core::keyfile::KeyFile::new()
                    .set_string("remote \"o\"", "bad\nkey", "v")
                    .expect_err("a newline in a key")
            ),
        ),
        (
            Error::FsckFailed {
                report: "fsck x.commit: y".into(),
            },
            "fsck x.commit: y".into(),
        ),
        (
            Error::InvalidStatoverride { line: "x".into() },
            "Malformed statoverride file (no space found)".into(),
        ),
        (Error::EmptyTree, "Can't commit an empty tree".into()),
        (
            Error::KernelNotFound,
            "Failed to find kernel in /usr/lib/modules".into(),
        ),
        (
            Error::NonUtf8Target { path: "t".into() },
            "Invalid UTF-8 in checkout target".into(),
        ),
        (
            Error::InvalidFileName {
                name: "..".into(),
                reason: "Invalid filename ..".into(),
            },
            "Invalid filename ..".into(),
        ),
        (
            Error::PathBelowFile {
                path: "/etc/os-release/x".into(),
            },
            "Not a directory".into(),
        ),
        (
            Error::SymlinkLoop {
                path: "/a/b".into(),
            },
            "Too many levels of symbolic links: /a/b".into(),
        ),
        (
            Error::from(Checksum::parse_rev("abc").expect_err("not a checksum")),
            "Invalid rev abc".into(),
        ),
        (
            Error::NonUtf8DiffName {
                name: std::ffi::OsString::from("n"),
            },
            "Invalid UTF-8 in file name \"n\"".into(),
        ),
        (
            Error::InjectedFailure("OSTREE_REPO_TEST_ERROR_PRE_COMMIT specified"),
            "OSTREE_REPO_TEST_ERROR_PRE_COMMIT specified".into(),
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error.to_string(), expected, "{error:?}");
    }
}
