#!/usr/bin/env bash
# Runs upstream ostree's own test suite (Debian's ostree-tests, the version of the oracle) with
# an `ostree` of our choosing first on PATH, and prints one `PASS|FAIL|SKIP name` line per
# script and a final count.
#
#   tests/upstream/run.sh [--ostree BINARY] [--jobs N] [--timeout SECS] [--keep DIR]
#                         [--check EXPECTED | --write EXPECTED] [SCRIPT...]
#
# --ostree   the binary run as `ostree` (default: target/debug/rostree); `--ostree upstream`
#            runs the system's /usr/bin/ostree, the runner's self-test
# --check    compare the results with an expected-results file (lines `STATUS name`) and fail
#            on any difference, in either direction
# --fail-on-fail  exit 1 when a script fails (for the self-test, where any failure is a
#            fault of the runner or of the machine)
# --write    write this run's results as the expected-results file
# --keep     keep each script's temp dir and log under DIR (default: logs only, in a temp dir)
# SCRIPT     run only these (names as `test-basic.sh`); default every test-*.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

version=2022.7-2+deb12u1
ostree_bin=$root/target/debug/rostree
jobs=$(( $(nproc) * 2 ))
# Long enough for the delta scripts, whose ~20 delta generations take 100-200 s of CPU and
# share the cores with the other scripts (issue #13 is to make generation faster).
timeout_secs=600
keep=
check=
write=
fail_on_fail=
scripts=()
while [ $# -gt 0 ]; do
    case $1 in
        --ostree) ostree_bin=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --timeout) timeout_secs=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        --check) check=$2; shift 2 ;;
        --write) write=$2; shift 2 ;;
        --fail-on-fail) fail_on_fail=1; shift ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *) scripts+=("$1"); shift ;;
    esac
done
[ "$ostree_bin" = upstream ] && ostree_bin=/usr/bin/ostree
[ -x "$ostree_bin" ] || { echo "run.sh: $ostree_bin is not an executable" >&2; exit 2; }
ostree_bin=$(readlink -f "$ostree_bin")

# The package, unpacked once into target/ (nothing of it is installed; its dependencies are).
cache=$root/target/upstream-tests/$version
if [ ! -x "$cache/usr/libexec/installed-tests/libostree/test-basic.sh" ]; then
    dl=$(mktemp -d)
    (cd "$dl" && apt-get download "ostree-tests=$version" >/dev/null 2>&1) || {
        apt-get update -qq && (cd "$dl" && apt-get download "ostree-tests=$version" >/dev/null)
    }
    rm -rf "$cache" && mkdir -p "$cache"
    dpkg-deb -x "$dl"/ostree-tests_*.deb "$cache"
    mv "$dl"/ostree-tests_*.deb "$cache/../ostree-tests.deb"
    rm -rf "$dl"
fi
# Install what the scripts need (the package's dependencies, first alternative of each).
missing=()
for dep in $(dpkg-deb -f "$cache/../ostree-tests.deb" Depends 2>/dev/null | tr ',' '\n' \
             | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g'); do
    dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q 'ok installed' || missing+=("$dep")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
suite=$cache/usr/libexec/installed-tests/libostree
[ ${#scripts[@]} -gt 0 ] || mapfile -t scripts < <(cd "$suite" && ls test-*.sh)

work=${keep:-$(mktemp -d)}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
# `ostree` first on PATH. The scripts run as installed tests: libtest.sh finds the package's
# ostree-trivial-httpd beside them. OSTREE_UNINSTALLED stays unset, because with it set
# test-commit-sign.sh runs a C helper of upstream's build tree that the package does not ship.
mkdir -p "$work/bin" "$work/build"
# A debug build carries ~200 MB of debug info; the scripts copy `$(which ostree)` into trees
# they commit and diff (the delta scripts bsdiff it), where upstream's binary is a few
# hundred KB. They get the same code without the debug info.
if [ "$ostree_bin" != /usr/bin/ostree ] && command -v objcopy >/dev/null; then
    objcopy --strip-debug "$ostree_bin" "$work/bin/ostree"
else
    ln -sfn "$ostree_bin" "$work/bin/ostree"
fi
ln -sfn "$suite" "$work/build/tests"

run_one() {
    local name=$1 dir=$work/run/$1 log=$work/logs/$1.log status
    rm -rf "$dir" && mkdir -p "$dir" "$work/logs"
    set +e
    (cd "$dir" && env PATH="$work/bin:$PATH" G_TEST_SRCDIR="$suite" \
        G_TEST_BUILDDIR="$work/build" \
        timeout -k 10 "$timeout_secs" bash "$suite/$name") >"$log" 2>&1 </dev/null
    status=$?
    set -e
    # The scripts' HTTP servers leave when their directory goes (--autoexit); a kept directory
    # stays, so stop those still serving from it.
    local pid
    for pid in $(pgrep -f ostree-trivial-httpd || true); do
        case $(readlink "/proc/$pid/cwd" 2>/dev/null) in "$dir"/*|"$dir") kill "$pid" 2>/dev/null || true ;; esac
    done
    if [ $status -eq 0 ] && grep -q '^1\.\.0 # SKIP' "$log"; then
        echo "SKIP $name"
    elif [ $status -eq 0 ]; then
        echo "PASS $name"
    elif [ $status -eq 124 ] || [ $status -eq 137 ]; then
        echo "FAIL $name (timeout)"
    else
        echo "FAIL $name"
    fi
    [ -n "$keep" ] || rm -rf "$dir"
}
export -f run_one
export work suite timeout_secs keep

results=$work/results.txt
printf '%s\n' "${scripts[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {} \
    | tee "$results.unsorted"
sort -k2 "$results.unsorted" | sed 's/ (timeout)$//' >"$results"
pass=$(grep -c '^PASS' "$results" || true)
fail=$(grep -c '^FAIL' "$results" || true)
skip=$(grep -c '^SKIP' "$results" || true)
echo "$pass passed, $fail failed, $skip skipped (ostree = $ostree_bin)" | tee "$work/summary.txt" >&2
[ -z "$keep" ] || echo "logs in $work/logs"

if [ -n "$write" ]; then
    { echo "# Upstream's test suite (Debian ostree-tests $version) with rostree as \`ostree\`:"
      echo "# what each script does now. tests/upstream/run.sh --check fails on any difference."
      cat "$results"; } >"$write"
fi
if [ -n "$check" ]; then
    if ! diff -u <(grep -v '^#' "$check" | grep . | sort -k2) "$results" >"$work/diff.txt"; then
        echo "results differ from $check (- expected, + this run):"
        grep '^[-+][A-Z]' "$work/diff.txt"
        for name in $(grep '^+FAIL' "$work/diff.txt" | awk '{print $2}'); do
            echo "---- $name (last 30 lines)"
            tail -n 30 "$work/logs/$name.log"
        done
        exit 1
    fi
    echo "results match $check"
fi
if [ -n "$fail_on_fail" ] && [ "$fail" -gt 0 ]; then
    for name in $(grep '^FAIL' "$results" | awk '{print $2}'); do
        echo "---- FAIL $name (last 30 lines)" >&2
        tail -n 30 "$work/logs/$name.log" >&2
    done
    exit 1
fi
