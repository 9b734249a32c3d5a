//! What the OS builder configured: `prepare-root.conf` (upstream 2023.6+) and the older
//! `sysroot.readonly` key of the repo's config. Pure parsing; the files are read by the
//! caller.

/// The settings prepare-root acts on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// `[sysroot] readonly`: the physical root ends up read-only, `/etc` and `/var` get
    /// writable bind mounts of their own.
    pub sysroot_readonly: bool,
    /// `[etc] transient`: `/etc` is an overlay whose changes live in `/run` and are gone at
    /// the next boot.
    pub etc_transient: bool,
}

/// Where `prepare-root.conf` is looked for, in the initramfs, first found wins (upstream's
/// order: the administrator's copy, then the runtime one, then the OS's default).
pub const CONFIG_PATHS: [&str; 3] = [
    "/etc/ostree/prepare-root.conf",
    "/run/ostree/prepare-root.conf",
    "/usr/lib/ostree/prepare-root.conf",
];

/// Parses a `prepare-root.conf` key file. Unknown groups and keys are ignored (newer
/// upstream adds some, `composefs` for one); a known key with a value that is not a
/// boolean is an error, as upstream refuses it.
pub fn parse_prepare_root_conf(text: &str) -> Result<Config, String> {
    let mut config = Config::default();
    for (group, key, value) in key_file_entries(text)? {
        let slot = match (group, key) {
            ("sysroot", "readonly") => &mut config.sysroot_readonly,
            ("etc", "transient") => &mut config.etc_transient,
            _ => continue,
        };
        *slot = parse_bool(value).ok_or_else(|| {
            format!("[{group}] {key}: '{value}' is not a boolean (true or false)")
        })?;
    }
    Ok(config)
}

/// Whether a repo config (`ostree/repo/config`) sets `[sysroot] readonly=true`; anything
/// unreadable in it counts as not set, as upstream's initramfs reads it.
pub fn repo_config_sysroot_readonly(text: &str) -> bool {
    key_file_entries(text)
        .map(|entries| {
            entries.into_iter().any(|(group, key, value)| {
                group == "sysroot" && key == "readonly" && parse_bool(value) == Some(true)
            })
        })
        .unwrap_or(false)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// The `(group, key, value)` entries of a GLib key file, comments and blank lines skipped.
fn key_file_entries(text: &str) -> Result<Vec<(&str, &str, &str)>, String> {
    let mut group = None;
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: unterminated group name", number + 1))?;
            group = Some(name.trim());
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: neither a group nor key=value", number + 1))?;
        let group =
            group.ok_or_else(|| format!("line {}: key outside of any group", number + 1))?;
        entries.push((group, key.trim(), value.trim()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_root_conf() {
        let cases: &[(&str, Result<Config, &str>)] = &[
            ("", Ok(Config::default())),
            (
                "[sysroot]\nreadonly = true\n",
                Ok(Config {
                    sysroot_readonly: true,
                    etc_transient: false,
                }),
            ),
            (
                "# comment\n[etc]\ntransient=1\n[composefs]\nenabled=maybe\n",
                Ok(Config {
                    sysroot_readonly: false,
                    etc_transient: true,
                }),
            ),
            (
                "[sysroot]\nreadonly=true\n[sysroot]\nreadonly=false\n",
                Ok(Config::default()),
            ),
            ("[etc]\ntransient=yes\n", Err("not a boolean")),
            ("readonly=true\n", Err("outside of any group")),
            ("[etc\n", Err("unterminated")),
            ("[etc]\njunk\n", Err("neither a group")),
        ];
        for (text, want) in cases {
            match (parse_prepare_root_conf(text), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{text:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text:?}: {got}"),
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn repo_config() {
        let cases = [
            ("[core]\nrepo_version=1\nmode=bare\n", false),
            ("[core]\nmode=bare\n[sysroot]\nreadonly=true\n", true),
            ("[sysroot]\nbootloader=none\nreadonly=false\n", false),
            ("[core]\nreadonly=true\n", false),
            ("not a key file", false),
        ];
        for (text, want) in cases {
            assert_eq!(repo_config_sysroot_readonly(text), want, "{text:?}");
        }
    }
}
