//! The configuration texts upstream ostree 2022.7 writes for the two bootloaders whose config
//! it generates itself: syslinux (`boot/loader.N/syslinux.cfg`) and U-Boot
//! (`boot/loader.N/uEnv.txt`). Pure functions: the caller reads the inputs and writes the
//! result.

use crate::bls::BootEntry;
use crate::kargs::KernelArgs;

/// Why a bootloader config could not be generated; the messages are upstream's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BootloaderConfigError {
    /// A `LABEL` block of the old syslinux.cfg has no `\tKERNEL ` line.
    #[error("No KERNEL argument found after LABEL")]
    NoKernelAfterLabel,
    /// A boot entry has no `linux` key.
    #[error("No \"linux\" key in bootloader config")]
    NoLinuxKey,
    /// The first boot entry's `options` have no `ostree=` value (U-Boot).
    #[error("No ostree= kernel argument found in boot loader configuration file")]
    NoOstreeKarg,
}

/// Joins lines with a `\n` after each, dropping an empty line when it is the first one or
/// when an empty line was already kept: upstream never resets that flag, so at most one
/// empty line survives in the whole file.
fn join_lines(lines: &[String]) -> String {
    let mut out = String::new();
    let mut kept_empty = false;
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            if kept_empty || i == 0 {
                continue;
            }
            kept_empty = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Splits like `g_strsplit (s, "\n", -1)`, which yields no line at all for an empty text.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    (!text.is_empty())
        .then(|| text.split('\n'))
        .into_iter()
        .flatten()
}

/// The new `syslinux.cfg` from the old one and the new loader's entries (already sorted by
/// [`compare_versions_desc`](crate::bls::compare_versions_desc)).
///
/// Foreign lines and `LABEL` blocks of the old file are kept, blocks booting an ostree kernel
/// (`KERNEL /ostree/…` or `/boot/ostree/…`) are dropped, `DEFAULT` lines are always dropped
/// and regenerated (pointing at the first entry) when the old one was ostree's or missing.
/// Then one `LABEL` block per entry is appended.
pub fn syslinux_config(old: &str, entries: &[BootEntry]) -> Result<String, BootloaderConfigError> {
    let mut new_lines: Vec<String> = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let mut in_block = false;
    // Upstream never clears this between blocks, so a block without its own KERNEL line is
    // judged by the previous block's kernel.
    let mut kernel: Option<String> = None;
    let mut saw_default = false;
    let mut regenerate_default = false;

    // One extra step with no line closes a block still open at the end of the file.
    for line in split_lines(old).map(Some).chain([None]) {
        if in_block && line.is_none_or(|l| !l.starts_with('\t')) {
            in_block = false;
            let kernel = kernel
                .as_deref()
                .ok_or(BootloaderConfigError::NoKernelAfterLabel)?;
            // `/ostree/` without `/boot` is what ostree before 2020.4 wrote.
            if kernel.starts_with("/ostree/") || kernel.starts_with("/boot/ostree/") {
                block.clear();
            } else {
                new_lines.append(&mut block);
            }
        }
        let Some(line) = line else { break };

        if !in_block && line.starts_with("LABEL ") {
            in_block = true;
            block.clear();
        } else if in_block {
            if let Some(path) = line.strip_prefix("\tKERNEL ") {
                kernel = Some(path.to_owned());
            }
        } else if line.starts_with("DEFAULT ") {
            saw_default = true;
            // Titles ostree writes contain "(ostree"; "DEFAULT ostree:" is its old format.
            if line.starts_with("DEFAULT ostree:") || line.contains("(ostree") {
                regenerate_default = true;
            }
            continue;
        }
        if in_block {
            block.push(line.to_owned());
        } else {
            new_lines.push(line.to_owned());
        }
    }
    if !saw_default {
        regenerate_default = true;
    }

    for (i, entry) in entries.iter().enumerate() {
        let title = entry.get("title").unwrap_or("(Untitled)");
        if regenerate_default && i == 0 {
            new_lines.push(format!("DEFAULT {title}"));
        }
        new_lines.push(format!("LABEL {title}"));
        let linux = entry
            .get("linux")
            .ok_or(BootloaderConfigError::NoLinuxKey)?;
        new_lines.push(format!("\tKERNEL /boot{linux}"));
        if let Some(initrd) = entry.get("initrd") {
            new_lines.push(format!("\tINITRD /boot{initrd}"));
        }
        if let Some(dt) = entry.get("devicetree") {
            new_lines.push(format!("\tDEVICETREE /boot{dt}"));
        }
        if let Some(options) = entry.get("options") {
            new_lines.push(format!("\tAPPEND {options}"));
        }
    }
    Ok(join_lines(&new_lines))
}

