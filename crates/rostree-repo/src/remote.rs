//! Remotes: where a repository pulls from, kept as `[remote "NAME"]` groups of its config.
//!
//! ```text
//! config                   [remote "origin"]
//!                          url=https://example.com/repo      (or metalink=…, mirrorlist=…)
//!                          branches=stable;testing;
//!                          gpg-verify=false
//! <remote>.cookies.txt     the remote's cookie jar (Netscape format, tab-separated)
//! ```
//!
//! Upstream also reads `remotes.d/*.conf` under the sysroot's `/etc/ostree` for the system
//! repository; that comes with the sysroot.

use rostree_core::keyfile::KeyFile;
use rostree_core::refname;

use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::remotes_dir::RemotesDir;
use crate::repo::Repo;

/// The config group holding a remote.
fn group_name(name: &str) -> String {
    format!("remote \"{name}\"")
}

/// One remote's settings.
#[derive(Clone, Debug)]
pub struct Remote {
    name: String,
    /// The repo config or remotes file, of which only this remote's group is read.
    config: KeyFile,
    /// The remotes file defining it, when it is not in the repo config.
    file: Option<PathBuf>,
}

impl Remote {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file of a remotes directory that defines it (`None`: the repository's config).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A setting as a string, if present.
    pub fn option(&self, key: &str) -> Result<Option<String>> {
        self.config
            .get_string(&group_name(&self.name), key)
            .map_err(|e| self.bad(key, e))
    }

    /// A boolean setting, or `default` when absent.
    pub fn option_bool(&self, key: &str, default: bool) -> Result<bool> {
        Ok(self
            .config
            .get_bool(&group_name(&self.name), key)
            .map_err(|e| self.bad(key, e))?
            .unwrap_or(default))
    }

    /// A list setting (`a;b;`), empty when absent.
    pub fn option_list(&self, key: &str) -> Result<Vec<String>> {
        Ok(self
            .config
            .get_string_list(&group_name(&self.name), key)
            .map_err(|e| self.bad(key, e))?
            .unwrap_or_default())
    }

    /// Where it is (`url`; a metalink-only remote has none, as upstream reports).
    pub fn url(&self) -> Result<String> {
        self.option("url")?
            .ok_or_else(|| Error::Config(format!("No \"url\" option in remote \"{}\"", self.name)))
    }

    /// Where its files are fetched from: `metalink=URL` when it has a metalink (which
    /// wins, as upstream), else its `url` (perhaps `mirrorlist=URL`).
    pub fn fetch_url(&self) -> Result<String> {
        match self.option("metalink")? {
            Some(metalink) => Ok(format!("metalink={metalink}")),
            None => self.url(),
        }
    }

    fn bad(&self, key: &str, e: impl std::fmt::Display) -> Error {
        Error::Config(format!("Remote \"{}\": {key}: {e}", self.name))
    }
}

/// How [`Repo::add_remote`] treats a remote that exists already.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IfExists {
    /// Fail (the default).
    #[default]
    Fail,
    /// Leave it as it is (`--if-not-exists`).
    Keep,
    /// Replace it (`--force`).
    Replace,
}

/// What [`Repo::add_remote`] writes besides the URL, in upstream's key order.
#[derive(Clone, Debug, Default)]
pub struct RemoteAddOptions {
    /// Branches to pull by default (`branches=`).
    pub branches: Vec<String>,
    /// `--set=KEY=VALUE` settings, in order.
    pub settings: Vec<(String, String)>,
    /// What to do when the remote exists.
    pub if_exists: IfExists,
}

impl Repo {
    /// The remotes' names, sorted.
    pub fn remote_names(&self) -> Vec<String> {
        let files = self.remotes_dir().into_iter().flat_map(|d| &d.files);
        let mut names: Vec<String> = std::iter::once(self.config())
            .chain(files.map(|f| &f.config))
            .flat_map(remote_groups)
            .collect();
        // The parent repository's remotes are this one's too.
        if let Some(parent) = self.parent() {
            names.extend(parent.remote_names());
        }
        names.sort();
        names.dedup();
        names
    }

