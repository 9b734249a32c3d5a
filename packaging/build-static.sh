#!/usr/bin/env bash
# Builds rostree-prepare-root and rostree-remount statically linked (glibc's static-pie), as
# an initramfs needs them; prints the directory they are in.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | sed -n 's/^host: //p')
for bin in rostree-prepare-root rostree-remount; do
    cargo rustc -q -p rostree-prepare-root --bin "$bin" --profile initramfs --target "$target" \
        -- -C target-feature=+crt-static
done
echo "$PWD/target/$target/initramfs"
