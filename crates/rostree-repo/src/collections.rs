//! Collection–refs: refs named together with the collection ID that makes them globally
//! unique, as upstream lists them (`ostree_repo_list_collection_refs`).
//!
//! ```text
//! refs/heads/NAME                 (core.collection-id, NAME), when the repo has an ID
//! refs/remotes/REMOTE/NAME        (REMOTE's collection-id, NAME), when the remote has one
//! refs/mirrors/COLLECTION/NAME    (COLLECTION, NAME)
//! ```

use rostree_core::Checksum;
use rostree_core::ghash::{HashOrder, str_hash};

use crate::error::Result;
use crate::repo::{RefKind, Repo};

/// One collection–ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionRef {
    /// The collection ID.
    pub collection_id: String,
    /// The ref's name within it.
    pub name: String,
    /// The commit it names.
    pub commit: Checksum,
    /// Where it is stored.
    pub kind: RefKind,
}

/// Every collection–ref of the repository, in the order upstream's hash table of them
/// iterates (which its listings show): heads, mirrors, then remotes inserted, as upstream.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::sync::atomic::AtomicBool;
/// # use cap_std::{ambient_authority, fs::Dir};
/// # use rostree_repo::commit::{CommitOptions, TreeSource, commit};
/// # use rostree_repo::progress::NoProgress;
/// # let tmp = tempfile::tempdir()?;
/// # std::fs::create_dir_all(tmp.path().join("tree/etc"))?;
/// # std::fs::write(tmp.path().join("tree/etc/os-release"), "ID=example\n")?;
/// # std::fs::create_dir(tmp.path().join("repo"))?;
/// # let dir = Dir::open_ambient_dir(tmp.path().join("repo"), ambient_authority())?;
/// use rostree_repo::collections::list_collection_refs;
/// use rostree_repo::{InitOptions, RefKind, Repo, RepoMode};
///
/// // `ostree init --collection-id=org.example.Os`, then a commit on `main`.
/// let options = InitOptions {
///     mode: RepoMode::Archive,
///     collection_id: Some("org.example.Os".into()),
///     ..Default::default()
/// };
/// let repo = Repo::init(dir, tmp.path().join("repo"), &options)?;
/// # let tree = Dir::open_ambient_dir(tmp.path().join("tree"), ambient_authority())?;
/// # let sources = vec![TreeSource::Dir(tree, tmp.path().join("tree"))];
/// # let options = CommitOptions { branch: Some("main".into()), ..Default::default() };
/// let tip = commit(&repo, sources, &NoProgress, &AtomicBool::new(false), &options)?.checksum;
/// // `ostree refs -c`: the head is the collection's.
/// let refs = list_collection_refs(&repo)?;
/// let [r] = &refs[..] else { return Err("one ref".into()) };
/// assert_eq!((r.collection_id.as_str(), r.name.as_str()), ("org.example.Os", "main"));
/// assert_eq!((r.commit, &r.kind), (tip, &RefKind::Local));
/// # Ok(()) }
/// ```
pub fn list_collection_refs(repo: &Repo) -> Result<Vec<CollectionRef>> {
    let mut table = HashOrder::new();
    let mut add = |collection_id: &str, name: String, commit: Checksum, kind: RefKind| {
        let hash = str_hash(collection_id.as_bytes()) ^ str_hash(name.as_bytes());
        let key = format!("{collection_id}\0{name}");
        let entry = CollectionRef {
            collection_id: collection_id.to_owned(),
            name,
            commit,
            kind,
        };
        table.insert(key, entry, hash);
    };
    if let Some(id) = repo.collection_id() {
        for (name, commit) in repo.list_refs_unsorted(&RefKind::Local)? {
            add(&id, name, commit, RefKind::Local);
        }
    }
    for id in repo.list_ref_collections()? {
        let kind = RefKind::Mirror(id.clone());
        for (name, commit) in repo.list_refs_unsorted(&kind)? {
            add(&id, name, commit, kind.clone());
        }
    }
    for remote in repo.list_ref_remotes()? {
        // Refs of a remote that is no longer configured, or has no ID, are not collection
        // refs.
        let Ok(config) = repo.remote(&remote) else {
            continue;
        };
        let Some(id) = config.option("collection-id")? else {
            continue;
        };
        let kind = RefKind::Remote(remote);
        for (name, commit) in repo.list_refs_unsorted(&kind)? {
            add(&id, name, commit, kind.clone());
        }
    }
    Ok(table.into_entries().into_iter().map(|(_, v)| v).collect())
}
