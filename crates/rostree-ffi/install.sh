#!/usr/bin/env bash
# Builds librostree (the release profile, or PROFILE=dev) and installs it under PREFIX
# (default /usr/local):
#   lib/librostree.so.VERSION, its links librostree.so.0 (the soname) and librostree.so,
#   lib/librostree.a, include/rostree.h and lib/pkgconfig/rostree-1.pc.
#
# librostree.so is linked here from the static library with rostree.map as its only version
# script, so that it exports the rostree_* functions alone, each versioned ROSTREE_0: the
# cdylib Cargo links cannot be versioned (see build.rs).
# Usage: crates/rostree-ffi/install.sh [PREFIX]
set -euo pipefail
prefix=${1:-/usr/local}
crate=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$crate/../.." && pwd)
cd "$root"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The static library, and the system libraries it needs (rustc names them).
profile=${PROFILE:-release}
cargo rustc --profile "$profile" -p rostree-ffi --lib --crate-type staticlib \
    -- --print native-static-libs 2>&1 | tee "$log"
native=$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n1)
[ -n "$native" ] || { echo "install.sh: rustc named no native libraries" >&2; exit 1; }
# Cargo's directory for the dev profile is `debug`.
target=${CARGO_TARGET_DIR:-$root/target}/${profile/#dev/debug}
# `path+file:///…#rostree-ffi@0.1.0` (or `…#0.1.0`): the version follows the last # or @.
version=$(cargo pkgid -p rostree-ffi | sed 's/.*[#@]//')
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
prefix=$(cd "$prefix" && pwd)
lib="$prefix/lib"

# shellcheck disable=SC2086 # $native is a list of -l flags
"${CC:-cc}" -shared -o "$lib/librostree.so.$version" \
    -Wl,-soname,librostree.so.0 -Wl,--version-script="$crate/rostree.map" \
    -Wl,--no-undefined -Wl,--gc-sections \
    -Wl,--whole-archive "$target/librostree_ffi.a" -Wl,--no-whole-archive $native
ln -sfn "librostree.so.$version" "$lib/librostree.so.0"
ln -sfn librostree.so.0 "$lib/librostree.so"
install -m 0644 "$target/librostree_ffi.a" "$lib/librostree.a"
install -m 0644 "$crate/include/rostree.h" "$prefix/include/rostree.h"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" \
    -e "s|@LIBS_PRIVATE@|${native% -lc}|g" \
    "$crate/rostree-1.pc.in" >"$lib/pkgconfig/rostree-1.pc"
echo "installed librostree $version in $prefix"
