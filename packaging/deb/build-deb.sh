#!/usr/bin/env bash
# Builds the Debian packages rostree and rostree-dev into OUTDIR (default: target/deb), with
# plain dpkg-deb (no debhelper, no cargo-deb). See packaging/README.md, "Debian package".
#
#   rostree       /usr/bin/rostree (also registered as the `ostree` alternative, which never
#                 replaces a real /usr/bin/ostree such as Debian's ostree package's), the boot
#                 side of packaging/install.sh, man pages, shell completions, librostree.so.0
#   rostree-dev   librostree.so, rostree.h, rostree-1.pc
#
# Environment: PROFILE=release (default) or dev, the Cargo profile built and packaged;
# DEB_BUILD_OPTIONS=nostrip keeps the debug information; DEB_MAINTAINER names the
# maintainer. The version is the workspace's (Cargo.toml) with Debian revision 1, the
# architecture dpkg's.
# Usage: packaging/deb/build-deb.sh [OUTDIR]
set -euo pipefail
umask 022
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/target/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
fail() {
    echo "build-deb.sh: $*" >&2
    exit 1
}
for tool in cargo cc dpkg-deb dpkg-architecture dpkg-shlibdeps gzip strip; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (dpkg-dev, gcc, binutils)"
done

# Edition 2024 and let-chains: Debian 12's own rustc (1.63) cannot build rostree.
rustc_minor=$(rustc --version | sed -n 's/^rustc 1\.\([0-9]*\).*/\1/p')
[ "${rustc_minor:-0}" -ge 88 ] ||
    fail "rustc 1.88 or newer is needed ($(rustc --version)); install Rust with rustup"

profile=${PROFILE:-release}
case $profile in
dev) profile_dir=debug ;;
*) profile_dir=$profile ;;
esac
# A Cargo pre-release (1.2.0-rc.1) sorts before its release in Debian as 1.2.0~rc.1.
upstream_version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[ -n "$upstream_version" ] || fail "no version in Cargo.toml's [workspace.package]"
version="${upstream_version//-/\~}-1"
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
[ -n "$multiarch" ] || fail "dpkg-architecture gave no multiarch triplet"
maintainer=${DEB_MAINTAINER:-rostree developers <rostree@example.invalid>}
# Every file's time is the last commit's (when built from git), as dpkg-deb's own members are.
# (Exported only once Cargo is done: build scripts that track it would rebuild both ways.)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
strip=yes
case " ${DEB_BUILD_OPTIONS:-} " in *" nostrip "*) strip=no ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Staged as debhelper does, in debian/PACKAGE, where dpkg-shlibdeps expects them.
pkg=$work/debian/rostree
dev=$work/debian/rostree-dev
libdir=usr/lib/$multiarch

# The command line.
cargo build -p rostree-cli --profile "$profile"
bin=${CARGO_TARGET_DIR:-$root/target}/$profile_dir/rostree
[ -x "$bin" ] || fail "cargo built no $bin"

# The boot side (static rostree-prepare-root and rostree-remount, systemd units, the
# initramfs-tools hook and script) and /usr/bin/rostree.
ROSTREE=$bin packaging/install.sh "$pkg"
[ -x "$pkg/usr/bin/rostree" ] || fail "packaging/install.sh installed no /usr/bin/rostree"

