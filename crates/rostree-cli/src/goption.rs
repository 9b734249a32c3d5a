//! Upstream's command-line rules, which are GLib's GOption rules, on top of clap.
//!
//! The subcommands are declared with clap's derive; this module makes the result behave as
//! upstream `ostree` does:
//! - the verb is the first argument that does not start with `-` (so `ostree --repo=r refs`
//!   and `ostree refs --repo=r` are the same, and `ostree --repo r refs` names a command `r`,
//!   as upstream);
//! - an option given twice keeps its last value, list options append, and an option's value
//!   may start with `-` (`--depth -1`);
//! - `-v/--verbose` and `--version` are accepted by every command, `-h/--help` prints GOption's
//!   help layout on stdout;
//! - a verb that is not builtin runs `ostree-VERB` from `/usr/lib/ostree` or `$PATH`;
//! - parse errors use GLib's words (`Unknown option --x`, `Missing argument for --x`).

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};

/// Commands that open no repository, so their help lists no `--repo`.
const NO_REPO: &[&str] = &["checksum"];

/// Where upstream looks for CLI extensions before `$PATH`.
const EXTENSION_DIR: &str = "/usr/lib/ostree";

/// The clap definition with upstream's rules applied to every command.
pub(crate) fn prepare(cmd: Command) -> Command {
    // Propagates to every subcommand: a repeated option replaces the earlier value.
    prepare_one(cmd.args_override_self(true))
}

fn prepare_one(cmd: Command) -> Command {
    let has_short_v = cmd.get_arguments().any(|a| a.get_short() == Some('v'));
    let has_verbose = cmd.get_arguments().any(|a| a.get_long() == Some("verbose"));
    let mut cmd = cmd
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .disable_version_flag(true)
        .mut_args(|arg| {
            if !arg.is_positional() && arg.get_action().takes_values() {
                arg.allow_hyphen_values(true)
            } else {
                arg
            }
        });
    if !has_verbose && !cmd.get_arguments().any(|a| a.get_id() == "verbose") {
        let mut verbose = Arg::new("verbose")
            .long("verbose")
            .action(ArgAction::SetTrue)
            .hide(true);
        // `summary -v` is `--view`: the command's own short option wins, as in GOption.
        if !has_short_v {
            verbose = verbose.short('v');
        }
        cmd = cmd.arg(verbose);
    }
    // GOption hands every argument that is not an option to the command, which uses what
    // it needs: extra arguments are ignored unless a command says otherwise.
    let takes_all = cmd.get_positionals().any(|a| {
        matches!(a.get_action(), ArgAction::Append)
            || a.get_num_args().is_some_and(|n| n.max_values() > 1)
    });
    if !cmd.has_subcommands() && !takes_all {
        cmd = cmd.arg(
            Arg::new("extra-arguments")
                .num_args(0..)
                .action(ArgAction::Append)
                .hide(true),
        );
    }
    cmd.mut_subcommands(prepare_one)
}

/// What the arguments ask for before any command runs.
pub(crate) enum Early {
    /// Print this help on stdout and exit 0.
    Help(String),
    /// Print the version and exit 0.
    Version,
    /// Print this help on stderr, then the error, and exit 1.
    Usage { help: String, error: String },
    /// Run this program (an `ostree-VERB` extension) with the same arguments.
    External(PathBuf),
    /// Parse with clap and run the command.
    Run,
}

/// The verbs of the command line: the builtin command path found (and where each verb
/// is), and the first verb that is not builtin.
struct Verbs {
    path: Vec<String>,
    positions: Vec<usize>,
    unknown: Option<String>,
}

fn find_verbs(args: &[OsString], top: &Command) -> Verbs {
    let mut path = Vec::new();
    let mut positions = Vec::new();
    let mut cmd = top;
    for (i, arg) in args.iter().enumerate().skip(1) {
        if arg == "--" {
            break;
        }
        let text = arg.to_string_lossy();
        if text.starts_with('-') || text.is_empty() {
            continue;
        }
        if !cmd.has_subcommands() {
            break;
        }
        match cmd.find_subcommand(arg.as_os_str()) {
            Some(sub) if !sub.is_hide_set() || !path.is_empty() || sub.get_name() == text => {
                path.push(text.into_owned());
                positions.push(i);
                cmd = sub;
            }
            _ => {
                return Verbs {
                    path,
                    positions,
                    unknown: Some(text.into_owned()),
                };
            }
        }
    }
    Verbs {
        path,
        positions,
        unknown: None,
    }
}

