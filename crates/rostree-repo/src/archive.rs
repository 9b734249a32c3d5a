//! Reading the archives `commit --tree=tar=` takes: tar (ustar, GNU, PAX with
//! `SCHILY.xattr.*` records) and cpio (`newc`, `crc` and `odc`), each plain or gzipped, told
//! apart by their first bytes, as libarchive tells them apart upstream.
//!
//! ```text
//! gzip      1f 8b …                       decompressed, then sniffed again
//! cpio newc "070701" + 13 × 8 hex digits  name, padding to 4, data, padding to 4
//! cpio crc  "070702"                      as newc (the checksum field is not checked)
//! cpio odc  "070707" + octal fields       76-byte header, no padding
//! tar       anything else                 512-byte blocks
//! ```
//!
//! A cpio archive keeps the data of hard-linked files with the last of the links only; the
//! earlier names are given as hard links to it once it has come.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use rostree_core::object::Xattrs;

use crate::error::{Error, Result};

/// `--tar-pathname-filter=REGEX,REPLACEMENT`: every match of REGEX in an entry's path (and
/// in a hard link's target), relative and without a leading `./`, is replaced, as GLib's
/// `g_regex_replace` does. The replacement refers to groups as `\N` or `\g<N>`.
#[derive(Clone, Debug)]
pub struct PathnameFilter {
    regex: regex::Regex,
    /// The replacement in the regex crate's syntax.
    replacement: String,
}

impl PathnameFilter {
    /// Parses `REGEX,REPLACEMENT` (split at the first comma).
    pub fn parse(spec: &str) -> Result<PathnameFilter> {
        let (pattern, replacement) =
            spec.split_once(',')
                .ok_or_else(|| Error::InvalidTarFilter {
                    spec: spec.to_owned(),
                    source: None,
                })?;
        let regex = regex::Regex::new(pattern).map_err(|e| Error::InvalidTarFilter {
            spec: spec.to_owned(),
            source: Some(e),
        })?;
        Ok(PathnameFilter {
            regex,
            replacement: glib_replacement(replacement),
        })
    }

    /// `path` with every match replaced.
    pub fn apply(&self, path: &str) -> String {
        self.regex
            .replace_all(path, self.replacement.as_str())
            .into_owned()
    }
}

/// A GRegex replacement (`\1`, `\g<1>`, `\g<name>`, `\\`, `\n`, `\t`) in the regex
/// crate's syntax (`${1}`, `$$` for a dollar).
fn glib_replacement(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = d.to_string();
                    if let Some(&e) = chars.peek()
                        && e.is_ascii_digit()
                    {
                        group.push(e);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') if chars.peek() == Some(&'<') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// An archive path as upstream relativizes it before filtering: leading `/`, `./` and
/// empty components gone (`.` alone is the root, the empty path).
pub(crate) fn relative_path(path: &str) -> &str {
    let mut rest = path;
    loop {
        if let Some(r) = rest.strip_prefix('/') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("./") {
            rest = r;
        } else {
            break;
        }
    }
    if rest == "." { "" } else { rest }
}

/// What an archive entry is.
pub(crate) enum EntryKind<'a> {
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Symlink(String),
    /// Another name for the file at this path of the archive.
    HardLink(String),
    /// A regular file, whose data this reads.
    File(&'a mut dyn Read),
    /// Something a tree cannot hold (a device, a fifo), with the archive's word for it.
    Other,
}

/// One entry, as the commit needs it.
pub(crate) struct Entry<'a> {
    /// The path as the archive spells it (`./usr/bin`, `usr/bin/`, …).
    pub path: String,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits (`0o7777`).
    pub perms: u32,
    /// Extended attributes, in the order the archive gives them.
    pub xattrs: Xattrs,
    /// What it is.
    pub kind: EntryKind<'a>,
}

/// Calls `visit` for every entry of the archive `reader` yields, in archive order.
pub(crate) fn for_each_entry(
    reader: Box<dyn Read + Send + '_>,
    display: &str,
    visit: &mut dyn FnMut(Entry<'_>) -> Result<()>,
) -> Result<()> {
    let bad = |source| reading_error(display, source);
    let mut reader = BufReader::new(reader);
    let head = reader.fill_buf().map_err(bad)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let inner = flate2::read::MultiGzDecoder::new(reader);
        return for_each_entry(Box::new(inner), display, visit);
    }
    if head.starts_with(b"07070") {
        return cpio_entries(&mut reader, display, visit);
    }
    tar_entries(reader, display, visit)
}

/// [`Error::ReadingArchive`] of the archive shown as `display`.
fn reading_error(display: &str, source: std::io::Error) -> Error {
    Error::ReadingArchive {
        path: display.into(),
        source,
    }
}

fn utf8_path(bytes: &[u8], display: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::NonUtf8ArchivePath {
        archive: display.to_owned(),
    })
}

