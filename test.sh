#!/usr/bin/env bash
# The README's second command: install the test dependencies and run the whole test suite.
# Upstream ostree is the oracle of the differential tests; they fail (never skip) without it.
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v ostree >/dev/null || need+=(ostree)
command -v setfattr >/dev/null || need+=(attr)
command -v python3 >/dev/null || need+=(python3)
# ostree.sizes must match upstream's, which zlib computes: link the system zlib upstream uses.
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
# An XFS image (made by the test, as root) proves checkout's reflinked copies.
command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
# The pull tests serve repositories with nginx as well as with rostree's own server.
[ -x /usr/sbin/nginx ] || need+=(nginx)
# TLS tests make a test CA with openssl; GPG tests make keys with gpg (rostree runs it only to
# let GnuPG move a GnuPG 1 secret keyring into its agent, as upstream's signing does).
command -v openssl >/dev/null || need+=(openssl)
command -v gpg >/dev/null || need+=(gnupg)
command -v filefrag >/dev/null || need+=(e2fsprogs)
# The upstream-suite runner hands the scripts a copy of rostree without its debug info.
command -v objcopy >/dev/null || need+=(binutils)
# The boot test: Debian minbase trees booted in qemu; the units are checked by systemd-analyze.
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
# The C API's test builds a program with cc through pkg-config and runs it under valgrind.
command -v cc >/dev/null || need+=(gcc)
command -v valgrind >/dev/null || need+=(valgrind)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v chattr >/dev/null || need+=(e2fsprogs)
# The Debian packages' Depends come from dpkg-shlibdeps, their library directory from dpkg-architecture.
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
# The package test reads the installed manual pages through man-db,
command -v man >/dev/null || need+=(man-db)
# and completes rostree's command lines in bash through bash-completion's loader.
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    fi
fi
ostree --version >/dev/null || { echo "upstream ostree is required for the differential tests" >&2; exit 1; }
# Each step's wall time, so that a slow CI run shows where its time went.
lap() { echo "test.sh: ${SECONDS}s $*" >&2; }
lap "dependencies installed"
cargo fmt --all -- --check
lap "fmt"
cargo clippy --workspace --all-targets -- -D warnings
lap "clippy"
cargo test --workspace
lap "cargo test"
# The library crates' documentation builds without a warning (missing docs are errors in
# clippy's run above; broken links here).
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p rostree -p rostree-core -p rostree-repo \
    -p rostree-pull -p rostree-sign -p rostree-delta -p rostree-serve -p rostree-sysroot \
    -p rostree-ffi -p rostree-prepare-root
lap "cargo doc"
# The facade without its default features is the object store alone: no async runtime, no
# HTTP client or server, no OpenPGP; each feature builds on its own.
cargo check -q -p rostree --no-default-features
cargo test -q -p rostree-sign --no-default-features --lib >/dev/null
for feature in pull serve gpg; do
    cargo check -q -p rostree --no-default-features --features "$feature"
done
if cargo tree -q -p rostree --no-default-features -e normal --prefix none | grep -Eq '^(tokio|reqwest|hyper|pgp|rsa) '; then
    echo "rostree without default features still depends on tokio, reqwest, hyper, pgp or rsa" >&2
    exit 1
fi
if cargo tree -q -p rostree --no-default-features --features pull -e normal --prefix none | grep -Eq '^(rostree-serve|pgp|rsa) '; then
    echo "rostree with only pull depends on the HTTP server, pgp or rsa" >&2
    exit 1
fi
lap "feature builds"
# Upstream's own test suite: first with upstream's ostree (the runner's self-test; upstream
# must fail none), then with rostree as `ostree`, whose results must match expected.txt exactly.
tests/upstream/run.sh --ostree upstream --fail-on-fail >/dev/null
lap "upstream suite, self-test"
tests/upstream/run.sh --check tests/upstream/expected.txt
lap "upstream suite, rostree"
# The boot side installs; its units parse (only the binaries, not installed on this machine,
# may be missing) and its initramfs-tools scripts are valid sh.
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
packaging/install.sh "$pkg"
problems=$(systemd-analyze verify --man=no "$pkg"/usr/lib/systemd/system/* 2>&1 | grep -v 'is not executable' || true)
if [ -n "$problems" ]; then
    echo "systemd-analyze verify: $problems" >&2
    exit 1
fi
for script in "$pkg"/usr/share/initramfs-tools/hooks/rostree "$pkg"/usr/share/initramfs-tools/scripts/local-bottom/rostree; do
    sh -n "$script"
done
lap "packaging checked"
# The Debian packages installed beside Debian's ostree, used, upgraded and removed (as root).
tests/package/run.sh
lap "Debian package"
# The C API as a C program sees it: installed with pkg-config, run under valgrind.
tests/c/run.sh
lap "C API"
# The Python bindings as a user installs them (`pip install crates/rostree-python`, maturin
# building the debug profile the suite has already compiled), tested with pytest in a venv.
venv=target/python-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q maturin pytest
MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/pip" install -q crates/rostree-python
"$venv/bin/pytest" -q crates/rostree-python/tests
lap "Python bindings"
# A real boot: rostree's deployments booted in qemu through rostree-prepare-root (as root).
python3 tests/boot/boot_test.py
lap "boot test"