/// Where the deployment-provided `uEnv.txt` of the first (default) entry is, relative to the
/// sysroot: `<ostree= path>/usr/lib/ostree-boot/uEnv.txt`, resolved through the new
/// `ostree/boot.N` link. `None` when upstream would not read it (no entry, or no `options`
/// on the first one) or cannot (no `ostree=` value; [`uboot_config`] then fails).
pub fn uboot_tree_uenv_path(entries: &[BootEntry]) -> Option<String> {
    let options = entries.first()?.get("options")?;
    ostree_path(options).map(|p| format!("{p}/usr/lib/ostree-boot/uEnv.txt"))
}

/// The last `ostree=` value of `options` without its first character (the leading `/`),
/// i.e. relative to the sysroot.
fn ostree_path(options: &str) -> Option<String> {
    let kargs = KernelArgs::parse(options);
    let value = kargs.get_last_value("ostree").flatten()?;
    let mut rest = value.chars();
    rest.next();
    Some(rest.as_str().to_owned())
}

/// The new `uEnv.txt` from the loader's entries (already sorted by
/// [`compare_versions_desc`](crate::bls::compare_versions_desc)). `tree_uenv` is the content
/// of the first entry's deployment's `usr/lib/ostree-boot/uEnv.txt` if that file exists (the
/// caller reads it, see [`uboot_tree_uenv_path`]).
///
/// Entries get the variable suffixes `""`, `2`, `3`, …; the tree's file follows the first
/// entry's `bootargs`, so it is only added when that entry has `options`.
pub fn uboot_config(
    entries: &[BootEntry],
    tree_uenv: Option<&str>,
) -> Result<String, BootloaderConfigError> {
    let mut lines: Vec<String> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let suffix = if i == 0 {
            String::new()
        } else {
            (i + 1).to_string()
        };
        let linux = entry
            .get("linux")
            .ok_or(BootloaderConfigError::NoLinuxKey)?;
        lines.push(format!("kernel_image{suffix}=/boot{linux}"));
        if let Some(initrd) = entry.get("initrd") {
            lines.push(format!("ramdisk_image{suffix}=/boot{initrd}"));
        }
        if let Some(dt) = entry.get("devicetree") {
            lines.push(format!("fdt_file{suffix}=/boot{dt}"));
        }
        if let Some(fdtdir) = entry.get("fdtdir") {
            lines.push(format!("fdtdir{suffix}=/boot{fdtdir}"));
        }
        if let Some(options) = entry.get("options") {
            lines.push(format!("bootargs{suffix}={options}"));
            if i == 0 {
                // Upstream needs the path even when the tree has no uEnv.txt.
                if ostree_path(options).is_none() {
                    return Err(BootloaderConfigError::NoOstreeKarg);
                }
                // Added as one "line": its own trailing newline plus the joiner's gives the
                // blank line upstream's files have after it.
                if let Some(text) = tree_uenv {
                    lines.push(text.to_owned());
                }
            }
        }
    }
    Ok(join_lines(&lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as ostree writes it; `initrd`/`devicetree`/`fdtdir`/`options` only if given.
    fn entry(keys: &[(&str, &str)]) -> BootEntry {
        let mut e = BootEntry::new();
        for (k, v) in keys {
            e.set(k, v);
        }
        e
    }

    /// test-admin-deploy-syslinux's single entry (checksum shortened).
    fn testos_entry(n: usize, title_index: usize) -> BootEntry {
        entry(&[
            ("title", &format!("TestOS 42 1.0.9 (ostree:{title_index})")),
            ("version", &n.to_string()),
            (
                "options",
                &format!("root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/7bd0/{title_index}"),
            ),
            ("linux", "/ostree/testos-7bd0/vmlinuz-3.6.0"),
            ("initrd", "/ostree/testos-7bd0/initramfs-3.6.0.img"),
        ])
    }

    const SYSLINUX_ONE: &str = "DEFAULT TestOS 42 1.0.9 (ostree:0)\n\
        LABEL TestOS 42 1.0.9 (ostree:0)\n\
        \tKERNEL /boot/ostree/testos-7bd0/vmlinuz-3.6.0\n\
        \tINITRD /boot/ostree/testos-7bd0/initramfs-3.6.0.img\n\
        \tAPPEND root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/7bd0/0\n";

    #[test]
    fn join_rule() {
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (&[""], ""),
            (&["", ""], "\n"),
            (&["", "a"], "a\n"),
            (&["a", "", "b"], "a\n\nb\n"),
            (&["a", "", "", "b", "", "c"], "a\n\nb\nc\n"),
            (&["a\n", "b"], "a\n\nb\n"),
        ];
        for (lines, want) in cases {
            let lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            assert_eq!(join_lines(&lines), *want, "{lines:?}");
        }
    }

    /// upstream test-admin-deploy-syslinux.sh: a `touch`ed syslinux.cfg and one deployment.
    #[test]
    fn syslinux_fresh_config() {
        assert_eq!(
            syslinux_config("", &[testos_entry(1, 0)]),
            Ok(SYSLINUX_ONE.to_owned())
        );
        assert_eq!(syslinux_config("", &[]), Ok(String::new()));
        // A lone newline is two empty lines, and only the very first one is dropped.
        assert_eq!(syslinux_config("\n", &[]), Ok("\n".to_owned()));
    }

    /// A foreign config upstream rewrote: foreign blocks and lines kept, the foreign DEFAULT
    /// dropped and not regenerated, blank lines squeezed to one.
    #[test]
    fn syslinux_foreign_config() {
        let old = "PROMPT 1\nTIMEOUT 50\nDEFAULT Other\n\nLABEL Other\n\tKERNEL \
                   /vmlinuz-other\n\tAPPEND root=/dev/sda1\n\n\nMENU TITLE foo\n";
        let want = "PROMPT 1\nTIMEOUT 50\n\nLABEL Other\n\tKERNEL /vmlinuz-other\n\tAPPEND \
                    root=/dev/sda1\nMENU TITLE foo\n\
                    LABEL TestOS 42 1.0.9 (ostree:0)\n\
                    \tKERNEL /boot/ostree/testos-7bd0/vmlinuz-3.6.0\n\
                    \tINITRD /boot/ostree/testos-7bd0/initramfs-3.6.0.img\n\
                    \tAPPEND root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/7bd0/0\n";
        assert_eq!(
            syslinux_config(old, &[testos_entry(1, 0)]),
            Ok(want.to_owned())
        );
    }

    /// upstream test-admin-deploy-2.sh's final syslinux.cfg (three deployments, checksums
    /// shortened), regenerated from the two-deployment file before it and from itself.
    #[test]
    fn syslinux_replaces_own_blocks() {
        let e = |version: usize, index: usize, c: &str, serial: usize| {
            entry(&[
                ("title", &format!("TestOS 42 20261206.0 (ostree:{index})")),
                ("version", &version.to_string()),
                (
                    "options",
                    &format!("root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/{c}/{serial}"),
                ),
                ("linux", &format!("/ostree/testos-{c}/vmlinuz-3.6.0")),
                ("initrd", &format!("/ostree/testos-{c}/initramfs-3.6.0.img")),
            ])
        };
        let three = [e(3, 0, "9c05", 0), e(2, 1, "9c05", 1), e(1, 2, "ae46", 0)];
        let want = "DEFAULT TestOS 42 20261206.0 (ostree:0)\n\
            LABEL TestOS 42 20261206.0 (ostree:0)\n\
            \tKERNEL /boot/ostree/testos-9c05/vmlinuz-3.6.0\n\
            \tINITRD /boot/ostree/testos-9c05/initramfs-3.6.0.img\n\
            \tAPPEND root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/9c05/0\n\
            LABEL TestOS 42 20261206.0 (ostree:1)\n\
            \tKERNEL /boot/ostree/testos-9c05/vmlinuz-3.6.0\n\
            \tINITRD /boot/ostree/testos-9c05/initramfs-3.6.0.img\n\
            \tAPPEND root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/9c05/1\n\
            LABEL TestOS 42 20261206.0 (ostree:2)\n\
            \tKERNEL /boot/ostree/testos-ae46/vmlinuz-3.6.0\n\
            \tINITRD /boot/ostree/testos-ae46/initramfs-3.6.0.img\n\
            \tAPPEND root=LABEL=MOO quiet ostree=/ostree/boot.1/testos/ae46/0\n";
        let two = syslinux_config("", &[e(2, 0, "9c05", 0), e(1, 1, "ae46", 0)])
            .expect("entries have linux");
        assert_eq!(syslinux_config(&two, &three), Ok(want.to_owned()));
        assert_eq!(syslinux_config(want, &three), Ok(want.to_owned()));
    }

    #[test]
    fn syslinux_rules() {
        let one = [testos_entry(1, 0)];
        let body = &SYSLINUX_ONE["DEFAULT TestOS 42 1.0.9 (ostree:0)\n".len()..];
        let cases: &[(&str, String)] = &[
            // Old-format ostree DEFAULT: regenerated.
            ("DEFAULT ostree:testos:0\n", SYSLINUX_ONE.to_owned()),
            // A foreign DEFAULT suppresses the generated one.
            ("DEFAULT other\n", body.to_owned()),
            // "DEFAULT" needs its space to count.
            // (The old file's final newline leaves an empty last line, which is kept when
            // it is the file's first empty line.)
            ("DEFAULT\n", format!("DEFAULT\n\n{SYSLINUX_ONE}")),
            // Pre-2020.4 ostree kernels (no /boot) are dropped too, also at end of file
            // without a newline.
            (
                "LABEL old\n\tKERNEL /ostree/x/vmlinuz\n\tAPPEND a",
                SYSLINUX_ONE.to_owned(),
            ),
            // Indented lines outside a block are plain lines; a block ends at the first
            // line not starting with a tab.
            (
                "\tINDENT\nLABEL f\n\tKERNEL /f\n  spaced\n",
                format!("\tINDENT\nLABEL f\n\tKERNEL /f\n  spaced\n\n{SYSLINUX_ONE}"),
            ),
            // "LABEL" needs its space; a LABEL line inside a block is part of the block
            // only if tab-indented.
            ("LABEL\n", format!("LABEL\n\n{SYSLINUX_ONE}")),
            (
                "LABEL a\n\tKERNEL /a\nLABEL b\n\tKERNEL /boot/ostree/b\n",
                format!("LABEL a\n\tKERNEL /a\n\n{SYSLINUX_ONE}"),
            ),
            // The last KERNEL of a block counts.
            (
                "LABEL a\n\tKERNEL /boot/ostree/x\n\tKERNEL /mine\n",
                format!("LABEL a\n\tKERNEL /boot/ostree/x\n\tKERNEL /mine\n\n{SYSLINUX_ONE}"),
            ),
            // A block without KERNEL inherits the previous block's kernel (upstream never
            // resets it).
            (
                "LABEL a\n\tKERNEL /boot/ostree/x\nLABEL b\n\tAPPEND y\n",
                SYSLINUX_ONE.to_owned(),
            ),
            (
                "LABEL a\n\tKERNEL /mine\nLABEL b\n\tAPPEND y\n",
                format!("LABEL a\n\tKERNEL /mine\nLABEL b\n\tAPPEND y\n\n{SYSLINUX_ONE}"),
            ),
            // Only one empty line survives, and not the very first line.
            ("\nA\n\nB\n\nC\n", format!("A\n\nB\nC\n{SYSLINUX_ONE}")),
            ("\n\nA\n\nB\n", format!("\nA\nB\n{SYSLINUX_ONE}")),
        ];
        for (old, want) in cases {
            assert_eq!(syslinux_config(old, &one).as_ref(), Ok(want), "{old:?}");
        }
    }

    #[test]
    fn syslinux_optional_keys_and_errors() {
        let minimal = entry(&[("linux", "/l"), ("devicetree", "/d")]);
        assert_eq!(
            syslinux_config("", &[minimal]),
            Ok(
                "DEFAULT (Untitled)\nLABEL (Untitled)\n\tKERNEL /boot/l\n\tDEVICETREE /boot/d\n"
                    .to_owned()
            )
        );
        let empty_options = entry(&[("title", "T"), ("linux", "/l"), ("options", "")]);
        assert_eq!(
            syslinux_config("", &[empty_options]),
            Ok("DEFAULT T\nLABEL T\n\tKERNEL /boot/l\n\tAPPEND \n".to_owned())
        );

        let no_linux = entry(&[("title", "T")]);
        let err = syslinux_config("", &[no_linux]).expect_err("no linux");
        assert_eq!(err.to_string(), "No \"linux\" key in bootloader config");
        for old in ["LABEL a\n\tAPPEND x\n", "LABEL a", "LABEL a\nfoo\n"] {
            let err = syslinux_config(old, &[]).expect_err(old);
            assert_eq!(err.to_string(), "No KERNEL argument found after LABEL");
        }
    }

    const TREE_UENV: &str = "loaduimage=load mmc ${bootpart} ${loadaddr} ${kernel_image}\n\
        loadfdt=load mmc ${bootpart} ${fdtaddr} ${bootdir}${fdtfile}\n\
        loadramdisk=load mmc ${bootpart} ${rdaddr} ${ramdisk_image}\n\
        mmcargs=setenv bootargs $bootargs console=${console} ${optargs} root=${mmcroot} \
        rootfstype=${mmcrootfstype}\n\
        mmcboot=run loadramdisk; echo Booting from mmc ....; run mmcargs; bootz ${loadaddr} \
        ${rdaddr} ${fdtaddr}\n";

    /// upstream test-admin-deploy-uboot.sh's final uEnv.txt (checksums shortened).
    #[test]
    fn uboot_upstream_example() {
        let entries: Vec<BootEntry> = [
            "title TestOS 42 (ostree:testos:0)\nversion 4\noptions console=/dev/foo \
             console=/dev/bar ostree=/ostree/boot.0/testos/a803/0\nlinux \
             /ostree/testos-a803/vmlinuz-3.6.0\ninitrd /ostree/testos-a803/initramfs-3.6.0.img\n\
             fdtdir /ostree/testos-a803/dtb\n",
            "title TestOS 42 (ostree:testos:1)\nversion 3\noptions console=/dev/foo \
             console=/dev/bar ostree=/ostree/boot.0/testos/b8cb/0\nlinux \
             /ostree/testos-b8cb/vmlinuz-3.6.0\ninitrd /ostree/testos-b8cb/initramfs-3.6.0.img\n",
            "title TestOS 42 1.0.10 (ostree:otheros:2)\nversion 2\noptions \
             ostree=/ostree/boot.0/otheros/7bd0/0\nlinux /ostree/otheros-7bd0/vmlinuz-3.6.0\n\
             initrd /ostree/otheros-7bd0/initramfs-3.6.0.img\n",
            "title TestOS 42 1.0.10 (ostree:otheros:3)\nversion 1\noptions \
             ostree=/ostree/boot.0/otheros/7bd0/1\nlinux /ostree/otheros-7bd0/vmlinuz-3.6.0\n\
             initrd /ostree/otheros-7bd0/initramfs-3.6.0.img\n",
        ]
        .iter()
        .map(|t| BootEntry::parse(t))
        .collect();
        let want = format!(
            "kernel_image=/boot/ostree/testos-a803/vmlinuz-3.6.0\n\
             ramdisk_image=/boot/ostree/testos-a803/initramfs-3.6.0.img\n\
             fdtdir=/boot/ostree/testos-a803/dtb\n\
             bootargs=console=/dev/foo console=/dev/bar ostree=/ostree/boot.0/testos/a803/0\n\
             {TREE_UENV}\n\
             kernel_image2=/boot/ostree/testos-b8cb/vmlinuz-3.6.0\n\
             ramdisk_image2=/boot/ostree/testos-b8cb/initramfs-3.6.0.img\n\
             bootargs2=console=/dev/foo console=/dev/bar ostree=/ostree/boot.0/testos/b8cb/0\n\
             kernel_image3=/boot/ostree/otheros-7bd0/vmlinuz-3.6.0\n\
             ramdisk_image3=/boot/ostree/otheros-7bd0/initramfs-3.6.0.img\n\
             bootargs3=ostree=/ostree/boot.0/otheros/7bd0/0\n\
             kernel_image4=/boot/ostree/otheros-7bd0/vmlinuz-3.6.0\n\
             ramdisk_image4=/boot/ostree/otheros-7bd0/initramfs-3.6.0.img\n\
             bootargs4=ostree=/ostree/boot.0/otheros/7bd0/1\n"
        );
        assert_eq!(
            uboot_tree_uenv_path(&entries).as_deref(),
            Some("ostree/boot.0/testos/a803/0/usr/lib/ostree-boot/uEnv.txt")
        );
        assert_eq!(uboot_config(&entries, Some(TREE_UENV)), Ok(want));
    }

    /// upstream test-no-initramfs.sh's final uEnv.txt: devicetree file, no initramfs, no
    /// tree uEnv.txt.
    #[test]
    fn uboot_no_initramfs_example() {
        let entries = [
            entry(&[
                (
                    "options",
                    "root=LABEL=rootfs ostree=/ostree/boot.0/testos/07d5/0 init=/i",
                ),
                ("devicetree", "/ostree/testos-07d5/devicetree"),
                ("linux", "/ostree/testos-07d5/vmlinuz"),
            ]),
            entry(&[
                (
                    "options",
                    "root=LABEL=rootfs ostree=/ostree/boot.0/testos/f32d/0",
                ),
                ("linux", "/ostree/testos-f32d/vmlinuz"),
                ("initrd", "/ostree/testos-f32d/initramfs"),
            ]),
        ];
        let want = "kernel_image=/boot/ostree/testos-07d5/vmlinuz\n\
            fdt_file=/boot/ostree/testos-07d5/devicetree\n\
            bootargs=root=LABEL=rootfs ostree=/ostree/boot.0/testos/07d5/0 init=/i\n\
            kernel_image2=/boot/ostree/testos-f32d/vmlinuz\n\
            ramdisk_image2=/boot/ostree/testos-f32d/initramfs\n\
            bootargs2=root=LABEL=rootfs ostree=/ostree/boot.0/testos/f32d/0\n";
        assert_eq!(uboot_config(&entries, None), Ok(want.to_owned()));
    }

    #[test]
    fn uboot_rules() {
        assert_eq!(uboot_config(&[], Some("x\n")), Ok(String::new()));
        assert_eq!(uboot_tree_uenv_path(&[]), None);

        // Without options on the first entry neither bootargs nor the tree file appear.
        let bare = [
            entry(&[("linux", "/l")]),
            entry(&[("linux", "/m"), ("options", "a")]),
        ];
        assert_eq!(uboot_tree_uenv_path(&bare), None);
        assert_eq!(
            uboot_config(&bare, Some("x=1\n")),
            Ok("kernel_image=/boot/l\nkernel_image2=/boot/m\nbootargs2=a\n".to_owned())
        );

        // The last ostree= counts; a valueless `ostree` does not.
        let two = [entry(&[
            ("linux", "/l"),
            ("options", "ostree=/a/0 ostree=/b/1"),
        ])];
        assert_eq!(
            uboot_tree_uenv_path(&two).as_deref(),
            Some("b/1/usr/lib/ostree-boot/uEnv.txt")
        );
        assert_eq!(
            uboot_config(&two, Some("x=1")),
            Ok("kernel_image=/boot/l\nbootargs=ostree=/a/0 ostree=/b/1\nx=1\n".to_owned())
        );
        for options in ["root=/dev/sda", "", "ostree=/a ostree", "ostreex=/a"] {
            let first = [entry(&[("linux", "/l"), ("options", options)])];
            assert_eq!(uboot_tree_uenv_path(&first), None, "{options:?}");
            let err = uboot_config(&first, None).expect_err(options);
            assert_eq!(
                err.to_string(),
                "No ostree= kernel argument found in boot loader configuration file"
            );
        }
        // Only the first entry needs ostree=.
        let later = [
            entry(&[("linux", "/l"), ("options", "ostree=/x")]),
            entry(&[("linux", "/m"), ("options", "quiet")]),
        ];
        assert!(uboot_config(&later, None).is_ok());

        let no_linux = [entry(&[("options", "ostree=/x")])];
        let err = uboot_config(&no_linux, None).expect_err("no linux");
        assert_eq!(err.to_string(), "No \"linux\" key in bootloader config");
    }
}
