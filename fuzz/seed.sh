#!/bin/bash
# Seeds the fuzz corpora with real inputs made by upstream ostree and gpg: objects of a
# commit in each mode, a summary and summary.sig, detached metadata, repo configs, GnuPG
# key files and a tar archive. Run from anywhere; writes fuzz/corpus/<target>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus="$here/corpus"
work=$(mktemp -d)
trap 'gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$corpus"/{commit,dirtree,dirmeta,content_header,filez,summary,metadata,keyfile,gvariant,gnupg,openpgp,tar_import,metalink,delta_superblock,delta_part,delta_ops}
add() { # target file
    cp "$2" "$corpus/$1/$(sha256sum "$2" | cut -c1-16)"
}

tree="$work/tree"
mkdir -p "$tree/d/e"
echo hello > "$tree/a"
printf 'x%.0s' $(seq 1 3000) > "$tree/d/big"
ln -s a "$tree/link"
chmod 4755 "$tree/d/big"

mkdir -m700 "$work/gnupg"
gpg --batch --homedir "$work/gnupg" --passphrase '' --pinentry-mode loopback \
    --quick-gen-key 'Seed <seed@example.com>' rsa2048 sign never 2>/dev/null
gpg --batch --homedir "$work/gnupg" --passphrase '' --pinentry-mode loopback \
    --quick-gen-key 'Ed <ed@example.com>' ed25519 sign never 2>/dev/null
for f in "$work"/gnupg/private-keys-v1.d/*.key; do add gnupg "$f"; done
add gnupg "$work/gnupg/pubring.kbx"
gpg --batch --homedir "$work/gnupg" --export > "$work/keys.gpg"
gpg --batch --homedir "$work/gnupg" --export --armor > "$work/keys.asc"
add openpgp "$work/keys.gpg"
add openpgp "$work/keys.asc"
key=$(gpg --batch --homedir "$work/gnupg" --with-colons --list-keys seed@example.com |
    awk -F: '/^fpr/ {print $10; exit}')

for mode in archive bare-user; do
    repo="$work/repo-$mode"
    ostree init --repo="$repo" --mode="$mode"
    ostree commit --repo="$repo" -b main -s subject -m body --add-metadata-string=version=1 \
        --gpg-sign="$key" --gpg-homedir="$work/gnupg" "$tree" >/dev/null
    ostree commit --repo="$repo" -b main -s second --add-metadata='n=<uint32 5>' "$tree" >/dev/null
    ostree static-delta generate --repo="$repo" main >/dev/null 2>&1
    ostree static-delta generate --repo="$repo" --empty --swap-endianness main >/dev/null 2>&1
    find "$repo/deltas" -name superblock | while read -r f; do add delta_superblock "$f"; done
    find "$repo/deltas" -type f ! -name superblock | while read -r f; do add delta_part "$f"; done
    ostree summary --repo="$repo" -u --gpg-sign="$key" --gpg-homedir="$work/gnupg"
    add summary "$repo/summary"
    add metadata "$repo/summary.sig"
    add keyfile "$repo/config"
    find "$repo/objects" -name '*.commit' | while read -r f; do add commit "$f"; done
    find "$repo/objects" -name '*.commitmeta' | while read -r f; do add metadata "$f"; done
    find "$repo/objects" -name '*.dirtree' | while read -r f; do add dirtree "$f"; done
    find "$repo/objects" -name '*.dirmeta' | while read -r f; do add dirmeta "$f"; done
    find "$repo/objects" -name '*.filez' | while read -r f; do add filez "$f"; done
done
# The delta_ops target takes a 4-byte length, the operations, then the blob: taken from the
# parts' payloads, plus one with a bsdiff patch (small trees get none from the generator).
python3 - "$corpus/delta_part" "$work/ops" <<'PY'
import lzma, os, struct, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for name in os.listdir(src):
    data = open(os.path.join(src, name), "rb").read()
    payload = lzma.decompress(data[1:]) if data[:1] == b"x" else data[1:]
    n = len(payload)
    w = 1 if n <= 0xff else 2 if n <= 0xffff else 4 if n <= 0xffffffff else 8
    offs = [int.from_bytes(payload[n - (i + 1) * w:n - i * w], "little") for i in range(3)]
    blob, ops = payload[offs[1]:offs[2]], payload[offs[2]:n - 3 * w]
    open(os.path.join(out, name), "wb").write(struct.pack("<I", len(ops)) + ops + blob)
patch = struct.pack("<qqq", 4, 2, -1) + bytes([1, 1, 1, 1, 9, 9])
blob = bytes(32) + patch
ops = b"o\x00\x00\x06" + b"r\x00" + b"B\x20" + bytes([len(patch)]) + b"c"
open(os.path.join(out, "bspatch"), "wb").write(struct.pack("<I", len(ops)) + ops + blob)
PY
for f in "$work"/ops/*; do add delta_ops "$f"; done
# The gvariant target takes "TYPE\nDATA".
for f in "$corpus"/commit/*; do
    { printf '(a{sv}aya(say)sstayay)\n'; cat "$f"; } > "$work/gv"; add gvariant "$work/gv"
done
for f in "$corpus"/dirtree/*; do
    { printf '(a(say)a(sayay))\n'; cat "$f"; } > "$work/gv"; add gvariant "$work/gv"
done
# Content headers: the first bytes of .filez objects (header length, padding, header).
for f in "$corpus"/filez/*; do
    len=$(( $(od -An -tu4 --endian=big -N4 "$f") ))
    head -c $((8 + len)) "$f" | tail -c "$len" > "$work/h"
    add content_header "$work/h"
done
printf '[core]\nrepo_version=1\nmode=bare\n\n[remote "o"]\nurl=http://example.com/repo\ngpg-verify=false\nbranches=main;other;\n' > "$work/cfg"
add keyfile "$work/cfg"
tar -C "$tree" -cf "$work/tree.tar" .
add tar_import "$work/tree.tar"
echo "seeded $(find "$corpus" -type f | wc -l) inputs under $corpus"
