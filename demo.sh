#!/usr/bin/env bash
# The README's first command: build rostree and run its main job on a built-in demo tree.
# Initializes a repository, commits a tree twice, reads it back, serves it over HTTP with
# `rostree serve`, pulls it into a second repository, checks it out and verifies both, then
# pulls it into a scratch sysroot, deploys it there and shows its status.
# With ROSTREE set (ROSTREE=/usr/bin/rostree ./demo.sh), that binary runs the demo, unbuilt.
set -euo pipefail
bin=""
if [ -n "${ROSTREE:-}" ]; then
    case $ROSTREE in
    */*) bin=$ROSTREE ;;
    *) bin=$(command -v "$ROSTREE") || { echo "demo.sh: no $ROSTREE in PATH" >&2; exit 1; } ;;
    esac
    case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
    [ -x "$bin" ] || { echo "demo.sh: $bin is not executable" >&2; exit 1; }
fi
cd "$(dirname "$0")"
if [ -z "$bin" ]; then
    cargo build --release -p rostree-cli
    bin="$PWD/target/release/rostree"
fi
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server"; rm -rf "$work"' EXIT

# An OS tree as ostree deploys it: /etc defaults in /usr/etc, a kernel and initramfs (stand-ins)
# in /usr/lib/modules.
mkdir -p "$work/tree/usr/etc" "$work/tree/usr/bin" "$work/tree/usr/lib/modules/6.1.0-demo"
printf 'NAME=rostree-demo\nPRETTY_NAME="rostree demo"\n' > "$work/tree/usr/etc/os-release"
printf '#!/bin/sh\necho hello\n' > "$work/tree/usr/bin/hello"
chmod 755 "$work/tree/usr/bin/hello"
ln -s ../bin/hello "$work/tree/usr/etc/hello-link"
echo "a kernel" > "$work/tree/usr/lib/modules/6.1.0-demo/vmlinuz"
echo "an initramfs" > "$work/tree/usr/lib/modules/6.1.0-demo/initramfs.img"

set -x
"$bin" --repo="$work/repo" init --mode=archive
"$bin" --repo="$work/repo" commit -b demo/stable -s "First demo commit" \
    --add-metadata-string=version=1.0 --tree=dir="$work/tree"
echo "hello again" > "$work/tree/usr/etc/motd"
"$bin" --repo="$work/repo" commit -b demo/stable -s "Second demo commit" \
    --add-metadata-string=version=1.1 --tree=dir="$work/tree"
"$bin" --repo="$work/repo" log demo/stable
"$bin" --repo="$work/repo" ls -R demo/stable
"$bin" --repo="$work/repo" cat demo/stable /usr/etc/motd
"$bin" --repo="$work/repo" refs
"$bin" --repo="$work/repo" diff demo/stable
"$bin" --repo="$work/repo" summary -u
# Serve the repository on a free port on 127.0.0.1 and pull from it over HTTP.
"$bin" --repo="$work/repo" serve --port=0 > "$work/serve.log" &
server=$!
until grep -q http:// "$work/serve.log" 2>/dev/null; do sleep 0.1; done
url=$(awk '{print $NF}' "$work/serve.log")
"$bin" --repo="$work/copy" init --mode=bare-user
"$bin" --repo="$work/copy" remote add --no-gpg-verify origin "$url"
"$bin" --repo="$work/copy" pull --depth=-1 origin demo/stable
"$bin" --repo="$work/copy" log origin:demo/stable
"$bin" --repo="$work/copy" checkout -U origin:demo/stable "$work/checkout"
cat "$work/checkout/usr/etc/motd"
"$bin" --repo="$work/repo" fsck
"$bin" --repo="$work/copy" fsck
# Deploy it into a scratch sysroot, as a machine would boot it (deployment roots left
# mutable so the scratch directory can be removed).
export OSTREE_SYSROOT="$work/sysroot" OSTREE_SYSROOT_DEBUG=mutable-deployments
mkdir "$work/sysroot"
"$bin" admin init-fs --modern "$work/sysroot"
"$bin" admin os-init demo
"$bin" --repo="$work/sysroot/ostree/repo" remote add --no-gpg-verify origin "$url"
"$bin" --repo="$work/sysroot/ostree/repo" pull origin demo/stable
"$bin" admin deploy --os=demo --karg=quiet origin:demo/stable
"$bin" admin status
cat "$work/sysroot/boot/loader/entries/"*.conf
cat "$("$bin" admin --print-current-dir)/etc/motd"