    /// A remote by name.
    pub fn remote(&self, name: &str) -> Result<Remote> {
        let group = group_name(name);
        if self.config().has_group(&group) {
            return Ok(Remote {
                name: name.to_owned(),
                config: self.config().clone(),
                file: None,
            });
        }
        if let Some((dir, file)) = self.remotes_file_of(&group) {
            return Ok(Remote {
                name: name.to_owned(),
                config: file.config.clone(),
                file: Some(dir.path().join(&file.name)),
            });
        }
        // A remote of the parent repository counts as one of this one, as upstream.
        match self.parent() {
            Some(parent) => parent.remote(name),
            None => Err(Error::RemoteNotFound {
                name: name.to_owned(),
            }),
        }
    }

    /// The remotes directory and its file that define the remote of `group`, if any.
    fn remotes_file_of(
        &self,
        group: &str,
    ) -> Option<(&RemotesDir, &crate::remotes_dir::RemoteFile)> {
        let dir = self.remotes_dir()?;
        Some((dir, dir.file_of(group)?))
    }

    /// Attaches the remotes directory of a system repository (`/etc/ostree/remotes.d`):
    /// its remotes become this repository's, and `remote add` writes new ones there unless
    /// `core.add-remotes-config-dir` is false (on for a `system` repository, off otherwise,
    /// as upstream). A remote defined both here and there is refused.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use cap_std::{ambient_authority, fs::Dir};
    /// use rostree_repo::remotes_dir::RemotesDir;
    /// use rostree_repo::{InitOptions, Repo, RepoMode};
    ///
    /// let root = tempfile::tempdir()?; // stands for `/`
    /// std::fs::create_dir_all(root.path().join("etc/ostree/remotes.d"))?;
    /// std::fs::write(
    ///     root.path().join("etc/ostree/remotes.d/os.conf"),
    ///     "[remote \"os\"]\nurl=https://example.com/os\n",
    /// )?;
    /// std::fs::create_dir_all(root.path().join("ostree/repo"))?;
    /// let path = root.path().join("ostree/repo");
    /// let init = InitOptions { mode: RepoMode::Bare, ..Default::default() };
    /// let mut repo = Repo::init(Dir::open_ambient_dir(&path, ambient_authority())?, &path, &init)?;
    ///
    /// let root_dir = Dir::open_ambient_dir(root.path(), ambient_authority())?;
    /// let remotes = RemotesDir::open(root_dir, "etc/ostree/remotes.d", "/etc/ostree/remotes.d")?;
    /// repo.attach_remotes_dir(remotes, true)?;
    /// assert_eq!(repo.remote("os")?.url()?, "https://example.com/os");
    /// # Ok(()) }
    /// ```
    pub fn attach_remotes_dir(&mut self, dir: RemotesDir, system: bool) -> Result<()> {
        let mut seen: Vec<String> = remote_groups(self.config()).collect();
        for file in &dir.files {
            for name in remote_groups(&file.config) {
                if seen.contains(&name) {
                    return Err(Error::RemoteDefinedTwice { name });
                }
                seen.push(name);
            }
        }
        self.set_remotes_dir(dir, system);
        Ok(())
    }

