//! Finding which remotes have the newest commits of collection–refs (`find-remotes`), as
//! upstream's `ostree_repo_find_remotes_async` decides it with its config finder.
//!
//! ```text
//! candidates   configured remotes whose collection-id is one the refs ask for and whose
//!              summary lists one of those refs (under the summary's collection-id, or in
//!              its collection map)
//! per ref      the newest commit any candidate lists (the stored commit's time, else the
//!              summary's ostree.commit.timestamp; ties go to the earlier candidate)
//! results      the candidates that have the newest commit of at least one ref, each
//!              listing every ref asked (the commit where it has the newest, else none),
//!              ordered by priority, summary age, number of refs, then name
//! ```
//!
//! Fetching the summaries (with the remote's checks) is the caller's; this module decides.
//! A candidate whose summary gives one commit two sizes or two times is dropped, as
//! upstream drops it.

use std::collections::HashMap;

use rostree_core::Checksum;
use rostree_core::gvariant::Value;
use rostree_core::object::{Summary, SummaryRef};
use rostree_repo::Repo;

/// A ref within a collection: what `find-remotes` and `create-usb` are asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CollectionRef {
    /// The collection ID.
    pub collection_id: String,
    /// The ref's name.
    pub ref_name: String,
}

/// The priority upstream's config finder gives its results (lower comes first).
pub const CONFIG_FINDER_PRIORITY: i32 = 100;

/// A remote to consider, with its summary.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The remote's name.
    pub remote: String,
    /// Its URL.
    pub url: String,
    /// Its keyring file (`<remote>.trustedkeys.gpg`).
    pub keyring: String,
    /// The remote's summary.
    pub summary: Summary,
}

/// A remote that has the newest commit of some of the refs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinderResult {
    /// The remote's name.
    pub remote: String,
    /// Its URL.
    pub url: String,
    /// Its keyring file.
    pub keyring: String,
    /// The finder that found it (upstream's type name).
    pub finder: &'static str,
    /// Its priority (lower comes first).
    pub priority: i32,
    /// When its summary was written (`ostree.summary.last-modified`; 0 when unknown).
    pub summary_last_modified: u64,
    /// Every ref asked, in the order asked, with the commit when this remote has the
    /// newest one.
    pub refs: Vec<(CollectionRef, Option<Checksum>)>,
}

impl FinderResult {
    fn refs_found(&self) -> usize {
        self.refs.iter().filter(|(_, c)| c.is_some()).count()
    }
}

/// The refs a summary lists, by collection: the main refs under its
/// `ostree.summary.collection-id` (none without one), then its collection map.
pub fn summary_collection_refs(summary: &Summary) -> Vec<(CollectionRef, SummaryRef)> {
    let mut out = Vec::new();
    if let Some(id) = summary.metadata.get_str("ostree.summary.collection-id") {
        for (name, r) in &summary.refs {
            out.push((collection_ref(id, name), r.clone()));
        }
    }
    for (id, refs) in summary.collection_map() {
        for (name, r) in refs {
            out.push((collection_ref(&id, &name), r));
        }
    }
    out
}

fn collection_ref(collection_id: &str, ref_name: &str) -> CollectionRef {
    CollectionRef {
        collection_id: collection_id.to_owned(),
        ref_name: ref_name.to_owned(),
    }
}

/// What one commit is known as: its size and its time (0 when unknown).
#[derive(Clone, Copy)]
struct CommitInfo {
    size: u64,
    timestamp: u64,
}