fn tar_entries(
    reader: impl Read,
    display: &str,
    visit: &mut dyn FnMut(Entry<'_>) -> Result<()>,
) -> Result<()> {
    let bad = |source| reading_error(display, source);
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = utf8_path(&entry.path_bytes(), display)?;
        let header = entry.header().clone();
        let uid = header.uid().map_err(bad)? as u32;
        let gid = header.gid().map_err(bad)? as u32;
        let perms = header.mode().map_err(bad)? & 0o7777;
        let mut xattrs = Vec::new();
        if let Some(exts) = entry.pax_extensions().map_err(bad)? {
            for ext in exts {
                let ext = ext.map_err(bad)?;
                if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                    xattrs.push((name.to_vec(), ext.value_bytes().to_vec()));
                }
            }
        }
        // Upstream's importer takes the PAX records in reverse order, unsorted; the same
        // order gives the same checksums.
        xattrs.reverse();
        let link_target = |entry: &tar::Entry<'_, _>, what: &'static str| -> Result<String> {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| Error::LinkWithoutTarget {
                    kind: what,
                    path: path.clone(),
                })?;
            String::from_utf8(target.into_owned()).map_err(|_| Error::NonUtf8LinkTarget {
                kind: what,
                path: path.clone(),
            })
        };
        let kind = header.entry_type();
        let kind = if kind.is_dir() {
            EntryKind::Dir
        } else if kind.is_symlink() {
            EntryKind::Symlink(link_target(&entry, "symlink")?)
        } else if kind.is_hard_link() {
            EntryKind::HardLink(link_target(&entry, "hard link")?)
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            EntryKind::File(&mut entry)
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        } else {
            EntryKind::Other
        };
        visit(Entry {
            path: path.clone(),
            uid,
            gid,
            perms,
            xattrs: Xattrs(xattrs),
            kind,
        })?;
    }
    Ok(())
}

/// The fields of a cpio header that matter here.
struct CpioHeader {
    ino: (u64, u64, u64),
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    name_size: usize,
    file_size: u64,
    /// Whether names and data are padded to 4 bytes (`newc`, `crc`).
    padded: bool,
}

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// Names and data above this size are refused: no real name is that long, and a corrupt
/// header must not make us allocate gigabytes.
const MAX_CPIO_NAME: usize = 64 << 10;
const MAX_CPIO_SYMLINK: u64 = 64 << 10;

fn read_cpio_header(reader: &mut dyn Read, display: &str) -> Result<CpioHeader> {
    let bad = |what: &str| {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        reading_error(display, source)
    };
    let mut magic = [0u8; 6];
    reader
        .read_exact(&mut magic)
        .map_err(|_| bad("truncated cpio header"))?;
    let field = |bytes: &[u8], radix: u32| -> Result<u64> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| u64::from_str_radix(s, radix).ok())
            .ok_or_else(|| bad("invalid cpio header field"))
    };
    match &magic {
        b"070701" | b"070702" => {
            let mut rest = [0u8; 104];
            reader
                .read_exact(&mut rest)
                .map_err(|_| bad("truncated cpio header"))?;
            let f = |i: usize| field(&rest[i * 8..i * 8 + 8], 16);
            Ok(CpioHeader {
                ino: (f(7)?, f(8)?, f(0)?),
                mode: f(1)? as u32,
                uid: f(2)? as u32,
                gid: f(3)? as u32,
                nlink: f(4)?,
                file_size: f(6)?,
                name_size: f(11)? as usize,
                padded: true,
            })
        }
        b"070707" => {
            let mut rest = [0u8; 70];
            reader
                .read_exact(&mut rest)
                .map_err(|_| bad("truncated cpio header"))?;
            // dev ino mode uid gid nlink rdev: 6 digits each; mtime 11; namesize 6; size 11.
            let f = |at: usize, len: usize| field(&rest[at..at + len], 8);
            Ok(CpioHeader {
                ino: (f(0, 6)?, 0, f(6, 6)?),
                mode: f(12, 6)? as u32,
                uid: f(18, 6)? as u32,
                gid: f(24, 6)? as u32,
                nlink: f(30, 6)?,
                name_size: f(53, 6)? as usize,
                file_size: f(59, 11)?,
                padded: false,
            })
        }
        _ => Err(bad("not a cpio header (binary cpio is not supported)")),
    }
}

