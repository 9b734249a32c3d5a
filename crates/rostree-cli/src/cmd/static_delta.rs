//! `ostree static-delta`: make, inspect, apply and index static deltas.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Subcommand;
use rostree::Repo;
use rostree::delta::apply::{self, SignatureCheck};
use rostree::delta::format::EndiannessSource;
use rostree::delta::{Endianness, GenerateOptions, Superblock, SuperblockFile};
use rostree::repo::Transaction;
use rostree::repo::deltas::{self, DeltaName};
use rostree::sign::signapi::{SignType, Verifier};

use crate::{GlobalOptions, util};

/// The `static-delta` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List static delta files
    List(ListArgs),
    /// Dump information on a delta
    Show(ShowArgs),
    /// Remove a delta
    Delete(DeltaArgs),
    /// Generate static delta files
    Generate(GenerateArgs),
    /// Apply static delta file
    ApplyOffline(ApplyArgs),
    /// Verify static delta signatures
    Verify(VerifyArgs),
    /// List static delta indexes
    Indexes(NoArgs),
    /// Regenerate static delta indexes
    Reindex(ReindexArgs),
}

/// Arguments of subcommands without options.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct NoArgs {}

/// Arguments of `list`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct ListArgs {
    /// Print the deltas as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct ShowArgs {
    /// Print what the delta holds as JSON (rostree's own; docs/json.md)
    #[arg(long)]
    json: bool,
    /// The delta (FROM-TO or TO, or a superblock path)
    delta: Option<String>,
}

/// Arguments of `delete`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct DeltaArgs {
    /// The delta (FROM-TO or TO; for show, also a superblock path)
    delta: Option<String>,
}

/// Arguments of `generate`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] [TO]")]
pub struct GenerateArgs {
    /// Create delta from revision REV
    #[arg(long, value_name = "REV")]
    from: Option<String>,
    /// Create delta from scratch
    #[arg(long)]
    empty: bool,
    /// Inline delta parts into main delta
    #[arg(long)]
    inline: bool,
    /// Create delta to revision REV
    #[arg(long, value_name = "REV")]
    to: Option<String>,
    /// Disable use of bsdiff
    #[arg(long = "disable-bsdiff")]
    disable_bsdiff: bool,
    /// Only generate if a delta does not already exist
    #[arg(short = 'n', long = "if-not-exists")]
    if_not_exists: bool,
    /// Choose metadata endianness ('l' or 'B')
    #[arg(long = "set-endianness", value_name = "ENDIAN")]
    set_endianness: Option<String>,
    /// Swap metadata endianness from host order
    #[arg(long = "swap-endianness")]
    swap_endianness: bool,
    /// Minimum uncompressed size in megabytes for individual HTTP request
    #[arg(long = "min-fallback-size")]
    min_fallback_size: Option<String>,
    /// Maximum size in megabytes to consider bsdiff compression for input files
    #[arg(long = "max-bsdiff-size")]
    max_bsdiff_size: Option<String>,
    /// Maximum size of delta chunks in megabytes
    #[arg(long = "max-chunk-size")]
    max_chunk_size: Option<String>,
    /// Write the delta content to PATH (a directory).  If not specified, the OSTree repository is used
    #[arg(long, value_name = "PATH")]
    filename: Option<PathBuf>,
    /// Sign the delta with
    #[arg(long = "sign", value_name = "KEY_ID")]
    sign: Vec<String>,
    /// Signature type to use (defaults to 'ed25519')
    #[arg(long = "sign-type", value_name = "NAME", default_value = "ed25519")]
    sign_type: String,
    /// Read key(s) from file
    #[arg(long = "keys-file", value_name = "NAME")]
    keys_file: Option<PathBuf>,
    /// The commit the delta builds
    to_positional: Option<String>,
}