/// Decides, among `candidates` (remotes configured with a collection ID, each with the
/// summary it serves), which have the newest commits of `refs`.
pub fn resolve(
    repo: &Repo,
    refs: &[CollectionRef],
    candidates: Vec<(Option<String>, Candidate)>,
) -> Vec<FinderResult> {
    // The config finder's choice: a remote whose collection ID matches a ref asked for,
    // and whose summary lists that ref.
    let mut chosen: Vec<(Candidate, usize)> = candidates
        .into_iter()
        .filter_map(|(collection_id, candidate)| {
            let collection_id = collection_id?;
            let listed = summary_collection_refs(&candidate.summary);
            let supported = refs
                .iter()
                .filter(|r| r.collection_id == collection_id && listed.iter().any(|(l, _)| l == *r))
                .count();
            (supported > 0).then_some((candidate, supported))
        })
        .collect();
    // The finder's own order: fewer refs first, then by name (all have one priority).
    chosen.sort_by(|(a, n), (b, m)| n.cmp(m).then_with(|| a.remote.cmp(&b.remote)));

    let mut commits: HashMap<Checksum, CommitInfo> = HashMap::new();
    // table[ref][candidate]: the commit the candidate lists for the ref.
    let mut table = vec![vec![None; chosen.len()]; refs.len()];
    let mut valid = vec![true; chosen.len()];
    for (j, (candidate, _)) in chosen.iter().enumerate() {
        for (listed, entry) in summary_collection_refs(&candidate.summary) {
            let Some(i) = refs.iter().position(|r| *r == listed) else {
                continue;
            };
            let summary_time = match entry.metadata.get("ostree.commit.timestamp") {
                Some(Value::Uint64(t)) => u64::from_be(*t),
                _ => 0,
            };
            let info = commits.entry(entry.checksum).or_insert_with(|| CommitInfo {
                size: entry.commit_size,
                timestamp: repo.load_commit(&entry.checksum).map_or(0, |c| c.timestamp),
            });
            if info.timestamp == 0 {
                info.timestamp = summary_time;
            } else if summary_time != 0 && info.timestamp != summary_time {
                valid[j] = false;
            }
            if info.size != entry.commit_size {
                valid[j] = false;
            }
            table[i][j] = Some(entry.checksum);
        }
    }
    // The newest commit of each ref, among the valid candidates.
    let latest: Vec<Option<Checksum>> = table
        .iter()
        .map(|row| {
            let mut best: Option<(Checksum, u64)> = None;
            for (j, cell) in row.iter().enumerate() {
                let Some(checksum) = cell.filter(|_| valid[j]) else {
                    continue;
                };
                let time = commits.get(&checksum).map_or(0, |c| c.timestamp);
                if best.is_none_or(|(_, t)| time > t) {
                    best = Some((checksum, time));
                }
            }
            best.map(|(c, _)| c)
        })
        .collect();
    let mut results: Vec<FinderResult> = chosen
        .into_iter()
        .enumerate()
        .filter(|(j, _)| valid[*j])
        .filter_map(|(j, (candidate, _))| {
            let listed: Vec<(CollectionRef, Option<Checksum>)> = refs
                .iter()
                .enumerate()
                .map(|(i, r)| (r.clone(), table[i][j].filter(|c| Some(*c) == latest[i])))
                .collect();
            let summary_last_modified = match candidate
                .summary
                .metadata
                .get("ostree.summary.last-modified")
            {
                Some(Value::Uint64(t)) => u64::from_be(*t),
                _ => 0,
            };
            let result = FinderResult {
                remote: candidate.remote,
                url: candidate.url,
                keyring: candidate.keyring,
                finder: "OstreeRepoFinderConfig",
                priority: CONFIG_FINDER_PRIORITY,
                summary_last_modified,
                refs: listed,
            };
            (result.refs_found() > 0).then_some(result)
        })
        .collect();
    results.sort_by(compare);
    results
}

/// Upstream's order of results: priority, then (both known) the older summary first, then
/// fewer refs, then the remote's name.
fn compare(a: &FinderResult, b: &FinderResult) -> std::cmp::Ordering {
    a.priority
        .cmp(&b.priority)
        .then_with(|| {
            if a.summary_last_modified != 0 && b.summary_last_modified != 0 {
                a.summary_last_modified.cmp(&b.summary_last_modified)
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .then_with(|| a.refs_found().cmp(&b.refs_found()))
        .then_with(|| a.remote.cmp(&b.remote))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rostree_core::object::Metadata;

    fn entry(n: u8, time: u64) -> SummaryRef {
        let mut metadata = Metadata::new();
        metadata.push("ostree.commit.timestamp", Value::Uint64(time.to_be()));
        SummaryRef {
            commit_size: 100,
            checksum: Checksum::from_array([n; 32]),
            metadata,
        }
    }

    fn summary(id: &str, refs: &[(&str, SummaryRef)]) -> Summary {
        let mut metadata = Metadata::new();
        metadata.push("ostree.summary.collection-id", Value::String(id.into()));
        Summary {
            refs: refs
                .iter()
                .map(|(n, r)| ((*n).to_owned(), r.clone()))
                .collect(),
            metadata,
        }
    }

    fn candidate(name: &str, summary: Summary) -> Candidate {
        Candidate {
            remote: name.into(),
            url: format!("file:///{name}"),
            keyring: format!("{name}.trustedkeys.gpg"),
            summary,
        }
    }

    #[test]
    fn newest_commit_wins_and_outdated_remotes_drop_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo_dir = cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority())
            .expect("dir");
        let repo = rostree_repo::Repo::init(
            repo_dir,
            dir.path().to_owned(),
            &rostree_repo::InitOptions::default(),
        )
        .expect("init");
        let os = |r: &str| collection_ref("org.example.Os", r);
        let refs = vec![os("main"), os("missing")];
        let fresh = candidate(
            "fresh",
            summary("org.example.Os", &[("main", entry(2, 20))]),
        );
        let stale = candidate(
            "stale",
            summary("org.example.Os", &[("main", entry(1, 10))]),
        );
        let other = candidate(
            "other",
            summary("org.example.Apps", &[("main", entry(3, 30))]),
        );
        let results = resolve(
            &repo,
            &refs,
            vec![
                (Some("org.example.Os".into()), stale),
                (Some("org.example.Os".into()), fresh),
                (Some("org.example.Apps".into()), other),
                (None, candidate("unset", summary("org.example.Os", &[]))),
            ],
        );
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(results[0].remote, "fresh");
        assert_eq!(
            results[0].refs,
            vec![
                (os("main"), Some(Checksum::from_array([2; 32]))),
                (os("missing"), None)
            ]
        );
    }
}
