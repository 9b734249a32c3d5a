//! Remotes kept beside a repository's config, in the `.conf` files of a directory: what
//! upstream reads from `/etc/ostree/remotes.d` for the system repository.
//!
//! ```text
//! /etc/ostree/remotes.d/
//! ├── fedora.conf               [remote "fedora"] url=…  (a file may hold several remotes)
//! ├── fedora.trustedkeys.gpg    its keyring, looked for after the repository's own
//! └── README                    anything not ending `.conf` is not read
//! ```
//!
//! The repository's own remotes are read first, then each file in name order; a remote
//! named twice is refused. A remote defined in a file is rewritten and deleted there (its
//! file goes with it, as upstream does), and `remote add` writes new remotes of a system
//! repository as `<name>.conf` unless `core.add-remotes-config-dir=false`.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use cap_std::fs::Dir;
use rostree_core::keyfile::KeyFile;

use crate::error::{Error, IoContext, Result};

/// One `.conf` file of the directory, parsed.
#[derive(Clone, Debug)]
pub(crate) struct RemoteFile {
    /// Its name within the directory.
    pub(crate) name: String,
    /// What it holds.
    pub(crate) config: KeyFile,
}

/// A directory of remote configuration files, read once when attached to a repository
/// with [`Repo::attach_remotes_dir`](crate::Repo::attach_remotes_dir).
#[derive(Debug)]
pub struct RemotesDir {
    /// Where it is, for messages and for keyrings.
    path: PathBuf,
    /// The handle of its parent, which holds it (it is made on the first write).
    parent: Dir,
    /// Its name in `parent`.
    name: PathBuf,
    /// Its files, in name order.
    pub(crate) files: Vec<RemoteFile>,
}

/// Gives the system's repository (the directory `/ostree/repo` is, as upstream tells it)
/// the remotes of `/etc/ostree/remotes.d` too; any other repository is left as it is.
pub fn attach_system_remotes(repo: &mut crate::Repo) -> Result<()> {
    let Ok(root) = Dir::open_ambient_dir("/", cap_std::ambient_authority()) else {
        return Ok(());
    };
    let is_system = root
        .open_dir("ostree/repo")
        .is_ok_and(|system| repo.is_dir(&system));
    if is_system {
        let remotes = RemotesDir::open(root, "etc/ostree/remotes.d", "/etc/ostree/remotes.d")?;
        repo.attach_remotes_dir(remotes, true)?;
    }
    Ok(())
}

/// The files ending `.conf`, sorted, from a directory listing.
pub fn conf_file_names(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().filter(|n| n.ends_with(".conf")).collect();
    names.sort();
    names
}

impl RemotesDir {
    /// The directory `name` under `parent` (as `etc/ostree/remotes.d` under a sysroot's
    /// root), shown as `path`; one that does not exist yet holds no remotes.
    pub fn open(parent: Dir, name: impl Into<PathBuf>, path: impl Into<PathBuf>) -> Result<Self> {
        let (name, path) = (name.into(), path.into());
        let files = match parent.open_dir(&name) {
            Ok(dir) => read_files(&dir, &path)?,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).ctx("opening", &path),
        };
        Ok(RemotesDir {
            path,
            parent,
            name,
            files,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file defining `remote`, if one does.
    pub(crate) fn file_of(&self, remote_group: &str) -> Option<&RemoteFile> {
        self.files.iter().find(|f| f.config.has_group(remote_group))
    }

    /// What the file `file_name` holds (nothing, for a file not there yet).
    pub(crate) fn file_config(&self, file_name: &str) -> KeyFile {
        self.files
            .iter()
            .find(|f| f.name == file_name)
            .map(|f| f.config.clone())
            .unwrap_or_default()
    }

    /// Writes `config` as the file `file_name` (made with the directory if need be).
    pub(crate) fn write(&mut self, file_name: &str, config: KeyFile, durable: bool) -> Result<()> {
        let shown = self.path.join(file_name);
        self.parent
            .create_dir_all(&self.name)
            .ctx("creating", &self.path)?;
        let dir = self
            .parent
            .open_dir(&self.name)
            .ctx("opening", &self.path)?;
        crate::repo::write_atomic(
            &dir,
            Path::new(file_name),
            config.to_data().as_bytes(),
            0o644,
            durable,
        )
        .ctx("writing", &shown)?;
        match self.files.iter_mut().find(|f| f.name == file_name) {
            Some(file) => file.config = config,
            None => {
                self.files.push(RemoteFile {
                    name: file_name.to_owned(),
                    config,
                });
                self.files.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
        Ok(())
    }

    /// Deletes the file `file_name`.
    pub(crate) fn remove(&mut self, file_name: &str) -> Result<()> {
        let dir = self
            .parent
            .open_dir(&self.name)
            .ctx("opening", &self.path)?;
        dir.remove_file(file_name)
            .ctx("deleting", self.path.join(file_name))?;
        self.files.retain(|f| f.name != file_name);
        Ok(())
    }

    /// The path of `file_name` in it, if that file exists (a remote's keyring, say).
    pub fn existing_file(&self, file_name: &str) -> Option<PathBuf> {
        let dir = self.parent.open_dir(&self.name).ok()?;
        dir.metadata(file_name)
            .ok()
            .filter(|m| m.is_file())
            .map(|_| self.path.join(file_name))
    }
}

/// Reads the `.conf` regular files of `dir` (symlinks followed, as upstream's listing does).
fn read_files(dir: &Dir, path: &Path) -> Result<Vec<RemoteFile>> {
    let mut names = Vec::new();
    for entry in dir.entries().ctx("listing", path)? {
        let entry = entry.ctx("listing", path)?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    let mut files = Vec::new();
    for name in conf_file_names(names) {
        let shown = path.join(&name);
        match dir.metadata(&name) {
            Ok(m) if m.is_file() => {}
            Ok(_) => continue,
            Err(e) => return Err(e).ctx("reading", &shown),
        }
        let text = dir.read_to_string(&name).ctx("reading", &shown)?;
        let config = KeyFile::parse(&text).map_err(|source| Error::InvalidKeyFile {
            path: shown.clone(),
            source,
        })?;
        files.push(RemoteFile { name, config });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conf_files_are_read_in_name_order() {
        let names = ["b.conf", "README", "a.conf", "c.conf.bak", ".conf"];
        assert_eq!(
            conf_file_names(names.map(String::from)),
            [".conf", "a.conf", "b.conf"]
        );
    }
}
