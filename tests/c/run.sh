#!/usr/bin/env bash
# librostree's C API end to end, as a C program sees it: installs the library into a
# scratch prefix (crates/rostree-ffi/install.sh), builds tests/c/example.c with
# `pkg-config rostree-1`, checks the shared library's soname and exports, then runs the
# example under valgrind: it commits a tree (which upstream `ostree commit` must commit to
# the same checksum), `rostree serve` serves it, and the example pulls and deploys it into a
# sysroot that upstream `ostree fsck` and `ostree admin status` must accept.
# Exits nonzero on any failure; skips nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "run.sh: FAIL: $*" >&2
    exit 1
}
for tool in cc pkg-config valgrind ostree readelf; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done

# Debug builds: the suite has them already, and valgrind is the slow part anyway.
PROFILE=dev crates/rostree-ffi/install.sh "$work/prefix"
cargo build -p rostree-cli
rostree="$root/target/debug/rostree"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$work/example" tests/c/example.c \
    $(pkg-config --cflags --libs rostree-1)
export LD_LIBRARY_PATH="$work/prefix/lib"

# The shared library: its soname, and only rostree_* exported, all under ROSTREE_0.
lib="$work/prefix/lib/librostree.so"
readelf -d "$lib" | grep -q 'SONAME.*\[librostree\.so\.0\]' || fail "soname is not librostree.so.0"
ldd "$work/example" | grep -q "librostree\.so\.0 => $work/prefix/lib/" ||
    fail "the example does not load the installed librostree.so.0"
# Defined dynamic symbols (the version node itself, ROSTREE_0, aside).
exports=$(readelf --dyn-syms -W "$lib" |
    awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $8 != "" && $8 != "ROSTREE_0" {print $8}' | sort)
[ -n "$exports" ] || fail "no exported symbols"
if echo "$exports" | grep -v '^rostree_.*@@ROSTREE_0$'; then
    fail "symbols besides rostree_*@@ROSTREE_0 are exported (above)"
fi
echo "librostree.so exports $(echo "$exports" | wc -l) symbols, all rostree_*@@ROSTREE_0"

vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --error-exitcode=99)
# Deployment roots stay mutable, so that the scratch directory can be removed.
export OSTREE_SYSROOT_DEBUG=mutable-deployments

# An ed25519 key pair as `ostree sign` takes them: base64 of seed and public key, and of
# the public key alone.
openssl genpkey -algorithm ed25519 -outform DER -out "$work/key.der"
seed=$(tail -c 32 "$work/key.der" | base64 -w0)
public=$(openssl pkey -inform DER -in "$work/key.der" -pubout -outform DER | tail -c 32 | base64 -w0)
EXAMPLE_SECRET_KEY=$( (echo "$seed" | base64 -d; echo "$public" | base64 -d) | base64 -w0)
export EXAMPLE_SECRET_KEY EXAMPLE_PUBLIC_KEY=$public

"${vg[@]}" "$work/example" commit "$work" | tee "$work/commit.out"
commit=$(awk '$1 == "commit" {print $2}' "$work/commit.out")
[ ${#commit} -eq 64 ] || fail "no commit checksum printed"
# Upstream commits the same tree with the same arguments to the same checksum.
ostree --repo="$work/upstream" init --mode=archive
upstream=$(ostree --repo="$work/upstream" commit --branch=demo/stable \
    --subject="Demo commit from C" --body="Committed through librostree." \
    --timestamp=@1700000000 "$work/tree")
[ "$upstream" = "$commit" ] || fail "upstream committed $upstream, the C API $commit"
ostree fsck --repo="$work/repo"
# Upstream lists the delta the C API made. (Debian builds upstream without ed25519, so the
# signature is checked by rostree's CLI.)
"$rostree" sign --repo="$work/repo" --verify --sign-type=ed25519 "$commit" "$EXAMPLE_PUBLIC_KEY"
[ "$(ostree static-delta list --repo="$work/repo")" = "$commit" ] ||
    fail "upstream does not list the delta to $commit"

"$rostree" --repo="$work/repo" serve --address=127.0.0.1 --port=0 >"$work/serve.log" &
server=$!
for _ in $(seq 100); do
    grep -q 'http://' "$work/serve.log" && break
    kill -0 "$server" 2>/dev/null || fail "rostree serve exited"
    sleep 0.1
done
url=$(grep -o 'http://[^ ]*' "$work/serve.log" | head -n1)
[ -n "$url" ] || fail "rostree serve printed no address"

"${vg[@]}" "$work/example" pull-deploy "$url" "$work" | tee "$work/deploy.out"
deployment=$(awk '$1 == "deployment" {print $2; exit}' "$work/deploy.out")
[ "$deployment" = "$commit" ] || fail "deployed '$deployment', not the commit $commit"

# Upstream agrees with what the C API wrote.
ostree fsck --repo="$work/sysroot/ostree/repo"
ostree admin status --sysroot="$work/sysroot" | tee "$work/status.out"
grep -q "demo $commit\.1" "$work/status.out" || fail "upstream's status lacks demo $commit.1"
grep -q "demo $commit\.0" "$work/status.out" || fail "upstream's status lacks demo $commit.0"
echo "run.sh: the C API passed"