fn skip(reader: &mut dyn Read, n: u64) -> std::io::Result<()> {
    let copied = std::io::copy(&mut reader.take(n), &mut std::io::sink())?;
    if copied < n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn cpio_entry<'a>(header: &CpioHeader, path: &str, kind: EntryKind<'a>) -> Entry<'a> {
    Entry {
        path: path.to_owned(),
        uid: header.uid,
        gid: header.gid,
        perms: header.mode & 0o7777,
        xattrs: Xattrs::new(),
        kind,
    }
}

fn cpio_entries(
    reader: &mut dyn Read,
    display: &str,
    visit: &mut dyn FnMut(Entry<'_>) -> Result<()>,
) -> Result<()> {
    let bad = |source| reading_error(display, source);
    // Names of hard-linked files seen before the link that carries the data.
    let mut waiting: HashMap<(u64, u64, u64), Vec<Entry<'static>>> = HashMap::new();
    loop {
        let header = read_cpio_header(reader, display)?;
        if header.name_size == 0 || header.name_size > MAX_CPIO_NAME {
            return Err(bad(std::io::Error::other("invalid cpio name size")));
        }
        let mut name = vec![0u8; header.name_size];
        reader.read_exact(&mut name).map_err(bad)?;
        if name.pop() != Some(0) {
            return Err(bad(std::io::Error::other("cpio name without its NUL")));
        }
        if header.padded {
            skip(reader, ((4 - (110 + header.name_size) % 4) % 4) as u64).map_err(bad)?;
        }
        let data_pad = if header.padded {
            (4 - header.file_size % 4) % 4
        } else {
            0
        };
        if name == b"TRAILER!!!" {
            break;
        }
        let path = utf8_path(&name, display)?;
        match header.mode & S_IFMT {
            S_IFDIR => {
                skip(reader, header.file_size).map_err(bad)?;
                visit(cpio_entry(&header, &path, EntryKind::Dir))?;
            }
            S_IFLNK => {
                if header.file_size > MAX_CPIO_SYMLINK {
                    return Err(bad(std::io::Error::other("cpio symlink target too long")));
                }
                let mut target = vec![0u8; header.file_size as usize];
                reader.read_exact(&mut target).map_err(bad)?;
                let target =
                    String::from_utf8(target).map_err(|_| Error::NonUtf8SymlinkTarget {
                        path: path.clone().into(),
                    })?;
                visit(cpio_entry(&header, &path, EntryKind::Symlink(target)))?;
            }
            S_IFREG if header.nlink > 1 && header.file_size == 0 => {
                // Its data, if any, comes with a later name of the same inode.
                waiting.entry(header.ino).or_default().push(cpio_entry(
                    &header,
                    &path,
                    EntryKind::Other,
                ));
            }
            S_IFREG => {
                let mut data = reader.take(header.file_size);
                visit(cpio_entry(&header, &path, EntryKind::File(&mut data)))?;
                // What the visitor left unread, and a file cut short, are found here.
                std::io::copy(&mut data, &mut std::io::sink()).map_err(bad)?;
                if data.limit() > 0 {
                    return Err(bad(std::io::ErrorKind::UnexpectedEof.into()));
                }
                for mut link in waiting.remove(&header.ino).unwrap_or_default() {
                    link.kind = EntryKind::HardLink(path.clone());
                    visit(link)?;
                }
            }
            _ => {
                skip(reader, header.file_size).map_err(bad)?;
                visit(cpio_entry(&header, &path, EntryKind::Other))?;
            }
        }
        skip(reader, data_pad).map_err(bad)?;
    }
    // Links whose data never came are empty files, all of them one.
    let mut rest: Vec<_> = waiting.into_values().collect();
    rest.sort_by(|a, b| a[0].path.cmp(&b[0].path));
    for links in rest {
        let mut links = links.into_iter();
        let Some(first) = links.next() else {
            continue;
        };
        let target = first.path.clone();
        let mut empty = std::io::empty();
        visit(Entry {
            kind: EntryKind::File(&mut empty),
            ..first
        })?;
        for mut link in links {
            link.kind = EntryKind::HardLink(target.clone());
            visit(link)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newc(entries: &[(&str, u32, u64, u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut push = |name: &str, mode: u32, ino: u64, nlink: u64, data: &[u8]| {
            let fields = [
                ino,
                u64::from(mode),
                0,
                0,
                nlink,
                0,
                data.len() as u64,
                0,
                0,
                0,
                0,
                name.len() as u64 + 1,
                0,
            ];
            out.extend_from_slice(b"070701");
            for f in fields {
                out.extend_from_slice(format!("{f:08X}").as_bytes());
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            while out.len() % 4 != 0 {
                out.push(0);
            }
            out.extend_from_slice(data);
            while out.len() % 4 != 0 {
                out.push(0);
            }
        };
        for (name, mode, ino, nlink, data) in entries {
            push(name, *mode, *ino, *nlink, data);
        }
        push("TRAILER!!!", 0, 0, 1, b"");
        out
    }

    fn list(archive: Vec<u8>) -> Vec<String> {
        let mut out = Vec::new();
        for_each_entry(Box::new(std::io::Cursor::new(archive)), "t", &mut |e| {
            let what = match e.kind {
                EntryKind::Dir => "dir".to_owned(),
                EntryKind::Symlink(t) => format!("symlink {t}"),
                EntryKind::HardLink(t) => format!("link {t}"),
                EntryKind::File(r) => {
                    let mut s = String::new();
                    r.read_to_string(&mut s).expect("utf-8");
                    format!("file {s}")
                }
                EntryKind::Other => "other".to_owned(),
            };
            out.push(format!("{} {:o} {what}", e.path, e.perms));
            Ok(())
        })
        .expect("reads");
        out
    }

    #[test]
    fn cpio_newc_with_hard_links() {
        let archive = newc(&[
            (".", 0o040755, 1, 2, b""),
            ("bin", 0o040755, 2, 2, b""),
            ("bin/a", 0o100644, 3, 2, b""),
            ("bin/sl", 0o120777, 4, 1, b"a"),
            ("bin/b", 0o100644, 3, 2, b"shared\n"),
            ("bin/empty1", 0o100600, 5, 2, b""),
            ("bin/empty2", 0o100600, 5, 2, b""),
            ("dev", 0o020644, 6, 1, b""),
        ]);
        assert_eq!(
            list(archive),
            [
                ". 755 dir",
                "bin 755 dir",
                "bin/sl 777 symlink a",
                "bin/b 644 file shared\n",
                "bin/a 644 link bin/b",
                "dev 644 other",
                "bin/empty1 600 file ",
                "bin/empty2 600 link bin/empty1",
            ]
        );
    }

    #[test]
    fn pathname_filters_as_glib_replaces() {
        let table = [
            ("^,foo/", "usr/bin/a", "foo/usr/bin/a"),
            ("^usr/bin/,usr/sbin/", "usr/bin/a", "usr/sbin/a"),
            ("/bin/,/sbin/", "usr/bin/a", "usr/sbin/a"),
            ("^nosuchfile/,nootherfile/", "usr/bin/a", "usr/bin/a"),
            ("(u)(s),\\2\\1", "usr", "sur"),
            ("^(?P<top>[a-z]+)/,\\g<top>-x/", "usr/lib", "usr-x/lib"),
            ("a,$", "a", "$"),
        ];
        for (spec, path, expected) in table {
            let filter = PathnameFilter::parse(spec).expect(spec);
            assert_eq!(filter.apply(path), expected, "{spec}");
        }
        assert!(PathnameFilter::parse("no comma").is_err());
        assert!(PathnameFilter::parse("(,x").is_err());
        assert_eq!(relative_path("./usr/"), "usr/");
        assert_eq!(relative_path("/./a"), "a");
        assert_eq!(relative_path("."), "");
    }

    #[test]
    fn gzip_is_seen_through_and_truncation_is_an_error() {
        let archive = newc(&[("f", 0o100644, 1, 1, b"x")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &archive).expect("write");
        assert_eq!(list(gz.finish().expect("gzip")), ["f 644 file x"]);
        let cut = archive[..archive.len() - 20].to_vec();
        let result = for_each_entry(Box::new(std::io::Cursor::new(cut)), "t", &mut |_| Ok(()));
        assert!(result.is_err());
    }
}
