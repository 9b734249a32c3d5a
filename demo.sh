#!/usr/bin/env bash
# The README's first command: build rostree and run its main job on a built-in demo tree.
# Initializes a repository, commits a tree twice, reads it back, serves it over HTTP with
# `rostree serve`, pulls it into a second repository, checks it out and verifies both.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -p rostree-cli
bin="$PWD/target/release/rostree"
work=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server"; rm -rf "$work"' EXIT

mkdir -p "$work/tree/etc" "$work/tree/usr/bin"
echo "NAME=rostree-demo" > "$work/tree/etc/os-release"
printf '#!/bin/sh\necho hello\n' > "$work/tree/usr/bin/hello"
chmod 755 "$work/tree/usr/bin/hello"
ln -s ../usr/bin/hello "$work/tree/etc/hello-link"

set -x
"$bin" --repo="$work/repo" init --mode=archive
"$bin" --repo="$work/repo" commit -b demo/stable -s "First demo commit" \
    --add-metadata-string=version=1.0 --tree=dir="$work/tree"
echo "hello again" > "$work/tree/etc/motd"
"$bin" --repo="$work/repo" commit -b demo/stable -s "Second demo commit" \
    --add-metadata-string=version=1.1 --tree=dir="$work/tree"
"$bin" --repo="$work/repo" log demo/stable
"$bin" --repo="$work/repo" ls -R demo/stable
"$bin" --repo="$work/repo" cat demo/stable /etc/motd
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
cat "$work/checkout/etc/motd"
"$bin" --repo="$work/repo" fsck
"$bin" --repo="$work/copy" fsck