/// The arguments with the verbs first, as upstream hands a command every argument but its
/// verb whatever their order: `ostree remote --set=k=v add ...` is `remote add --set=k=v`.
pub(crate) fn verbs_first(args: &[OsString], top: &Command) -> Vec<OsString> {
    let verbs = find_verbs(args, top);
    let cmd = verbs.path.iter().fold(top, |c, name| {
        c.find_subcommand(name).expect("found by find_verbs")
    });
    let mut out: Vec<OsString> = args.iter().take(1).cloned().collect();
    out.extend(verbs.positions.iter().map(|&i| args[i].clone()));
    out.extend(
        args.iter()
            .enumerate()
            .skip(1)
            .filter(|(i, _)| !verbs.positions.contains(i))
            .map(|(_, a)| without_flag_value(a, cmd)),
    );
    out
}

/// `--flag=VALUE` for a flag that takes no value is the flag: GOption ignores the value.
fn without_flag_value(arg: &OsString, cmd: &Command) -> OsString {
    let text = arg.to_string_lossy();
    let Some((name, _)) = text.strip_prefix("--").and_then(|t| t.split_once('=')) else {
        return arg.clone();
    };
    let is_flag = cmd
        .get_arguments()
        .any(|a| a.get_long() == Some(name) && !a.get_action().takes_values());
    match is_flag {
        true => OsString::from(format!("--{name}")),
        false => arg.clone(),
    }
}

/// Options before a `--`.
fn options(args: &[OsString]) -> impl Iterator<Item = &OsStr> {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .map(|a| a.as_os_str())
}

fn wants_help(args: &[OsString]) -> bool {
    options(args).any(|a| {
        let a = a.to_string_lossy();
        a == "--help"
            || a == "--help-all"
            || (a.starts_with('-') && !a.starts_with("--") && (a.contains('h') || a.contains('?')))
                && a.len() > 1
                && a[1..].chars().all(|c| c.is_ascii_alphabetic() || c == '?')
    })
}

/// Upstream's usage error (help, blank line, error) for a command given too few arguments,
/// by command path.
const MISSING_ARGUMENTS: &[(&str, &str)] = &[
    (
        "cat",
        "A COMMIT and at least one PATH argument are required",
    ),
    ("config", "OPERATION must be specified"),
    ("export", "A COMMIT argument is required"),
    ("gpg-sign", "Need a COMMIT to sign"),
    ("log", "A rev argument is required"),
    ("ls", "An COMMIT argument is required"),
    ("pull", "REMOTE must be specified"),
    ("reset", "A REF and COMMIT argument is required"),
    ("show", "An object argument is required"),
    ("sign", "Need a COMMIT to sign or verify"),
    ("remote add", "NAME and URL must be specified"),
    (
        "remote add-cookie",
        "NAME, DOMAIN, PATH, COOKIE_NAME and VALUE must be specified",
    ),
    (
        "remote delete-cookie",
        "NAME, DOMAIN, PATH and COOKIE_NAME must be specified",
    ),
    ("remote delete", "NAME must be specified"),
    ("remote gpg-import", "NAME must be specified"),
    ("remote gpg-list-keys", "NAME must be specified"),
    ("remote list-cookies", "NAME must be specified"),
    ("remote refs", "NAME must be specified"),
    ("remote show-url", "NAME must be specified"),
    ("remote summary", "NAME must be specified"),
];

/// The usage error upstream gives the command `args` name when arguments are missing.
pub(crate) fn missing_arguments_message(args: &[OsString], top: &Command) -> Option<&'static str> {
    let path = find_verbs(args, top).path.join(" ");
    MISSING_ARGUMENTS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, message)| *message)
}

/// The help of the command `args` name (for errors reported after it).
pub(crate) fn help_for(args: &[OsString], top: &Command) -> String {
    let verbs = find_verbs(args, top);
    let cmd = verbs.path.iter().fold(top, |c, name| {
        c.find_subcommand(name).expect("found by find_verbs")
    });
    let program = args
        .first()
        .map_or_else(|| "ostree".into(), |a| a.to_string_lossy());
    help(&program, cmd, &verbs.path)
}

