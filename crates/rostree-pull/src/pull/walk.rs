//! The tree below a commit: which objects it still lacks, and how each fetched object is
//! checked (re-hashed, parsed, its names validated) and stored; objects from local cache
//! repositories too.

use super::*;

/// For `--subpath`: fetches the directories down to `subpath`, and returns what is missing
/// of what lies there (a whole subtree, or one file). A path the tree lacks yields nothing
/// more, as upstream.
pub(super) async fn walk_subpath(
    fetcher: &Fetcher,
    tx: &Transaction<'_>,
    tree: Checksum,
    meta: Checksum,
    subpath: &str,
    stats: &Stats,
) -> Result<Vec<Item>> {
    ensure_metadata(fetcher, tx, ObjectType::DirMeta, meta, stats).await?;
    let components: Vec<&str> = subpath.split('/').filter(|c| !c.is_empty()).collect();
    let mut current = tree;
    for (i, name) in components.iter().enumerate() {
        let data = ensure_metadata(fetcher, tx, ObjectType::DirTree, current, stats).await?;
        let view = DirTreeRef::parse(&data)
            .map_err(|e| invalid_object(ObjectType::DirTree, current, &e))?;
        if let Some(file) = view.files.iter().find(|f| f.name == *name) {
            let missing =
                i + 1 == components.len() && !tx.has_object(ObjectType::File, &file.checksum)?;
            return Ok(missing
                .then_some(Item::File(file.checksum))
                .into_iter()
                .collect());
        }
        let Some(dir) = view.dirs.iter().find(|d| d.name == *name) else {
            return Ok(Vec::new());
        };
        ensure_metadata(fetcher, tx, ObjectType::DirMeta, dir.meta, stats).await?;
        current = dir.tree;
    }
    let depth = components.len();
    if tx.has_object(ObjectType::DirTree, &current)? {
        let data = tx.load_metadata(ObjectType::DirTree, &current)?;
        missing_children(tx, &data, current, depth)
    } else {
        Ok(vec![Item::DirTree(current, depth)])
    }
}

/// What a stored object leads to: the objects it names that the repository lacks. A dirtree
/// the repository has already is walked locally, since part of it may be missing. Trees
/// nested deeper than `MAX_TREE_DEPTH` are refused (upstream refuses them too).
pub(super) fn missing_children(
    tx: &Transaction<'_>,
    tree_data: &[u8],
    tree: Checksum,
    depth: usize,
) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    let mut pending = vec![(tree, tree_data.to_vec(), depth)];
    while let Some((tree, data, depth)) = pending.pop() {
        let view =
            DirTreeRef::parse(&data).map_err(|e| invalid_object(ObjectType::DirTree, tree, &e))?;
        for f in &view.files {
            if !tx.has_object(ObjectType::File, &f.checksum)? {
                out.push(Item::File(f.checksum));
            }
        }
        if !view.dirs.is_empty() && depth >= MAX_TREE_DEPTH {
            return Err(corrupt(
                ObjectType::DirTree,
                tree,
                format!(
                    "Exceeded maximum recursion: directories nested deeper than {MAX_TREE_DEPTH} levels"
                ),
            ));
        }
        for d in &view.dirs {
            if !tx.has_object(ObjectType::DirMeta, &d.meta)? {
                out.push(Item::DirMeta(d.meta));
            }
            if tx.has_object(ObjectType::DirTree, &d.tree)? {
                pending.push((
                    d.tree,
                    tx.load_metadata(ObjectType::DirTree, &d.tree)?,
                    depth + 1,
                ));
            } else {
                out.push(Item::DirTree(d.tree, depth + 1));
            }
        }
    }
    Ok(out)
}

/// Checks and stores one fetched object; returns what it leads to.
pub(super) fn store(
    tx: &Transaction<'_>,
    item: Item,
    body: Body,
    options: &PullOptions,
) -> Result<Vec<Item>> {
    let (objtype, checksum) = item.name();
    let io = |e: std::io::Error| Error::Io {
        path: object_path(objtype, &checksum),
        source: e,
    };
    let (data, mut file) = match body {
        Body::Memory(data, held) => (Some((data, held)), None),
        Body::File(file, _) => (None, Some(file)),
    };
    match item {
        Item::File(c)
            if options.trusted_http
                && options.mirror
                && tx.repo().mode().is_archive()
                && !options.bareuseronly_files =>
        {
            // A mirror trusting its source copies archive objects as they came, as
            // upstream does: fsck is what checks them.
            match (&data, &mut file) {
                (Some((data, _)), _) => tx.write_filez_trusted(&c, &mut &data[..])?,
                (None, Some(file)) => tx.write_filez_trusted(&c, file)?,
                (None, None) => false,
            };
            Ok(Vec::new())
        }
        Item::File(c) => match (data, file) {
            (Some((data, _held)), _) => {
                let (archive, compressed) = rostree_core::object::parse_archive_header(&data)
                    .map_err(|e| corrupt(objtype, checksum, e.to_string()))?;
                if archive.header.is_symlink() {
                    store_content(tx, c, &archive.header, &[], options)?;
                } else if archive.size <= rostree_repo::content::INFLATE_AT_ONCE {
                    // Small: inflated at once from the header already parsed.
                    let payload = rostree_repo::content::inflate_whole(compressed, archive.size)
                        .map_err(|e| corrupt(objtype, checksum, e.to_string()))?;
                    store_content(tx, c, &archive.header, &payload, options)?;
                } else {
                    store_filez_stream(tx, c, &data[..], options)?;
                }
                Ok(Vec::new())
            }
            (None, Some(file)) => {
                store_filez_stream(
                    tx,
                    c,
                    std::io::BufReader::with_capacity(128 << 10, file),
                    options,
                )?;
                Ok(Vec::new())
            }
            (None, None) => Ok(Vec::new()),
        },
        item => {
            // Metadata is parsed whole; it is bounded by the metadata size limit.
            let data = match (data, file) {
                (Some((data, _)), _) => data.to_vec(),
                (None, Some(mut file)) => {
                    let mut data = Vec::new();
                    std::io::Read::read_to_end(&mut file, &mut data).map_err(io)?;
                    data
                }
                (None, None) => Vec::new(),
            };
            store_metadata(tx, item, &data)
        }
    }
}