    /// Adds a remote; returns whether anything was written. A URL starting `metalink=` is
    /// stored as `metalink`, as upstream does; `mirrorlist=` stays part of the `url`. A
    /// remote of a custom backend may have no URL.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use rostree_repo::remote::{IfExists, RemoteAddOptions};
    /// use rostree_repo::{InitOptions, Repo, RepoMode};
    ///
    /// let tmp = tempfile::tempdir()?;
    /// let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority())?;
    /// let init = InitOptions { mode: RepoMode::Archive, ..Default::default() };
    /// let mut repo = Repo::init(dir, tmp.path(), &init)?;
    ///
    /// // `ostree remote add --set=gpg-verify=false origin https://example.com/repo stable`
    /// let options = RemoteAddOptions {
    ///     branches: vec!["stable".into()],
    ///     settings: vec![("gpg-verify".into(), "false".into())],
    ///     if_exists: IfExists::Fail,
    /// };
    /// assert!(repo.add_remote("origin", Some("https://example.com/repo"), &options)?);
    /// let origin = repo.remote("origin")?;
    /// assert_eq!(origin.url()?, "https://example.com/repo");
    /// assert_eq!(origin.option_list("branches")?, ["stable"]);
    /// assert!(!origin.option_bool("gpg-verify", true)?);
    ///
    /// // A second add is refused, as upstream refuses it; `--if-not-exists` keeps it.
    /// assert!(repo.add_remote("origin", Some("https://other"), &options).is_err());
    /// let keep = RemoteAddOptions { if_exists: IfExists::Keep, ..options };
    /// assert!(!repo.add_remote("origin", Some("https://other"), &keep)?);
    /// assert!(repo.delete_remote("origin", false)?);
    /// assert!(repo.remote_names().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn add_remote(
        &mut self,
        name: &str,
        url: Option<&str>,
        options: &RemoteAddOptions,
    ) -> Result<bool> {
        refname::validate_remote(name)?;
        let group = group_name(name);
        let defined_in = self
            .remotes_file_of(&group)
            .map(|(dir, f)| (f.name.clone(), dir.path().join(&f.name)));
        if defined_in.is_some() || self.config().has_group(&group) {
            match options.if_exists {
                IfExists::Fail => {
                    return Err(Error::RemoteExists {
                        name: name.to_owned(),
                        location: match &defined_in {
                            Some((_, path)) => path.display().to_string(),
                            None => "(in config)".to_owned(),
                        },
                    });
                }
                IfExists::Keep => return Ok(false),
                IfExists::Replace => {}
            }
        }
        // Where it goes: the file that defines it, a new `<name>.conf` of a remotes
        // directory that takes new remotes, else the repo config.
        let file = match defined_in {
            Some((file, _)) => Some(file),
            None if !self.config().has_group(&group) && self.adds_to_remotes_dir()? => {
                Some(format!("{name}.conf"))
            }
            None => None,
        };
        let mut config = match (&file, self.remotes_dir()) {
            (Some(file), Some(dir)) => dir.file_config(file),
            _ => self.config().clone(),
        };
        config.remove_group(&group);
        let set = |config: &mut KeyFile, key: &str, value: &str| {
            config
                .set_string(&group, key, value)
                .map_err(|source| Error::InvalidRemoteSetting {
                    remote: name.to_owned(),
                    key: key.to_owned(),
                    source: Box::new(source),
                })
        };
        match url.map(|u| (u, u.strip_prefix("metalink="))) {
            Some((_, Some(metalink))) => set(&mut config, "metalink", metalink)?,
            Some((url, None)) => set(&mut config, "url", url)?,
            None => {}
        }
        if !options.branches.is_empty() {
            config
                .set_string_list(&group, "branches", &options.branches)
                .map_err(|source| Error::InvalidRemoteSetting {
                    remote: name.to_owned(),
                    key: "branches".to_owned(),
                    source: Box::new(source),
                })?;
        }
        for (key, value) in &options.settings {
            set(&mut config, key, value)?;
        }
        let durable = self.fsync_enabled();
        match (file, self.remotes_dir_mut()) {
            (Some(file), Some(dir)) => dir.write(&file, config, durable)?,
            _ => self.write_config(config)?,
        }
        Ok(true)
    }

    /// Whether `remote add` writes new remotes to the remotes directory.
    fn adds_to_remotes_dir(&self) -> Result<bool> {
        match self.remotes_dir() {
            Some(_) => self.core_flag("add-remotes-config-dir", self.is_system()),
            None => Ok(false),
        }
    }

    /// Deletes a remote and its cookie jar; `Ok(false)` when it did not exist and
    /// `if_exists` allows that.
    pub fn delete_remote(&mut self, name: &str, if_exists: bool) -> Result<bool> {
        refname::validate_remote(name)?;
        let group = group_name(name);
        let mut config = self.config().clone();
        if let Some((_, file)) = self.remotes_file_of(&group) {
            // Upstream deletes the file that defines it.
            let file = file.name.clone();
            if let Some(dir) = self.remotes_dir_mut() {
                dir.remove(&file)?;
            }
        } else if config.remove_group(&group) {
            self.write_config(config)?;
        } else if if_exists {
            return Ok(false);
        } else {
            return Err(Error::RemoteNotFound {
                name: name.to_owned(),
            });
        }
        // Its cookies and its trusted keys go with it, as upstream deletes them.
        for file in [cookie_jar_name(name), keyring_file_name(name)] {
            match self.dir().remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).ctx("deleting", self.path().join(&file)),
            }
        }
        Ok(true)
    }
}