# Man pages and completions, made by the binary from its command definition.
man=$pkg/usr/share/man/man1
mkdir -p "$man"
"$bin" man-pages "$man" >/dev/null
[ -f "$man/rostree.1" ] || fail "rostree man-pages wrote no rostree.1"
gzip -9n "$man"/*.1
install -d "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
    "$pkg/usr/share/fish/vendor_completions.d"
"$bin" completions bash >"$pkg/usr/share/bash-completion/completions/rostree"
"$bin" completions zsh >"$pkg/usr/share/zsh/vendor-completions/_rostree"
"$bin" completions fish >"$pkg/usr/share/fish/vendor_completions.d/rostree.fish"

# The C library, installed into a scratch prefix and moved to the multiarch directory.
PROFILE=$profile crates/rostree-ffi/install.sh "$work/ffi" >"$work/ffi.log" 2>&1 ||
    { cat "$work/ffi.log" >&2; fail "crates/rostree-ffi/install.sh failed"; }
lib_version=$(sed -n 's/^Version: //p' "$work/ffi/lib/pkgconfig/rostree-1.pc")
real=librostree.so.$lib_version
[ -f "$work/ffi/lib/$real" ] || fail "the ffi install made no $real"
install -D -m 0644 "$work/ffi/lib/$real" "$pkg/$libdir/$real"
ln -s "$real" "$pkg/$libdir/librostree.so.0"
install -d "$dev/$libdir/pkgconfig" "$dev/usr/include"
ln -s "$real" "$dev/$libdir/librostree.so"
install -m 0644 "$work/ffi/include/rostree.h" "$dev/usr/include/rostree.h"
# The .pc file's prefix is the scratch one: /usr, and the multiarch libdir.
sed -e 's|^prefix=.*|prefix=/usr|' -e "s|^libdir=.*|libdir=\${prefix}/lib/$multiarch|" \
    "$work/ffi/lib/pkgconfig/rostree-1.pc" >"$dev/$libdir/pkgconfig/rostree-1.pc"
chmod 0644 "$dev/$libdir/pkgconfig/rostree-1.pc"

export SOURCE_DATE_EPOCH=$epoch

# As dh_strip does: executables lose their debug information, shared libraries their
# unneeded symbols too. (rostree-prepare-root and rostree-remount are built stripped.)
if [ "$strip" = yes ]; then
    strip --remove-section=.comment --remove-section=.note "$pkg/usr/bin/rostree"
    strip --remove-section=.comment --remove-section=.note --strip-unneeded "$pkg/$libdir/$real"
fi

# Documentation: the copyright file (and a changelog) in each package's doc directory.
for p in "$pkg" "$dev"; do
    name=$(basename "$p")
    install -D -m 0644 "$here/copyright" "$p/usr/share/doc/$name/copyright"
    {
        echo "$name ($version) unstable; urgency=medium"
        echo
        echo "  * Built from rostree's source$(git rev-parse --short HEAD 2>/dev/null | sed 's/^/ at commit /') by packaging/deb/build-deb.sh."
        echo
        echo " -- $maintainer  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
    } | gzip -9n >"$p/usr/share/doc/$name/changelog.Debian.gz"
done

# Depends: from the libraries the binaries link (dpkg-shlibdeps reads the shlibs and symbols
# files of the packages that ship them). The static binaries link nothing.
# (It finds a package's root by its DEBIAN directory.)
install -d "$pkg/DEBIAN" "$dev/DEBIAN"
printf 'Source: rostree\n\nPackage: rostree\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -edebian/rostree/usr/bin/rostree -edebian/rostree/"$libdir/$real" |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || fail "dpkg-shlibdeps computed no dependencies"

# Installed-Size as dpkg-gencontrol counts it: KiB per file rounded up, 1 per other entry.
installed_size() {
    (cd "$1" && find . -mindepth 1 -path ./DEBIAN -prune -o \( -type f -printf '%s\n' -o -printf '1024\n' \)) |
        awk '{ kib += int(($1 + 1023) / 1024) } END { print kib + 0 }'
}

# rostree's control data.
cat >"$pkg/DEBIAN/control" <<EOF
Package: rostree
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(installed_size "$pkg")
Depends: $depends
Suggests: initramfs-tools, systemd
Section: admin
Priority: optional
Description: OSTree rebuilt in Rust: repositories, pulls and deployments
 rostree is OSTree ("git for operating system binaries") rebuilt in Rust: a
 content-addressed object store of whole file system trees, replicated over
 HTTP, with a deployment layer that boots parallel-installed roots. Its
 repositories and sysroots are upstream's, byte for byte, and the rostree
 command accepts upstream's command-line syntax.
 .
 This package ships the rostree command, registered as an alternative for
 /usr/bin/ostree (a real /usr/bin/ostree, such as the ostree package's, is never
 replaced); the boot side (rostree-prepare-root for the initramfs, through an
 initramfs-tools hook, and systemd units, installed disabled); man pages; bash,
 zsh and fish completions; and the C library librostree.so.0.
EOF
# librostree's ABI is versioned (ROSTREE_0): a program built against this version runs with
# any later one.
echo "librostree 0 rostree (>= ${upstream_version//-/\~})" >"$pkg/DEBIAN/shlibs"
install -m 0644 "$here/triggers" "$pkg/DEBIAN/triggers"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$pkg/DEBIAN/$script"
done

# rostree-dev's.
cat >"$dev/DEBIAN/control" <<EOF
Package: rostree-dev
Source: rostree
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(installed_size "$dev")
Depends: rostree (= $version)
Section: libdevel
Priority: optional
Description: OSTree rebuilt in Rust: C development files
 rostree is OSTree ("git for operating system binaries") rebuilt in Rust. This
 package ships what a C program needs to build against librostree: the header
 rostree.h, the librostree.so link and the pkg-config file rostree-1.pc
 (cc prog.c \$(pkg-config --cflags --libs rostree-1)).
EOF

for p in "$pkg" "$dev"; do
    (cd "$p" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
        xargs -0r md5sum) >"$p/DEBIAN/md5sums"
    chmod 0644 "$p/DEBIAN/md5sums"
    find "$p" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"
done

# The release package is compressed as Debian's are (xz); the test build, which is larger and
# thrown away, fast.
compress=()
[ "$profile" = release ] || compress=(-Zgzip -z1)
for p in "$pkg" "$dev"; do
    dpkg-deb --build --root-owner-group "${compress[@]}" "$p" \
        "$out/$(basename "$p")_${version}_$arch.deb" >/dev/null
done
echo "$out/rostree_${version}_$arch.deb"
echo "$out/rostree-dev_${version}_$arch.deb"
