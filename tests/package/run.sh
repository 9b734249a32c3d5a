#!/usr/bin/env bash
# The Debian packages as a user installs them, beside Debian's own ostree package.
#
# Builds rostree and rostree-dev (packaging/deb/build-deb.sh, the dev profile), checks their
# contents (no /usr/bin/ostree, no file of the ostree package, no conflict or diversion),
# installs them with dpkg and checks:
#  - /usr/bin/rostree runs, and runs the whole demo (ROSTREE=/usr/bin/rostree ./demo.sh);
#  - `man rostree-commit` finds and renders the installed page (man-db, not man -l);
#  - bash-completion's loader completes `rostree --repo=X com<TAB>` from the installed
#    script (and did not before the install);
#  - a C program built with `pkg-config rostree-1` links and runs against the installed
#    librostree.so.0, which is in the dynamic linker's cache;
#  - `ostree` is registered as an alternative (priority 10), while Debian's /usr/bin/ostree
#    stays its real file, byte for byte, still answering as upstream;
#  - the maintainer scripts, run against a scratch root without Debian's ostree
#    (update-alternatives --root), make /usr/bin/ostree the link to rostree, keep it on
#    upgrade and remove it on removal; rostree answers as `ostree`;
#  - reinstalling (an upgrade) keeps all this;
# then removes and purges both packages and checks that nothing of them is left: no
# /usr/bin/rostree, no library, no completion, no page, no `ostree` alternative, and
# Debian's ostree unchanged and working.
#
# As root. Exits nonzero on any failure, skips nothing; removes what it installed on exit,
# failure or not.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
fail() {
    echo "run.sh: FAIL: $*" >&2
    exit 1
}
step() { echo "run.sh: ${SECONDS}s $*" >&2; }
[ "$(id -u)" -eq 0 ] || fail "must run as root: it installs and removes the packages with dpkg"
for tool in dpkg dpkg-deb dpkg-query update-alternatives ldconfig man python3 cc pkg-config \
    sha256sum ldd; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ -f /usr/share/bash-completion/bash_completion ] || fail "bash-completion is not installed"
# (Slim images tell dpkg to leave out manual pages: the installed manual would be missing.)
if grep -rqs '^path-exclude[= ]*/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/; then
    fail "dpkg is configured to leave out /usr/share/man (path-exclude in /etc/dpkg/dpkg.cfg.d)"
fi
# Debian's ostree, which the packages must leave alone.
if [ "$(dpkg-query -W -f='${db:Status-Status}' ostree 2>/dev/null)" != installed ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ostree
fi
[ "$(dpkg-query -S /usr/bin/ostree 2>/dev/null)" = "ostree: /usr/bin/ostree" ] ||
    fail "/usr/bin/ostree is not the ostree package's"
# Nothing of rostree's may be here already: this test removes what it installs.
for p in rostree rostree-dev; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    case $status in
    "" | not-installed) ;;
    *) fail "the $p package is on this machine ($status); remove it first: dpkg -P rostree-dev rostree" ;;
    esac
done
[ ! -e /usr/bin/rostree ] || fail "/usr/bin/rostree exists (not from a package); remove it first"
if update-alternatives --query ostree >/dev/null 2>&1; then
    fail "an ostree alternative exists already (update-alternatives --query ostree)"
fi