/// The names of the remotes a config holds.
fn remote_groups(config: &KeyFile) -> impl Iterator<Item = String> + '_ {
    config.groups().into_iter().filter_map(|g| {
        g.strip_prefix("remote \"")
            .and_then(|rest| rest.strip_suffix('"'))
            .map(str::to_owned)
    })
}

/// The file holding a remote's trusted GPG keys.
pub fn keyring_file_name(remote: &str) -> String {
    format!("{remote}.trustedkeys.gpg")
}

/// The file holding a remote's cookies.
pub fn cookie_jar_name(remote: &str) -> String {
    format!("{remote}.cookies.txt")
}

/// One cookie of a jar, in the Netscape format's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// The domain it is sent to.
    pub domain: String,
    /// Whether subdomains get it too.
    pub include_subdomains: bool,
    /// The path prefix it is sent for.
    pub path: String,
    /// Whether only HTTPS gets it.
    pub secure: bool,
    /// Expiry, Unix time.
    pub expires: u64,
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

impl Cookie {
    /// One line of the jar (without the newline).
    pub fn to_line(&self) -> String {
        let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.domain,
            flag(self.include_subdomains),
            self.path,
            flag(self.secure),
            self.expires,
            self.name,
            self.value
        )
    }

    /// Parses a jar line; `None` for comments, blank and malformed lines (curl skips them too).
    pub fn parse_line(line: &str) -> Option<Cookie> {
        // curl marks HttpOnly cookies with a prefix on the domain; they are cookies all the same.
        let line = line.strip_prefix("#HttpOnly_").unwrap_or(line);
        if line.starts_with('#') || line.trim().is_empty() {
            return None;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let [domain, sub, path, secure, expires, name, value] = f.as_slice() else {
            return None;
        };
        Some(Cookie {
            domain: (*domain).to_owned(),
            include_subdomains: *sub == "TRUE",
            path: (*path).to_owned(),
            secure: *secure == "TRUE",
            expires: expires.parse().ok()?,
            name: (*name).to_owned(),
            value: (*value).to_owned(),
        })
    }
}

impl Repo {
    /// The cookies of a remote's jar (none when it has no jar).
    pub fn remote_cookies(&self, remote: &str) -> Result<Vec<Cookie>> {
        let jar = cookie_jar_name(remote);
        match self.dir().read_to_string(&jar) {
            Ok(text) => Ok(text.lines().filter_map(Cookie::parse_line).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).ctx("reading", self.path().join(&jar)),
        }
    }

    /// Replaces a remote's jar with `cookies`.
    pub fn write_remote_cookies(&self, remote: &str, cookies: &[Cookie]) -> Result<()> {
        let jar = cookie_jar_name(remote);
        let mut text = String::new();
        for c in cookies {
            text.push_str(&c.to_line());
            text.push('\n');
        }
        crate::repo::write_atomic(
            self.dir(),
            jar.as_ref(),
            text.as_bytes(),
            0o600,
            self.fsync_enabled(),
        )
        .ctx("writing", self.path().join(&jar))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_lines_round_trip() {
        let line = "example.com\tFALSE\t/\tFALSE\t2584252734\tmycookie\tvalue1";
        let c = Cookie::parse_line(line).expect("parses");
        assert_eq!(c.name, "mycookie");
        assert_eq!(c.expires, 2_584_252_734);
        assert_eq!(c.to_line(), line);
        let http_only = Cookie::parse_line(&format!("#HttpOnly_{line}")).expect("parses");
        assert_eq!(http_only, c);
        for skipped in [
            "# Netscape HTTP Cookie File",
            "",
            "a\tb",
            "a\tFALSE\t/\tFALSE\tx\tn\tv",
        ] {
            assert_eq!(Cookie::parse_line(skipped), None, "{skipped:?}");
        }
    }
}