/// Decides what to do before clap parses: help, version, extensions, missing or unknown verbs.
pub(crate) fn early(args: &[OsString], top: &Command) -> Early {
    let verbs = find_verbs(args, top);
    if verbs.path.is_empty()
        && let Some(name) = &verbs.unknown
        && let Some(program) = find_extension(name)
    {
        return Early::External(program);
    }
    let cmd = verbs
        .path
        .iter()
        .fold(top, |c, name| c.find_subcommand(name).expect("found above"));
    let program = args
        .first()
        .map_or_else(|| "ostree".into(), |a| a.to_string_lossy());
    if wants_help(args) {
        return Early::Help(help(&program, cmd, &verbs.path));
    }
    if options(args).any(|a| a == "--version") {
        return Early::Version;
    }
    // `admin --print-current-dir` answers without a subcommand, as upstream.
    let prints_current_dir = verbs.path.first().is_some_and(|v| v == "admin")
        && options(args).any(|a| a == "--print-current-dir");
    if cmd.has_subcommands() && !(prints_current_dir && verbs.unknown.is_none()) {
        let error = match (&verbs.unknown, verbs.path.last()) {
            (None, None) => match options(args).find(|a| !is_top_level_option(a)) {
                Some(opt) => format!("Unknown option {}", opt.to_string_lossy()),
                None => "No command specified".to_owned(),
            },
            (Some(name), None) => format!("Unknown command '{name}'"),
            (None, Some(parent)) => format!("No \"{parent}\" subcommand specified"),
            (Some(name), Some(parent)) => format!("Unknown \"{parent}\" subcommand '{name}'"),
        };
        return Early::Usage {
            help: help(&program, cmd, &verbs.path),
            error,
        };
    }
    Early::Run
}

fn is_top_level_option(arg: &OsStr) -> bool {
    let arg = arg.to_string_lossy();
    arg == "-v" || arg == "--verbose" || arg.starts_with("--repo=") || arg == "--repo"
}