/// Arguments of `apply-offline`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct ApplyArgs {
    /// Signature type to use (defaults to 'ed25519')
    #[arg(long = "sign-type", value_name = "NAME", default_value = "ed25519")]
    sign_type: String,
    /// Read key(s) from file
    #[arg(long = "keys-file", value_name = "NAME")]
    keys_file: Option<PathBuf>,
    /// Redefine system-wide directories with public and revoked keys for verification
    #[arg(long = "keys-dir", value_name = "NAME")]
    keys_dir: Option<PathBuf>,
    /// The delta's directory or superblock
    path: Option<PathBuf>,
    /// Public keys to check its signature with
    keys: Vec<String>,
}

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…] STATIC-DELTA-FILE [KEY-ID...]")]
pub struct VerifyArgs {
    /// Signature type to use (defaults to 'ed25519')
    #[arg(long = "sign-type", value_name = "NAME", default_value = "ed25519")]
    sign_type: String,
    /// Read key(s) from file
    #[arg(long = "keys-file", value_name = "NAME")]
    keys_file: Option<PathBuf>,
    /// Redefine system-wide directories with public and revoked keys for verification
    #[arg(long = "keys-dir", value_name = "NAME")]
    keys_dir: Option<PathBuf>,
    /// The delta (FROM-TO or TO) or its superblock's path
    delta: Option<String>,
    /// Public keys
    keys: Vec<String>,
}

/// Arguments of `reindex`.
#[derive(Debug, clap::Args)]
#[command(override_usage = "[OPTION…]")]
pub struct ReindexArgs {
    /// Only update delta index to revision REV
    #[arg(long, value_name = "REV")]
    to: Option<String>,
}

pub fn run(command: Command, global: &GlobalOptions) -> Result<i32> {
    match command {
        Command::List(a) => {
            let repo = global.open_repo()?;
            let list = deltas::list_static_deltas(&repo)?;
            if a.json {
                let deltas: Vec<serde_json::Value> = list
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "name": d.to_string(),
                            "from": crate::json::checksum(d.from.as_ref()),
                            "to": d.to.to_hex(),
                        })
                    })
                    .collect();
                crate::json::print(&serde_json::json!({ "deltas": deltas }))?;
                return Ok(0);
            }
            print_list(list, "(No static deltas)")
        }
        Command::Show(a) => show(a, global),
        Command::Delete(a) => {
            let repo = global.open_repo()?;
            let Some(delta) = a.delta else {
                bail!("DELTA must be specified");
            };
            deltas::delete_delta(&repo, &DeltaName::parse(&delta)?)?;
            Ok(0)
        }
        Command::Generate(a) => generate(a, global),
        Command::ApplyOffline(a) => apply_offline(a, global),
        Command::Verify(a) => verify(a, global),
        Command::Indexes(_) => {
            let repo = global.open_repo()?;
            print_list(
                deltas::list_delta_indexes(&repo)?,
                "(No static deltas indexes)",
            )
        }
        Command::Reindex(a) => {
            let mut repo = global.open_repo()?;
            let to = match &a.to {
                Some(rev) => Some(DeltaName::parse(rev)?.to),
                None => None,
            };
            deltas::reindex(&mut repo, to.as_ref())?;
            Ok(0)
        }
    }
}

/// One item a line, or upstream's words for none.
fn print_list<T: std::fmt::Display>(items: Vec<T>, none: &str) -> Result<i32> {
    let mut out = String::new();
    if items.is_empty() {
        out.push_str(none);
        out.push('\n');
    }
    for item in items {
        out.push_str(&format!("{item}\n"));
    }
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}

/// `g_ascii_strtoull(text, NULL, 10)` truncated to a `u32`, as upstream reads sizes.
fn megabytes(text: &str) -> u64 {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let value = digits.parse::<u64>().unwrap_or(u64::MAX);
    u64::from(value as u32) * 1_000_000
}

