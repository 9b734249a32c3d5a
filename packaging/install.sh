#!/usr/bin/env bash
# Installs the boot side of rostree under DESTDIR (default: /): the static
# rostree-prepare-root and rostree-remount, the systemd units, the initramfs-tools hook.
# The rostree binary itself goes to $DESTDIR/usr/bin/rostree from ROSTREE (default:
# target/release/rostree) when it exists. See packaging/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-${DESTDIR:-/}}
static=$("$here/build-static.sh")
install -D -m 0755 "$static/rostree-prepare-root" "$dest/usr/lib/rostree/rostree-prepare-root"
install -D -m 0755 "$static/rostree-remount" "$dest/usr/lib/rostree/rostree-remount"
for unit in "$here"/systemd/*; do
    install -D -m 0644 "$unit" "$dest/usr/lib/systemd/system/$(basename "$unit")"
done
install -D -m 0755 "$here/initramfs-tools/hooks/rostree" \
    "$dest/usr/share/initramfs-tools/hooks/rostree"
install -D -m 0755 "$here/initramfs-tools/scripts/local-bottom/rostree" \
    "$dest/usr/share/initramfs-tools/scripts/local-bottom/rostree"
rostree=${ROSTREE:-$here/../target/release/rostree}
if [ -x "$rostree" ]; then
    install -D -m 0755 "$rostree" "$dest/usr/bin/rostree"
fi