/// Checks and stores a fetched metadata object; returns what it leads to.
pub(super) fn store_metadata(tx: &Transaction<'_>, item: Item, data: &[u8]) -> Result<Vec<Item>> {
    let (objtype, _) = item.name();
    match item {
        Item::DirMeta(c) => {
            check_hash(objtype, &c, data)?;
            DirMeta::from_bytes(data).map_err(|e| corrupt(objtype, c, e.to_string()))?;
            tx.write_metadata_as(objtype, &c, data)?;
            Ok(Vec::new())
        }
        Item::DirTree(c, depth) => {
            check_hash(objtype, &c, data)?;
            let children = missing_children(tx, data, c, depth)?;
            tx.write_metadata_as(objtype, &c, data)?;
            Ok(children)
        }
        Item::File(_) => Ok(Vec::new()),
    }
}

/// Stores a `.filez` object read from `object`, inflated, hashed and checked on the way
/// into its staging file: a large object never sits whole in memory.
pub(super) fn store_filez_stream(
    tx: &Transaction<'_>,
    c: Checksum,
    object: impl std::io::BufRead,
    options: &PullOptions,
) -> Result<()> {
    let bad = |e: std::io::Error| corrupt(ObjectType::File, c, e.to_string());
    let (archive, mut payload) = rostree_repo::content::open_archive(object).map_err(bad)?;
    if options.bareuseronly_files {
        rostree_repo::transaction::validate_bareuseronly_mode(&c, &archive.header)?;
    }
    match tx.write_content_as(&c, &archive.header, Source::Untrusted(&mut payload)) {
        Err(rostree_repo::Error::Io { source, .. })
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            Err(bad(source))
        }
        other => other.map(|_| ()).map_err(Error::from),
    }
}

/// Checks and stores a content object's header and payload.
pub(super) fn store_content(
    tx: &Transaction<'_>,
    c: Checksum,
    header: &FileHeader,
    payload: &[u8],
    options: &PullOptions,
) -> Result<()> {
    check_content(c, header, payload, options)?;
    tx.write_content_as(&c, header, Source::Bytes(payload))?;
    Ok(())
}

/// Checks a content object's header and payload against its checksum and the options.
pub(super) fn check_content(
    c: Checksum,
    header: &FileHeader,
    payload: &[u8],
    options: &PullOptions,
) -> Result<()> {
    let actual = content_checksum(header, payload);
    if actual != c {
        return Err(Error::ChecksumMismatch {
            objtype: ObjectType::File,
            expected: c,
            actual,
        });
    }
    if options.bareuseronly_files {
        rostree_repo::transaction::validate_bareuseronly_mode(&c, header)?;
    }
    Ok(())
}

/// Stores an object from a local cache repository (`--localcache-repo`), checked as if it
/// had been fetched; returns what it leads to and its size.
pub(super) fn import_cached(
    tx: &Transaction<'_>,
    item: Item,
    options: &PullOptions,
) -> Result<(Vec<Item>, u64)> {
    let (objtype, checksum) = item.name();
    for cache in &options.localcache {
        if !cache.has_object(objtype, &checksum)? {
            continue;
        }
        if let Item::File(c) = item {
            let bad = |e: std::io::Error| corrupt(objtype, c, e.to_string());
            let (header, mut payload) = cache.open_content(&c)?;
            let size = payload.size().map_err(bad)?;
            if options.bareuseronly_files {
                rostree_repo::transaction::validate_bareuseronly_mode(&c, &header)?;
            }
            let actual =
                rostree_repo::content::checksum_stream(&header, &mut payload).map_err(bad)?;
            if actual != c {
                return Err(Error::ChecksumMismatch {
                    objtype: ObjectType::File,
                    expected: c,
                    actual,
                });
            }
            // Checked, it is shared as upstream imports it: linked when the repositories
            // store objects alike, else written anew.
            if !tx.link_object_from(cache, objtype, &c)? {
                let (header, mut payload) = cache.open_content(&c)?;
                tx.write_content_as(&c, &header, Source::Untrusted(&mut payload))?;
            }
            return Ok((Vec::new(), size));
        }
        let data = cache.load_metadata(objtype, &checksum)?;
        let children = store_metadata(tx, item, &data)?;
        return Ok((children, data.len() as u64));
    }
    Err(Error::MissingObject { objtype, checksum })
}
