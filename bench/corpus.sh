#!/usr/bin/env bash
# Build the benchmark corpus once and cache it under bench/cache/.
#
#   cache/a  debootstrap --variant=minbase bookworm, /dev emptied,
#            sockets/fifos removed
#   cache/b  a copy of a plus python3-minimal curl git openssh-client
#            (installed in a chroot), apt cache cleaned, /dev emptied
#   cache/big  one 2 GiB file of random data
#
# Idempotent: each tree is built in a temporary directory, then renamed and
# a stamp file is written last, so an interrupted build restarts cleanly.
# Needs root (debootstrap, chroot, mknod).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${BENCH_CACHE:-$BENCH_DIR/cache}
SUITE=bookworm
B_PACKAGES=(python3-minimal curl git openssh-client)

log() { printf 'corpus: %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (debootstrap/chroot)"
    exit 1
fi

# The Debian mirror the machine's apt sources use (first non-security
# .../debian URI), falling back to deb.debian.org.
find_mirror() {
    local f uri
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        if [[ $f == *.sources ]]; then
            # deb822: "URIs: http://host/debian [more...]"
            uri=$(awk 'tolower($1)=="uris:" { for (i=2;i<=NF;i++) print $i }' "$f")
        else
            # one-line: "deb [opts] http://host/debian suite comp..."
            uri=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' "$f")
        fi
        while read -r u; do
            [[ -n $u ]] || continue
            u=${u%/}
            if [[ $u == */debian ]]; then
                printf '%s\n' "$u"
                return 0
            fi
        done <<<"$uri"
    done
    printf '%s\n' "http://deb.debian.org/debian"
}

ensure_tools() {
    local missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
}

# Remove device nodes (and anything else) under ROOT/dev, keep the dir;
# then remove sockets and fifos anywhere in the tree.
clean_special() {
    local root=$1
    find "$root/dev" -mindepth 1 -delete
    find "$root" -xdev \( -type s -o -type p \) -print -delete >&2
}

# Minimal device nodes so maintainer scripts in the chroot can use
# /dev/null etc. without bind-mounting anything. Removed again afterwards.
make_dev_nodes() {
    local dev=$1/dev
    mknod -m 666 "$dev/null" c 1 3
    mknod -m 666 "$dev/zero" c 1 5
    mknod -m 666 "$dev/full" c 1 7
    mknod -m 666 "$dev/random" c 1 8
    mknod -m 666 "$dev/urandom" c 1 9
    mknod -m 666 "$dev/tty" c 5 0
}

build_a() {
    local stamp=$CACHE/a.stamp tmp=$CACHE/a.tmp mirror
    if [[ -f $stamp && -d $CACHE/a ]]; then
        log "a: cached ($CACHE/a)"
        return 0
    fi
    rm -f "$stamp" "$CACHE/b.stamp"
    rm -rf "$tmp" "$CACHE/a"
    ensure_tools
    mirror=$(find_mirror)
    log "a: debootstrap --variant=minbase $SUITE from $mirror"
    debootstrap --variant=minbase "$SUITE" "$tmp" "$mirror" >&2
    clean_special "$tmp"
    mv "$tmp" "$CACHE/a"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$stamp"
}

build_b() {
    local stamp=$CACHE/b.stamp tmp=$CACHE/b.tmp
    if [[ -f $stamp && -d $CACHE/b ]]; then
        log "b: cached ($CACHE/b)"
        return 0
    fi
    rm -f "$stamp"
    rm -rf "$tmp" "$CACHE/b"
    log "b: copying a"
    cp -a --reflink=auto "$CACHE/a" "$tmp"
    make_dev_nodes "$tmp"
    # The chroot needs name resolution for apt; debootstrap normally leaves
    # the host's resolv.conf, but make sure.
    if [[ ! -s $tmp/etc/resolv.conf && -f /etc/resolv.conf ]]; then
        cp -L /etc/resolv.conf "$tmp/etc/resolv.conf"
    fi
    log "b: installing ${B_PACKAGES[*]} in chroot"
    local env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
               DEBIAN_FRONTEND=noninteractive LC_ALL=C)
    chroot "$tmp" "${env[@]}" apt-get update -qq >&2
    chroot "$tmp" "${env[@]}" apt-get install -y -q --no-install-recommends \
        "${B_PACKAGES[@]}" >&2
    chroot "$tmp" "${env[@]}" apt-get clean >&2
    rm -rf "$tmp"/var/lib/apt/lists/partial
    clean_special "$tmp"
    mv "$tmp" "$CACHE/b"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$stamp"
}

# big: one directory holding a single 2 GiB file of random data, for the rows that show
# memory stays bounded whatever a file's size.
build_big() {
    local stamp=$CACHE/big.stamp tmp=$CACHE/big.tmp
    if [[ -f $stamp && -f $CACHE/big/blob ]]; then
        log "big: cached"
        return
    fi
    rm -rf "$tmp" "$CACHE/big"
    mkdir -p "$tmp"
    log "big: 2 GiB of random data"
    head -c $((2 << 30)) /dev/urandom >"$tmp/blob"
    mv "$tmp" "$CACHE/big"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$stamp"
}

report() {
    local t files mib
    printf '%-4s %10s %10s\n' tree files MiB
    for t in a b; do
        files=$(find "$CACHE/$t" -xdev | wc -l)
        mib=$(du -sx --block-size=1M "$CACHE/$t" | cut -f1)
        printf '%-4s %10s %10s\n' "$t" "$files" "$mib"
    done
}

mkdir -p "$CACHE"
build_a
build_b
build_big
report
