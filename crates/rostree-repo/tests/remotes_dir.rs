//! Remotes of a remotes directory (a system repository's `/etc/ostree/remotes.d`), as
//! upstream's `test-remotes-config-dir.js` drives them through its library.

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rostree_repo::remote::{IfExists, RemoteAddOptions};
use rostree_repo::remotes_dir::RemotesDir;
use rostree_repo::{Error, InitOptions, Repo, RepoMode};

struct Setup {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
}

impl Setup {
    fn new(files: &[(&str, &str)]) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_path_buf();
        std::fs::create_dir(root.join("remotes.d")).expect("mkdir");
        for (name, text) in files {
            std::fs::write(root.join("remotes.d").join(name), text).expect("write");
        }
        std::fs::create_dir(root.join("repo")).expect("mkdir");
        let dir = Dir::open_ambient_dir(root.join("repo"), ambient_authority()).expect("open");
        let options = InitOptions {
            mode: RepoMode::Archive,
            collection_id: None,
        };
        Repo::init(dir, root.join("repo"), &options).expect("init");
        Setup { _tmp: tmp, root }
    }

    fn open(&self, system: bool) -> Result<Repo, Error> {
        let dir = Dir::open_ambient_dir(self.root.join("repo"), ambient_authority()).expect("repo");
        let mut repo = Repo::open(dir, self.root.join("repo"))?;
        let parent = Dir::open_ambient_dir(&self.root, ambient_authority()).expect("root");
        let remotes = RemotesDir::open(parent, "remotes.d", self.root.join("remotes.d"))?;
        repo.attach_remotes_dir(remotes, system)?;
        Ok(repo)
    }

    fn has(&self, file: &str) -> bool {
        self.root.join("remotes.d").join(file).exists()
    }

    fn config(&self) -> String {
        std::fs::read_to_string(self.root.join("repo/config")).expect("config")
    }
}

fn add(repo: &mut Repo, name: &str, url: &str) -> Result<bool, Error> {
    let options = RemoteAddOptions {
        branches: vec!["test".into()],
        ..Default::default()
    };
    repo.add_remote(name, Some(url), &options)
}

fn set_add_remotes_config_dir(repo: &mut Repo, value: &str) {
    let mut config = repo.config().clone();
    config
        .set_string("core", "add-remotes-config-dir", value)
        .expect("set");
    repo.write_config(config).expect("write config");
}

#[test]
fn remotes_of_the_directory_are_read_added_and_deleted_as_upstream() {
    let setup = Setup::new(&[
        ("foo.conf", "[remote \"foo\"]\nurl=http://foo\n"),
        ("notes.txt", "[remote \"ignored\"]\nurl=http://x\n"),
    ]);
    let mut repo = setup.open(false).expect("open");
    assert_eq!(repo.remote_names(), ["foo"]);
    let foo = repo.remote("foo").expect("foo");
    assert_eq!(foo.url().expect("url"), "http://foo");
    assert_eq!(
        foo.file(),
        Some(setup.root.join("remotes.d/foo.conf").as_path())
    );

    // Not a system repository: a new remote goes to the repo config.
    add(&mut repo, "bar", "http://bar").expect("add bar");
    assert!(!setup.has("bar.conf"));
    assert!(setup.config().contains("[remote \"bar\"]"));

    // Deleting a remote of the directory deletes its file.
    assert!(repo.delete_remote("foo", false).expect("delete"));
    assert!(!setup.has("foo.conf"));
    assert!(matches!(
        repo.remote("foo"),
        Err(Error::RemoteNotFound { name }) if name == "foo"
    ));

    // add-remotes-config-dir=true sends new remotes to the directory.
    set_add_remotes_config_dir(&mut repo, "true");
    add(&mut repo, "baz", "http://baz").expect("add baz");
    assert!(setup.has("baz.conf"));
    assert!(!setup.config().contains("baz"));
    let again = add(&mut repo, "baz", "http://baz2").expect_err("exists");
    assert_eq!(
        again.to_string(),
        format!(
            "Remote configuration for \"baz\" already exists: {}",
            setup.root.join("remotes.d/baz.conf").display()
        )
    );
    // --force rewrites it where it is.
    let replace = RemoteAddOptions {
        if_exists: IfExists::Replace,
        ..Default::default()
    };
    repo.add_remote("baz", Some("http://baz2"), &replace)
        .expect("replace");
    let reopened = setup.open(false).expect("reopen");
    assert_eq!(
        reopened.remote("baz").expect("baz").url().expect("url"),
        "http://baz2"
    );
    assert!(!setup.config().contains("baz"));

    // The repo config may not define it again.
    let mut shadowing = repo.config().clone();
    shadowing
        .set_string("remote \"baz\"", "url", "http://elsewhere")
        .expect("set");
    let refused = repo.write_config(shadowing).expect_err("shadowing refused");
    assert!(matches!(refused, Error::RemoteInFile { .. }), "{refused}");
    assert!(
        refused
            .to_string()
            .starts_with("Remote \"baz\" already defined in ")
    );
}

#[test]
fn a_system_repository_adds_to_the_directory_unless_told_not_to() {
    let setup = Setup::new(&[]);
    let mut repo = setup.open(true).expect("open");
    add(&mut repo, "one", "http://one").expect("add");
    assert!(setup.has("one.conf"));
    set_add_remotes_config_dir(&mut repo, "false");
    add(&mut repo, "two", "http://two").expect("add");
    assert!(!setup.has("two.conf"));
    assert!(setup.config().contains("[remote \"two\"]"));
    assert_eq!(repo.remote_names(), ["one", "two"]);
}

#[test]
fn a_remote_defined_twice_is_refused() {
    /// What is wrong, the remotes files, whether the repo config defines `c` too.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        (
            "two files",
            &[
                ("a.conf", "[remote \"x\"]\nurl=http://a\n"),
                ("b.conf", "[remote \"x\"]\nurl=http://b\n"),
            ],
            false,
        ),
        (
            "file and config",
            &[("a.conf", "[remote \"c\"]\nurl=http://a\n")],
            true,
        ),
    ];
    for (what, files, in_config) in cases {
        let setup = Setup::new(files);
        if *in_config {
            let text = setup.config() + "\n[remote \"c\"]\nurl=http://c\n";
            std::fs::write(setup.root.join("repo/config"), text).expect("write");
        }
        let err = setup.open(true).expect_err(what);
        assert!(
            matches!(err, Error::RemoteDefinedTwice { .. }),
            "{what}: {err}"
        );
        assert!(
            err.to_string()
                .starts_with("Multiple specifications found for remote"),
            "{what}: {err}"
        );
    }
    let bad = Setup::new(&[("bad.conf", "not a key file\n")]);
    let err = bad.open(true).expect_err("bad key file");
    assert!(matches!(err, Error::InvalidKeyFile { .. }), "{err}");
}