fn generate(args: GenerateArgs, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let Some(to_rev) = args.to.clone().or(args.to_positional.clone()) else {
        bail!("TO revision must be specified");
    };
    let from_rev = match (args.empty, &args.from) {
        (true, Some(_)) => bail!("Cannot specify both --empty and --from=REV"),
        (true, None) => None,
        (false, Some(from)) => Some(from.clone()),
        (false, None) => Some(format!("{to_rev}^")),
    };
    let from = match &from_rev {
        Some(rev) => Some(repo.resolve_rev(rev)?),
        None => None,
    };
    let to = repo.resolve_rev(&to_rev)?;
    let name = DeltaName { from, to };
    if args.if_not_exists && deltas::delta_exists(&repo, &name)? {
        util::write_stdout(format!("Delta {name} already exists.\n").as_bytes())?;
        return Ok(0);
    }
    let mut endianness = match args.set_endianness.as_deref() {
        None => Endianness::host(),
        Some("l") => Endianness::Little,
        Some("B") => Endianness::Big,
        Some(other) => bail!("Invalid endianness '{other}'"),
    };
    if args.swap_endianness {
        endianness = endianness.swapped();
    }
    let mut keys = args.sign.clone();
    if let Some(file) = &args.keys_file {
        if !file.is_file() {
            bail!("File object '{}' is not a regular file", file.display());
        }
        keys.extend(super::sign::read_lines(file)?);
    }
    let mut options = GenerateOptions::new(from, to);
    if let Some(size) = &args.min_fallback_size {
        options.min_fallback_size = megabytes(size);
    }
    if let Some(size) = &args.max_bsdiff_size {
        options.max_bsdiff_size = megabytes(size);
    }
    if let Some(size) = &args.max_chunk_size {
        options.max_chunk_size = megabytes(size);
    }
    options.bsdiff = !args.disable_bsdiff;
    options.inline = args.inline;
    options.endianness = endianness;
    if let Some(path) = &args.filename {
        if path.as_os_str().is_empty() {
            bail!("Invalid 'filename' parameter");
        }
        options.output = Some(path.clone());
    }
    options.signing_keys = super::sign::signing_keys(&args.sign_type, &keys)?;
    let from_text = from.map_or("empty".to_owned(), |c| c.to_hex());
    util::write_stdout(
        format!("Generating static delta:\n  From: {from_text}\n  To:   {to}\n").as_bytes(),
    )?;
    let interrupt = crate::progress::interrupt_flag();
    let progress = crate::progress::CountProgress::new();
    let outcome = rostree::delta::generate(&repo, &options, &progress, &interrupt)?;
    progress.finish();
    // Upstream's CLI always asks for these diagnostics.
    let mut err = format!(
        "modified: {}\nnew reachable: metadata={} content regular={} symlink={}\n\
         rollsum for {}/{} modified\n",
        outcome.modified,
        outcome.new_metadata,
        outcome.new_regular,
        outcome.new_symlinks,
        outcome.rollsum,
        outcome.modified
    );
    let (mut compressed, mut uncompressed) = (0, 0);
    for (i, part) in outcome.parts.iter().enumerate() {
        err.push_str(&format!(
            "part {} n:{} compressed:{} uncompressed:{}\n",
            i + 1,
            part.objects,
            part.compressed,
            part.uncompressed
        ));
        compressed += part.compressed;
        uncompressed += part.uncompressed;
    }
    err.push_str(&format!(
        "uncompressed={uncompressed} compressed={compressed} loose={}\n\
         rollsum={} objects, {} bytes\nbsdiff={} objects\n",
        outcome.loose_size, outcome.rollsum, outcome.rollsum_size, outcome.bsdiff
    ));
    eprint!("{err}");
    Ok(0)
}

/// The keys a signed superblock is checked with: those given (and in `--keys-file`), else
/// the system's. `None` when there are none to check with and none were asked for.
fn delta_verifier(
    sign_type: &str,
    keys: &[String],
    keys_file: Option<&Path>,
    keys_dir: Option<&Path>,
) -> Result<Verifier> {
    let ty = SignType::from_name(sign_type)
        .map_err(|_| anyhow::anyhow!("Signing type {sign_type} is not supported"))?;
    let mut keys = keys.to_vec();
    if let Some(file) = keys_file {
        keys.extend(super::sign::read_lines(file)?);
    }
    super::sign::verifiers(ty, &keys, keys_dir)
}