fn find_extension(verb: &str) -> Option<PathBuf> {
    let name = format!("ostree-{verb}");
    let in_lib = PathBuf::from(EXTENSION_DIR).join(&name);
    if in_lib.exists() {
        return Some(in_lib);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(&name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs an extension as upstream does: `ostree-VERB` gets the same arguments, the verb
/// included. Returns only when it could not be run.
pub(crate) fn exec_external(program: &std::path::Path, args: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    let name = program
        .file_name()
        .map(OsStr::to_os_string)
        .unwrap_or_default();
    let err = std::process::Command::new(program)
        .arg0(&name)
        .args(args.iter().skip(1))
        .exec();
    eprintln!(
        "error: Executing {}: {}",
        name.to_string_lossy(),
        crate::util::io_error_text(&err)
    );
    1
}

/// One line of the options table: the left column and the description.
struct Entry {
    left: String,
    description: String,
}

fn entry_for(arg: &Arg) -> Option<Entry> {
    if arg.is_positional() || arg.is_hide_set() {
        return None;
    }
    let long = arg.get_long()?;
    let mut left = match arg.get_short() {
        Some(short) => format!("-{short}, --{long}"),
        None => format!("--{long}"),
    };
    if arg.get_action().takes_values() {
        let value = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map(|n| n.to_string())
            .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
        // An empty value name stands for GOption's missing argument description: the
        // option takes a value, and its help shows none.
        if !value.is_empty() {
            let _ = write!(left, "={value}");
        }
    }
    let description = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    Some(Entry { left, description })
}

/// The `--help` text of `cmd` (at `path` below the program, named as it was invoked, as
/// GLib names it), laid out as GOption lays it out.
pub(crate) fn help(program: &str, cmd: &Command, path: &[String]) -> String {
    let mut prog = program.to_owned();
    for name in path {
        prog.push(' ');
        prog.push_str(name);
    }
    let params = cmd
        .get_overridden_usage()
        .map(|u| u.to_string())
        .unwrap_or_else(|| {
            if cmd.has_subcommands() {
                "[OPTION…] COMMAND".to_owned()
            } else {
                "[OPTION…]".to_owned()
            }
        });
    let mut out = format!("Usage:\n  {prog} {params}\n\n");
    if !path.is_empty()
        && let Some(about) = cmd.get_about()
    {
        let _ = write!(out, "{about}\n\n");
    }
    if cmd.has_subcommands() {
        let heading = match path.last() {
            Some(parent) => format!("Builtin \"{parent}\" Commands:"),
            None => "Builtin Commands:".to_owned(),
        };
        out.push_str(&heading);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let _ = write!(out, "\n  {:<18}{about}", sub.get_name());
        }
        out.push_str("\n\n");
    }

    let mut entries = Vec::new();
    // Every command that opens a repository has `--repo`; a command of subcommands
    // (`remote`) leaves it to them.
    let takes_repo =
        !cmd.has_subcommands() && path.first().is_some_and(|c| !NO_REPO.contains(&c.as_str()));
    if takes_repo {
        entries.push(Entry {
            left: "--repo=PATH".to_owned(),
            description: "Path to OSTree repository (defaults to current directory or \
                          /sysroot/ostree/repo)"
                .to_owned(),
        });
    }
    entries.extend(
        cmd.get_arguments()
            .filter(|a| a.get_id() != "repo" && a.get_id() != "version")
            .filter_map(entry_for),
    );
    entries.push(Entry {
        left: "-v, --verbose".to_owned(),
        description: "Print debug information during command processing".to_owned(),
    });
    entries.push(Entry {
        left: "--version".to_owned(),
        description: "Print version information and exit".to_owned(),
    });
    if cmd
        .get_arguments()
        .any(|a| a.get_short() == Some('v') && a.get_id() != "verbose")
    {
        // The command's own `-v` wins; the global one is left with its long form.
        let verbose = entries.len() - 2;
        entries[verbose].left = "--verbose".to_owned();
    }
    let help_entry = "-h, --help";
    // GLib sizes the column for at least `-?, --help` written without its dashes' share.
    let width = entries
        .iter()
        .map(|e| e.left.chars().count())
        .chain([12])
        .max()
        .unwrap_or(0)
        + 4;
    let line = |left: &str, description: &str| format!("  {left:<width$} {description}\n");
    out.push_str("Help Options:\n");
    out.push_str(&line(help_entry, "Show help options"));
    out.push_str("\nApplication Options:\n");
    for e in &entries {
        out.push_str(&line(&e.left, &e.description));
    }
    out.push('\n');
    out
}

/// A clap parse error in GLib's words.
pub(crate) fn error_message(e: &clap::Error) -> String {
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        _ => None,
    };
    // clap names an option as `--name <VALUE>`; GLib as `--name`.
    let option = || {
        context(ContextKind::InvalidArg)
            .map(|a| a.split([' ', '=']).next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg).unwrap_or_default();
            if arg.starts_with('-') {
                format!("Unknown option {arg}")
            } else {
                "Too many arguments given".to_owned()
            }
        }
        ErrorKind::InvalidValue if context(ContextKind::InvalidValue).as_deref() == Some("") => {
            format!("Missing argument for {}", option())
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = context(ContextKind::InvalidValue).unwrap_or_default();
            format!("Cannot parse value “{value}” for {}", option())
        }
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("Error parsing option {}", option())
        }
        ErrorKind::MissingRequiredArgument => {
            let names = context(ContextKind::InvalidArg).unwrap_or_default();
            let names = names.replace(['<', '>'], "").replace("...", "");
            format!("{names} must be specified")
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn demo() -> Command {
        prepare(
            Command::new("ostree")
                .arg(Arg::new("repo").long("repo").global(true))
                .subcommand(
                    Command::new("refs")
                        .about("List refs")
                        .override_usage("[OPTION…] [PREFIX]")
                        .arg(
                            Arg::new("create")
                                .long("create")
                                .value_name("NEWREF")
                                .help("Create a new ref"),
                        )
                        .arg(
                            Arg::new("alias")
                                .short('A')
                                .long("alias")
                                .action(ArgAction::SetTrue)
                                .help("Aliases"),
                        )
                        .arg(Arg::new("prefix").num_args(0..)),
                )
                .subcommand(
                    Command::new("summary").arg(
                        Arg::new("view")
                            .short('v')
                            .long("view")
                            .action(ArgAction::SetTrue),
                    ),
                )
                .subcommand(
                    Command::new("remote")
                        .about("Remote commands")
                        .subcommand(Command::new("add").about("Add a remote")),
                ),
        )
    }

    #[test]
    fn verbs_are_the_first_non_options() {
        let top = demo();
        let table: &[(&[&str], &[&str], Option<&str>)] = &[
            (&["ostree", "--repo=r", "refs"], &["refs"], None),
            (&["ostree", "refs", "--repo=r", "x"], &["refs"], None),
            (&["ostree", "--repo", "r", "refs"], &[], Some("r")),
            (
                &["ostree", "remote", "-v", "add", "x"],
                &["remote", "add"],
                None,
            ),
            (&["ostree", "remote", "nosuch"], &["remote"], Some("nosuch")),
            (&["ostree", "--", "refs"], &[], None),
        ];
        for (args, path, unknown) in table {
            let verbs = find_verbs(&os(args), &top);
            assert_eq!(verbs.path, *path, "{args:?}");
            assert_eq!(verbs.unknown.as_deref(), *unknown, "{args:?}");
        }
        let moved = verbs_first(
            &os(&["ostree", "--repo=r", "remote", "--x", "add", "n"]),
            &top,
        );
        assert_eq!(
            moved,
            os(&["ostree", "remote", "add", "--repo=r", "--x", "n"])
        );
        // A flag given a value is the flag (GOption ignores the value); options keep theirs.
        let moved = verbs_first(&os(&["ostree", "summary", "--view=yes", "--repo=r"]), &top);
        assert_eq!(moved, os(&["ostree", "summary", "--view", "--repo=r"]));
    }

    #[test]
    fn repeated_options_keep_the_last_value_and_values_may_start_with_a_dash() {
        let m = demo()
            .try_get_matches_from(["ostree", "--repo=a", "refs", "--create=x", "--repo=b"])
            .expect("parses");
        let (_, sub) = m.subcommand().expect("refs");
        assert_eq!(sub.get_one::<String>("repo").map(String::as_str), Some("b"));
        let m = demo()
            .try_get_matches_from(["ostree", "refs", "--create", "-x", "-v"])
            .expect("parses");
        let (_, sub) = m.subcommand().expect("refs");
        assert_eq!(
            sub.get_one::<String>("create").map(String::as_str),
            Some("-x")
        );
        assert!(sub.get_flag("verbose"));
    }

    #[test]
    fn a_commands_own_short_option_wins() {
        let m = demo()
            .try_get_matches_from(["ostree", "summary", "-v", "--verbose"])
            .expect("parses");
        let (_, sub) = m.subcommand().expect("summary");
        assert!(sub.get_flag("view"));
        assert!(sub.get_flag("verbose"));
    }

    #[test]
    fn help_is_laid_out_as_goption_does() {
        let top = demo();
        let refs = top.find_subcommand("refs").expect("refs");
        let text = help("ostree", refs, &["refs".to_owned()]);
        let expected = "Usage:\n  ostree refs [OPTION…] [PREFIX]\n\nList refs\n\n\
            Help Options:\n  -h, --help          Show help options\n\n\
            Application Options:\n\
            \x20 --repo=PATH         Path to OSTree repository (defaults to current directory or /sysroot/ostree/repo)\n\
            \x20 --create=NEWREF     Create a new ref\n\
            \x20 -A, --alias         Aliases\n\
            \x20 -v, --verbose       Print debug information during command processing\n\
            \x20 --version           Print version information and exit\n\n";
        assert_eq!(text, expected);
        let remote = top.find_subcommand("remote").expect("remote");
        let text = help("ostree", remote, &["remote".to_owned()]);
        assert!(
            text.contains("Builtin \"remote\" Commands:\n  add               Add a remote\n"),
            "{text}"
        );
        assert!(!text.contains("--repo"), "{text}");
    }

    #[test]
    fn early_decisions() {
        let top = demo();
        let usage_error = |args: &[&str]| match early(&os(args), &top) {
            Early::Usage { error, .. } => error,
            _ => panic!("{args:?}: not a usage error"),
        };
        assert_eq!(usage_error(&["ostree"]), "No command specified");
        assert_eq!(
            usage_error(&["ostree", "--bogus"]),
            "Unknown option --bogus"
        );
        assert_eq!(
            usage_error(&["ostree", "nosuch-verb-here"]),
            "Unknown command 'nosuch-verb-here'"
        );
        assert_eq!(
            usage_error(&["ostree", "remote"]),
            "No \"remote\" subcommand specified"
        );
        assert_eq!(
            usage_error(&["ostree", "remote", "x"]),
            "Unknown \"remote\" subcommand 'x'"
        );
        assert!(
            matches!(early(&os(&["ostree", "refs", "-h"]), &top), Early::Help(h) if h.contains("ostree refs"))
        );
        assert!(matches!(
            early(&os(&["ostree", "refs", "--", "-h"]), &top),
            Early::Run
        ));
        assert!(matches!(
            early(&os(&["ostree", "refs", "--version"]), &top),
            Early::Version
        ));
    }

    #[test]
    fn errors_in_glibs_words() {
        let message = |args: &[&str]| {
            let e = demo().try_get_matches_from(args).expect_err("fails");
            error_message(&e)
        };
        assert_eq!(
            message(&["ostree", "refs", "--bogus"]),
            "Unknown option --bogus"
        );
        assert_eq!(
            message(&["ostree", "refs", "--create"]),
            "Missing argument for --create"
        );
    }
}