# (Checks grep captured output, never a pipe into grep -q: its early exit would fail the
# writer with SIGPIPE, which pipefail reports.)
export LC_ALL=C
unset PKG_CONFIG_PATH LD_LIBRARY_PATH
work=$(mktemp -d)
cleanup() {
    local status=$?
    local left=()
    for p in rostree-dev rostree; do
        case $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) in
        "" | not-installed) ;;
        *) left+=("$p") ;;
        esac
    done
    if [ ${#left[@]} -gt 0 ]; then
        echo "run.sh: purging ${left[*]}" >&2
        dpkg -P "${left[@]}" >/dev/null 2>&1 || echo "run.sh: dpkg -P ${left[*]} failed" >&2
    fi
    update-alternatives --remove ostree /usr/bin/rostree >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
mkdir "$work/empty"
# What a TAB after LINE makes of it in an interactive bash with the system's completion
# loader (in an empty directory, so that file names complete nothing).
complete_line() {
    (cd "$work/empty" && python3 "$root/tests/package/bash_complete.py" "" "$1")
}
# Neither a file nor a link (dangling or not).
absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }
ostree_sha=$(sha256sum /usr/bin/ostree | cut -d' ' -f1)
ostree_version=$(ostree --version)
# Debian's ostree, as it was and still is: the same file, answering as upstream.
check_debian_ostree() {
    [ -f /usr/bin/ostree ] || fail "/usr/bin/ostree is gone ($1)"
    [ ! -L /usr/bin/ostree ] || fail "/usr/bin/ostree is a link ($1)"
    [ "$(sha256sum /usr/bin/ostree | cut -d' ' -f1)" = "$ostree_sha" ] ||
        fail "/usr/bin/ostree changed ($1)"
    [ "$(dpkg-query -S /usr/bin/ostree)" = "ostree: /usr/bin/ostree" ] ||
        fail "/usr/bin/ostree is no longer the ostree package's ($1)"
    [ "$(ostree --version)" = "$ostree_version" ] || fail "ostree --version changed ($1)"
    dpkg --verify ostree || fail "dpkg --verify ostree reports changed files ($1)"
}

# Before: rostree completes nothing.
[ "$(complete_line "rostree --repo=X com")" = "rostree --repo=X com" ] ||
    fail "rostree completes before the package is installed"
step "checked the machine"

# The packages.
PROFILE=dev packaging/deb/build-deb.sh "$work/debs" >"$work/debs.list"
deb=$(grep '/rostree_[^/]*\.deb$' "$work/debs.list" || true)
devdeb=$(grep '/rostree-dev_[^/]*\.deb$' "$work/debs.list" || true)
for f in "$deb" "$devdeb"; do
    [ -f "$f" ] || fail "build-deb.sh did not name both packages: $(cat "$work/debs.list")"
done
version=$(dpkg-deb -f "$deb" Version)
[ "$(dpkg-deb -f "$devdeb" Depends)" = "rostree (= $version)" ] ||
    fail "rostree-dev does not depend on rostree (= $version)"
grep -q 'libc6 (>= ' <<<"$(dpkg-deb -f "$deb" Depends)" || fail "rostree does not depend on libc6"
for field in Conflicts Breaks Replaces Provides Pre-Depends; do
    [ -z "$(dpkg-deb -f "$deb" "$field")$(dpkg-deb -f "$devdeb" "$field")" ] ||
        fail "a package has a $field field"
done
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/rostree.files"
dpkg-deb -c "$devdeb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/rostree-dev.files"
for f in /usr/bin/rostree /usr/lib/rostree/rostree-prepare-root /usr/lib/rostree/rostree-remount \
    /usr/lib/systemd/system/rostree-remount.service /usr/lib/systemd/system/rostree-finalize-staged.path \
    /usr/lib/systemd/system/rostree-finalize-staged.service /usr/lib/systemd/system/rostree-boot-complete.service \
    /usr/share/initramfs-tools/hooks/rostree /usr/share/initramfs-tools/scripts/local-bottom/rostree \
    /usr/share/man/man1/rostree.1.gz /usr/share/man/man1/rostree-commit.1.gz \
    /usr/share/man/man1/rostree-admin-deploy.1.gz \
    /usr/share/bash-completion/completions/rostree /usr/share/zsh/vendor-completions/_rostree \
    /usr/share/fish/vendor_completions.d/rostree.fish "/usr/lib/$multiarch/librostree.so.0" \
    /usr/share/doc/rostree/copyright; do
    grep -qx "$f" "$work/rostree.files" || fail "rostree lacks $f"
done
for f in "/usr/lib/$multiarch/librostree.so" /usr/include/rostree.h \
    "/usr/lib/$multiarch/pkgconfig/rostree-1.pc" /usr/share/doc/rostree-dev/copyright; do
    grep -qx "$f" "$work/rostree-dev.files" || fail "rostree-dev lacks $f"
done
# Nothing of Debian's ostree package: no /usr/bin/ostree, no file it ships, no diversion.
dpkg -L ostree | sort >"$work/ostree.files"
shared=$(sort "$work/rostree.files" "$work/rostree-dev.files" | grep -v '/$' |
    comm -12 - "$work/ostree.files" | while read -r f; do [ -d "$f" ] || echo "$f"; done)
[ -z "$shared" ] || fail "the packages ship files of the ostree package: $shared"
dpkg-deb -e "$deb" "$work/control"
if grep -l 'dpkg-divert' "$work/control"/*; then fail "a maintainer script diverts files"; fi
for script in postinst prerm postrm; do
    sh -n "$work/control/$script"
    [ "$(head -n1 "$work/control/$script")" = '#!/bin/sh' ] || fail "$script is not sh"
    grep -qx 'set -e' "$work/control/$script" || fail "$script does not set -e"
done
grep -qx 'activate-noawait ldconfig' "$work/control/triggers" || fail "no ldconfig trigger"
step "built and checked the packages ($(du -h "$deb" | cut -f1) and $(du -h "$devdeb" | cut -f1))"

# Installed beside Debian's ostree: update-alternatives records rostree and leaves
# /usr/bin/ostree alone, with a warning.
dpkg -i "$deb" "$devdeb" 2>&1 | tee "$work/install.log"
grep -q 'update-alternatives: warning: not replacing /usr/bin/ostree with a link' "$work/install.log" ||
    fail "update-alternatives did not leave /usr/bin/ostree alone (no warning)"
for p in rostree rostree-dev; do
    [ "$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$p")" = "installed $version" ] ||
        fail "$p $version is not installed"
done
dpkg --verify rostree rostree-dev || fail "dpkg --verify reports changed files"
check_debian_ostree "installed"
update-alternatives --query ostree >"$work/alternatives"
grep -qx 'Alternative: /usr/bin/rostree' "$work/alternatives" || fail "rostree is not an ostree alternative"
grep -qx 'Priority: 10' "$work/alternatives" || fail "the alternative's priority is not 10"
step "installed"

# The command.
[ "$(command -v rostree)" = /usr/bin/rostree ] || fail "rostree is not /usr/bin/rostree"
rostree --version >"$work/version"
grep -qx " Version: '${version%-*}'" "$work/version" ||
    fail "rostree --version does not print ${version%-*}: $(cat "$work/version")"
if ! ROSTREE=/usr/bin/rostree ./demo.sh >"$work/demo.log" 2>&1; then
    tail -n 30 "$work/demo.log" >&2
    fail "the demo fails with /usr/bin/rostree"
fi
grep -q '^+ /usr/bin/rostree admin status$' "$work/demo.log" || fail "the demo did not run /usr/bin/rostree"
if grep -q 'Compiling\|Finished' "$work/demo.log"; then fail "the demo built rostree"; fi
step "rostree --version and the demo"

# The manual, through man-db.
[ "$(man -w rostree-commit)" = /usr/share/man/man1/rostree-commit.1.gz ] ||
    fail "man finds rostree-commit at '$(man -w rostree-commit 2>&1)'"
MANWIDTH=80 man rostree-commit >"$work/man.txt" 2>"$work/man.err" ||
    fail "man rostree-commit fails: $(cat "$work/man.err")"
grep -q 'rostree commit' <<<"$(awk '/^SYNOPSIS/ {on = 1; next} /^[A-Z]/ {on = 0} on' "$work/man.txt")" ||
    fail "man rostree-commit's SYNOPSIS lacks 'rostree commit': $(head -n 12 "$work/man.txt")"
step "man rostree-commit"

# Bash completion, which the system's loader finds in the package.
for pair in "rostree --repo=X com|rostree --repo=X commit " "rostree admin dep|rostree admin deploy "; do
    typed=${pair%|*} expected=${pair#*|}
    got=$(complete_line "$typed")
    [ "$got" = "$expected" ] || fail "bash completes '$typed<TAB>' to '$got', not '$expected'"
done
step "bash completion"

# The C library through pkg-config.
lib_version=$(pkg-config --modversion rostree-1) || fail "pkg-config finds no rostree-1"
[ "$lib_version" = "${version%-*}" ] || fail "pkg-config says rostree-1 is $lib_version"
[ "$(pkg-config --variable=libdir rostree-1)" = "/usr/lib/$multiarch" ] ||
    fail "rostree-1.pc's libdir is $(pkg-config --variable=libdir rostree-1)"
ldconfig -p >"$work/ldconfig"
grep -q "librostree\.so\.0 .*/lib/$multiarch/librostree\.so\.0$" "$work/ldconfig" ||
    fail "librostree.so.0 is not in the dynamic linker's cache"
cat >"$work/version.c" <<'EOF'
#include <stdio.h>
#include <rostree.h>

int main(void) {
    printf("%s\n", rostree_version());
    return 0;
}
EOF
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$work/version" "$work/version.c" $(pkg-config --cflags --libs rostree-1)
grep -q "librostree\.so\.0 => .*/lib/$multiarch/librostree\.so\.0 " <<<"$(ldd "$work/version")" ||
    fail "the program does not load the installed librostree.so.0: $(ldd "$work/version")"
[ "$("$work/version")" = "$lib_version" ] || fail "rostree_version() is not $lib_version"
step "C program built with pkg-config rostree-1"

# The alternative where /usr/bin/ostree is free: the package's maintainer scripts, run with
# update-alternatives confined to a scratch root (Debian's ostree stays installed here).
alt=$work/altroot
mkdir -p "$alt/usr/bin" "$alt/usr/share/man/man1" "$alt/etc/alternatives" \
    "$alt/var/lib/dpkg/alternatives" "$work/altbin"
ln -s /usr/bin/rostree "$alt/usr/bin/rostree"
ln -s /usr/share/man/man1/rostree.1.gz "$alt/usr/share/man/man1/rostree.1.gz"
cat >"$work/altbin/update-alternatives" <<EOF
#!/bin/sh
exec /usr/bin/update-alternatives --root "$alt" "\$@"
EOF
printf '#!/bin/sh\nexit 0\n' >"$work/altbin/systemctl"
chmod 755 "$work/altbin"/*
in_alt() { PATH="$work/altbin:$PATH" "$@"; }
links_to_rostree() {
    [ "$(readlink "$alt/usr/bin/ostree")" = /etc/alternatives/ostree ] &&
        [ "$(readlink "$alt/etc/alternatives/ostree")" = /usr/bin/rostree ] &&
        [ "$(readlink "$alt/usr/share/man/man1/ostree.1.gz")" = /etc/alternatives/ostree.1.gz ] &&
        [ "$(readlink "$alt/etc/alternatives/ostree.1.gz")" = /usr/share/man/man1/rostree.1.gz ]
}
in_alt "$work/control/postinst" configure
links_to_rostree || fail "postinst did not link /usr/bin/ostree to rostree (scratch root)"
in_alt "$work/control/postinst" configure
in_alt "$work/control/prerm" upgrade "$version"
links_to_rostree || fail "prerm upgrade dropped the ostree link (scratch root)"
in_alt "$work/control/postinst" configure "$version"
[ "$(in_alt update-alternatives --query ostree | grep -c '^Alternative: ')" = 1 ] ||
    fail "the alternative is registered more than once (scratch root)"
in_alt "$work/control/prerm" remove
for f in usr/bin/ostree etc/alternatives/ostree usr/share/man/man1/ostree.1.gz \
    etc/alternatives/ostree.1.gz var/lib/dpkg/alternatives/ostree; do
    absent "$alt/$f" || fail "prerm remove left $f (scratch root)"
done
# rostree answers as `ostree`, the name the link gives it.
grep -qx " Git: rostree-${version%-*}" <<<"$(exec -a ostree /usr/bin/rostree --version)" ||
    fail "rostree run as ostree does not say it is rostree"
(exec -a ostree /usr/bin/rostree --repo="$work/as-ostree" init --mode=archive)
ostree --repo="$work/as-ostree" refs >/dev/null || fail "upstream cannot read the repo rostree made as ostree"
step "the alternative in a scratch root without Debian's ostree"

# Reinstalled (an upgrade to the same version: prerm upgrade, then postinst configure).
dpkg -i "$deb" "$devdeb" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log" >&2; fail "reinstalling fails"; }
[ "$(update-alternatives --query ostree | grep -c '^Alternative: ')" = 1 ] ||
    fail "the alternative is registered more than once after reinstalling"
[ -x /usr/bin/rostree ] || fail "reinstalling lost /usr/bin/rostree"
check_debian_ostree "reinstalled"
step "reinstalled"

# Removed, then purged: nothing of rostree's is left, and Debian's ostree works.
dpkg -r rostree-dev rostree
for f in /usr/bin/rostree /usr/lib/rostree "/usr/lib/$multiarch/librostree.so.0" \
    "/usr/lib/$multiarch/librostree.so" /usr/include/rostree.h \
    /usr/share/bash-completion/completions/rostree /usr/share/man/man1/rostree-commit.1.gz \
    /etc/alternatives/ostree /etc/alternatives/ostree.1.gz /var/lib/dpkg/alternatives/ostree; do
    absent "$f" || fail "$f is left after dpkg -r"
done
if update-alternatives --query ostree >/dev/null 2>&1; then fail "the ostree alternative is left"; fi
ldconfig -p >"$work/ldconfig"
if grep -q librostree "$work/ldconfig"; then fail "librostree is left in the dynamic linker's cache"; fi
if man -w rostree-commit >/dev/null 2>&1; then fail "man still finds rostree-commit"; fi
[ "$(complete_line "rostree --repo=X com")" = "rostree --repo=X com" ] ||
    fail "rostree still completes after removal"
dpkg -P rostree
for p in rostree rostree-dev; do
    case $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) in
    "" | not-installed) ;;
    *) fail "$p is still known to dpkg after the purge" ;;
    esac
done
check_debian_ostree "removed"
ostree --repo="$work/upstream" init --mode=archive
ostree --repo="$work/upstream" refs >/dev/null
step "removed and purged; Debian's ostree unchanged and working"
echo "run.sh: the Debian packages passed"