fn apply_offline(args: ApplyArgs, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let Some(path) = &args.path else {
        bail!("PATH must be specified");
    };
    // Without keys given, the system's are used when they load; otherwise signatures are
    // not checked, as upstream.
    let defaults_only = args.keys.is_empty() && args.keys_file.is_none() && args.keys_dir.is_none();
    let verifier = match delta_verifier(
        &args.sign_type,
        &args.keys,
        args.keys_file.as_deref(),
        args.keys_dir.as_deref(),
    ) {
        // The system's keys, when there are none, check nothing (upstream then applies
        // the delta unchecked, unless `core.sign-verify-deltas` demands a key).
        Ok(Verifier::Ed25519(v)) if defaults_only && v.trusted.is_empty() => None,
        Ok(v) => Some(v),
        Err(_) if defaults_only => None,
        Err(e) => return Err(e),
    };
    let check = match &verifier {
        Some(v) => SignatureCheck::Keys(std::slice::from_ref(v)),
        None => SignatureCheck::None,
    };
    let tx = Transaction::begin(&repo)?;
    let progress = crate::progress::CountProgress::new();
    let interrupt = crate::progress::interrupt_flag();
    apply::apply_offline(&tx, path, check, &progress, &interrupt)?;
    progress.finish();
    tx.commit()?;
    Ok(0)
}

/// A delta's superblock file: a path when the argument has a `/`, else the repository's.
fn read_superblock_file(repo: &Repo, delta: &str) -> Result<(Vec<u8>, Option<DeltaName>)> {
    if delta.contains('/') {
        let data = std::fs::read(delta)
            .map_err(|e| anyhow::anyhow!("opendir({delta}): {}", util::io_error_text(&e)))?;
        return Ok((data, None));
    }
    let name = DeltaName::parse(delta)?;
    let path = name.superblock_path();
    let data = repo
        .dir()
        .read(&path)
        .map_err(|e| anyhow::anyhow!("openat({path}): {}", util::io_error_text(&e)))?;
    Ok((data, Some(name)))
}

fn verify(args: VerifyArgs, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let Some(delta) = &args.delta else {
        bail!("DELTA must be specified");
    };
    let verifier = delta_verifier(
        &args.sign_type,
        &args.keys,
        args.keys_file.as_deref(),
        args.keys_dir.as_deref(),
    )?;
    let (data, _) = read_superblock_file(&repo, delta)?;
    let file = SuperblockFile::parse(&data)?;
    let result = if file.is_signed() {
        apply::verify_superblock(&file, std::slice::from_ref(&verifier)).map_err(Into::into)
    } else {
        Err(anyhow::anyhow!("no signatures in static-delta"))
    };
    match result {
        Ok(_) => {
            util::write_stdout(b"Verification OK\n")?;
            Ok(0)
        }
        Err(e) => {
            util::write_stdout(b"Verification fails\n")?;
            Err(e)
        }
    }
}

fn show(args: ShowArgs, global: &GlobalOptions) -> Result<i32> {
    let repo = global.open_repo()?;
    let Some(delta) = &args.delta else {
        bail!("DELTA must be specified");
    };
    let (data, _) = read_superblock_file(&repo, delta)?;
    let file = SuperblockFile::parse(&data)?;
    let sb = Superblock::parse(&file.superblock)?;
    let name = DeltaName {
        from: sb.from,
        to: sb.to,
    };
    let mut out = format!(
        "Delta: {delta}\nSigned: {}\n",
        if file.is_signed() { "yes" } else { "no" }
    );
    match &sb.from {
        Some(from) => out.push_str(&format!("From: {from}\n")),
        None => out.push_str("From <scratch>\n"),
    }
    out.push_str(&format!("To: {}\n", sb.to));
    let order = match sb.endianness {
        Endianness::Little => "little",
        Endianness::Big => "big",
    };
    let endianness = match sb.endianness_source {
        EndiannessSource::Recorded => order.to_owned(),
        EndiannessSource::Heuristic => format!("{order} (heuristic)"),
        EndiannessSource::Invalid => "invalid".to_owned(),
    };
    out.push_str(&format!(
        "Endianness: {endianness}\nTimestamp: {}\nNumber of parents: 0\n",
        sb.timestamp
    ));
    out.push_str(&format!(
        "Number of fallback entries: {}\n",
        sb.fallbacks.len()
    ));
    let (mut fallback_size, mut fallback_usize) = (0u64, 0u64);
    let mut parts_json = Vec::new();
    for f in &sb.fallbacks {
        out.push_str(&format!("  {}\n", f.checksum));
        fallback_size += f.compressed_size;
        fallback_usize += f.uncompressed_size;
    }
    let sized = |n: u64| format!("{n} ({})", util::format_size(n));
    out.push_str(&format!(
        "Total Fallback Size: {}\nTotal Fallback Uncompressed Size: {}\n",
        sized(fallback_size),
        sized(fallback_usize)
    ));
    out.push_str(&format!("Number of parts: {}\n", sb.parts.len()));
    let (mut size, mut usize) = (0u64, 0u64);
    let tmp = apply::tmp_dir(&repo)?;
    for (i, part) in sb.parts.iter().enumerate() {
        size += part.compressed_size;
        usize += part.uncompressed_size;
        out.push_str(&format!(
            "PartMeta{i}: nobjects={} size={} usize={}\n",
            part.objects.len(),
            part.compressed_size,
            part.uncompressed_size
        ));
        let key = name.part_path(i as u32);
        let declared = part.uncompressed_size;
        let payload = match sb.inline_part(&key) {
            Some(bytes) => apply::open_part(&mut &bytes[..], None, declared, Some(&tmp))?,
            None => {
                let mut file = repo
                    .dir()
                    .open(&key)
                    .map_err(|e| anyhow::anyhow!("openat({key}): {}", util::io_error_text(&e)))?;
                apply::open_part(&mut file, None, declared, Some(&tmp))?
            }
        };
        let stats = apply::part_stats(&part.objects, &payload)?;
        let ops = stats.ops;
        if args.json {
            parts_json.push(serde_json::json!({
                "objects": part.objects.len(),
                "size": part.compressed_size,
                "uncompressed_size": part.uncompressed_size,
                "modes": stats.modes,
                "xattrs": stats.xattrs,
                "blob_size": stats.blob_size,
                "ops_size": stats.ops_size,
                "ops": {
                    "open_splice_and_close": ops.open_splice_and_close,
                    "open": ops.open,
                    "write": ops.write,
                    "set_read_source": ops.set_read_source,
                    "unset_read_source": ops.unset_read_source,
                    "close": ops.close,
                    "bspatch": ops.bspatch,
                },
            }));
        }
        out.push_str(&format!(
            "PartPayload{i}: nmodes={} nxattrs={} blobsize={} opsize={}\n\
             PartPayloadOps{i}: openspliceclose={} open={} write={} setread={} unsetread={} \
             close={} bspatch={}\n",
            stats.modes,
            stats.xattrs,
            stats.blob_size,
            stats.ops_size,
            ops.open_splice_and_close,
            ops.open,
            ops.write,
            ops.set_read_source,
            ops.unset_read_source,
            ops.close,
            ops.bspatch
        ));
    }
    if args.json {
        let mut object = serde_json::Map::new();
        object.insert("delta".into(), delta.as_str().into());
        object.insert("signed".into(), file.is_signed().into());
        object.insert("from".into(), crate::json::checksum(sb.from.as_ref()));
        object.insert("to".into(), sb.to.to_hex().into());
        object.insert("endianness".into(), endianness.into());
        crate::json::insert_time(&mut object, "timestamp", sb.timestamp);
        let fallbacks: Vec<serde_json::Value> = sb
            .fallbacks
            .iter()
            .map(|f| {
                serde_json::json!({
                    "checksum": f.checksum.to_hex(),
                    "size": f.compressed_size,
                    "uncompressed_size": f.uncompressed_size,
                })
            })
            .collect();
        object.insert("fallbacks".into(), fallbacks.into());
        object.insert("parts".into(), parts_json.into());
        object.insert("size".into(), (size + fallback_size).into());
        object.insert("uncompressed_size".into(), (usize + fallback_usize).into());
        crate::json::print(&serde_json::Value::Object(object))?;
        return Ok(0);
    }
    out.push_str(&format!(
        "Total Part Size: {}\nTotal Part Uncompressed Size: {}\nTotal Size: {}\n\
         Total Uncompressed Size: {}\n",
        sized(size),
        sized(usize),
        sized(size + fallback_size),
        sized(usize + fallback_usize)
    ));
    util::write_stdout(out.as_bytes())?;
    Ok(0)
}
