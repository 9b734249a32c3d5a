#!/usr/bin/env python3
"""Boots rostree deployments for real: a Debian kernel, an initramfs running
rostree-prepare-root, and a disk image of a sysroot deployed by `rostree admin`, in qemu.

What it proves (each check fails the run, with what was expected and what booted):
- the default BLS entry boots v2, the rollback entry boots v1;
- in the booted system /usr is read-only, /var is the stateroot's (a counter kept there
  survives from boot to boot and deployment to deployment), /run/ostree-booted exists, and
  the /etc change made locally under v1 was carried into v2 by the 3-way merge;
- with prepare-root.conf's `[sysroot] readonly` and `[etc] transient`, /sysroot is read-only,
  /etc shows the defaults (the local change is not in the overlay) and is writable;
- a sysroot deployed by upstream `ostree admin` boots with rostree-prepare-root, and
  rostree's sysroot boots with upstream's ostree-prepare-root (Debian's ostree-boot);
- after `admin undeploy` the rollback entry, its deployment and its kernel are gone;
- the checks themselves fail when the wrong deployment boots (the rollback's report is
  checked against the default's expectations and must be refused).

Needs root (debootstrap, file ownership in the trees), qemu-system-x86, debootstrap,
busybox-static and e2fsprogs; Debian's minbase, kernel and ostree-boot packages are
downloaded once into ROSTREE_BOOT_CACHE (default: target/boot-cache).

Usage: boot_test.py [--rostree PATH] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ROSTREE_BOOT_CACHE", ROOT / "target" / "boot-cache"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
KERNEL_META = "linux-image-cloud-amd64"
# Loaded in this order by the initramfs: what virtio-blk needs on the cloud kernel (ext4 and
# the serial console are built in), and overlayfs for a transient /etc.
MODULES = ["virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
           "virtio_pci", "virtio_blk", "overlay"]
BUSYBOX_APPLETS = ["sh", "mount", "umount", "switch_root", "insmod", "mkdir", "cat", "sleep",
                   "poweroff", "echo", "ls", "touch"]
STATEROOT = "debian"
REF = "debian/boottest"
KARGS = ["root=/dev/vda", "rw", "console=ttyS0", "panic=-1",
         "init=/usr/libexec/boottest-init"]
# A boot takes about 5 s under TCG on this machine kind; a hung one is stopped long before
# this, which only bounds a boot that never powers off (an emergency shell waiting).
BOOT_TIMEOUT = 120


def log(msg: str) -> None:
    print(f"boot-test: {msg}", file=sys.stderr, flush=True)


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    cmd = [str(c) for c in cmd]
    log("+ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


def output(cmd: list) -> str:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True,
                          text=True).stdout


# --- Cached inputs ----------------------------------------------------------------------

def minbase() -> Path:
    """A Debian minbase tree, made once by debootstrap."""
    tree = CACHE / "minbase"
    if not tree.exists():
        tmp = CACHE / "minbase.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        run(["debootstrap", "--variant=minbase", SUITE, tmp, MIRROR])
        tmp.rename(tree)
    return tree


def unpacked(package: str) -> Path:
    """A Debian package downloaded once and unpacked (not installed)."""
    dest = CACHE / "debs" / package
    if not dest.exists():
        work = CACHE / "debs" / f"{package}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        run(["apt-get", "download", package], cwd=work, stdout=subprocess.DEVNULL)
        debs = list(work.glob("*.deb"))
        if len(debs) != 1:
            sys.exit(f"boot-test: expected one .deb of {package}, got {debs}")
        run(["dpkg-deb", "-x", debs[0], work / "root"])
        (work / "root").rename(dest)
        shutil.rmtree(work)
    return dest


def kernel_package() -> str:
    """The versioned kernel package the cloud metapackage points to."""
    deps = output(["apt-cache", "depends", KERNEL_META])
    match = re.search(r"Depends: (linux-image-\S+-cloud-amd64)", deps)
    if not match:
        sys.exit(f"boot-test: cannot tell which kernel {KERNEL_META} depends on:\n{deps}")
    return match.group(1)


@dataclass
class Kernel:
    version: str
    vmlinuz: Path
    modules: dict[str, Path]


def kernel() -> Kernel:
    root = unpacked(kernel_package())
    (moddir,) = (root / "lib" / "modules").iterdir()
    found = {p.name.removesuffix(".ko"): p for p in moddir.rglob("*.ko")}
    missing = [m for m in MODULES if m not in found]
    if missing:
        sys.exit(f"boot-test: the kernel package lacks modules {missing}")
    return Kernel(moddir.name, root / "boot" / f"vmlinuz-{moddir.name}",
                  {m: found[m] for m in MODULES})


# --- The initramfs -------------------------------------------------------------------------

INIT = r"""#!/bin/sh
# The test initramfs: load virtio-blk, mount the root named by root=, run prepare-root (rostree's,
# or upstream's with boottest.prepare=ostree) and switch to the deployment's init.
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs run /run
fail() { echo "BOOTTEST initramfs-failure=$*"; poweroff -f; }
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko || fail "insmod $m"; done
root=; init=/sbin/init; prepare=/usr/lib/rostree/rostree-prepare-root; conf=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        root=*) root=${arg#root=} ;;
        init=*) init=${arg#init=} ;;
        boottest.prepare=ostree) prepare=/usr/lib/ostree/ostree-prepare-root ;;
        boottest.conf=readonly-transient) conf=readonly-transient ;;
    esac
done
# prepare-root.conf in /run, one of the places prepare-root reads it from.
if [ "$conf" = readonly-transient ]; then
    mkdir -p /run/ostree
    printf '[sysroot]\nreadonly=true\n[etc]\ntransient=true\n' > /run/ostree/prepare-root.conf
fi
# The disk appears when virtio has probed it.
i=0
while [ ! -b "$root" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
# Upstream's systemd builds mount /var in the initramfs only when asked to.
mkdir -p /run/ostree && touch /run/ostree/initramfs-mount-var
mount -o rw "$root" /sysroot || fail "mounting $root"
echo "BOOTTEST prepare=$prepare"
"$prepare" /sysroot || fail "$prepare"
for fs in dev proc sys run; do mount --move /$fs /sysroot/$fs || fail "moving /$fs"; done
exec switch_root /sysroot "$init"
"""

# Runs as PID 1 in the booted deployment: reports what it sees, then powers off.
BOOTED_INIT = r"""#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "BOOTTEST $1=$2"; }
say version "$(cat /usr/lib/boottest-version)"
say etc-default "$(cat /etc/boottest-default)"
say etc-local "$(cat /etc/boottest-local 2>/dev/null || echo none)"
if touch /usr/boottest-write 2>/dev/null; then say usr rw; else say usr ro; fi
if touch /etc/boottest-write 2>/dev/null && rm /etc/boottest-write; then say etc rw; else say etc ro; fi
count=$(cat /var/boottest-count 2>/dev/null || echo 0)
say var-before "$count"
echo $((count + 1)) > /var/boottest-count
if [ -e /run/ostree-booted ]; then say booted-marker yes; else say booted-marker no; fi
if [ -d /sysroot/ostree/deploy ]; then say sysroot yes; else say sysroot no; fi
if touch /sysroot/boottest-write 2>/dev/null && rm /sysroot/boottest-write; then
    say sysroot-writable yes
else
    say sysroot-writable no
fi
if [ -e /run/ostree-sysroot-ro.stamp ]; then say ro-stamp yes; else say ro-stamp no; fi
say cmdline "$(cat /proc/cmdline)"
sync
echo "BOOTTEST end=1"
echo o > /proc/sysrq-trigger
sleep 60
"""


def cpio_newc(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """An uncompressed newc archive of (name, mode, data, rdev) entries, owned by root."""
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(entries + [("TRAILER!!!", 0, b"", 0)], 1):
        raw = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xff,
                  len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def shared_libs(binary: Path) -> list[Path]:
    """The libraries (and loader) a dynamically linked binary needs, from ldd."""
    libs = []
    for line in output(["ldd", binary]).splitlines():
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            libs.append(Path(match.group(1)))
    return libs


def initramfs(k: Kernel, prepare_root: Path, upstream_prepare_root: Path, marker: str) -> bytes:
    """The test initramfs; `marker` makes each version's (and so its bootcsum) its own."""
    d, f, lnk = 0o40755, 0o100755, 0o120777
    entries = [(name, d, b"", 0) for name in
               ["bin", "dev", "proc", "sys", "run", "sysroot", "etc", "lib", "lib/modules",
                "usr", "usr/lib", "usr/lib/rostree", "usr/lib/ostree"]]
    entries.append(("dev/console", 0o20600, b"", (5 << 8) | 1))
    entries.append(("init", f, INIT.encode(), 0))
    entries.append(("etc/boottest-initramfs", 0o100644, marker.encode(), 0))
    entries.append(("bin/busybox", f, Path("/bin/busybox").read_bytes(), 0))
    entries += [(f"bin/{a}", lnk, b"busybox", 0) for a in BUSYBOX_APPLETS]
    entries.append(("lib/modules/order", 0o100644, "\n".join(MODULES).encode() + b"\n", 0))
    entries += [(f"lib/modules/{m}.ko", 0o100644, k.modules[m].read_bytes(), 0)
                for m in MODULES]
    entries.append(("usr/lib/rostree/rostree-prepare-root", f, prepare_root.read_bytes(), 0))
    entries.append(("usr/lib/ostree/ostree-prepare-root", f,
                    upstream_prepare_root.read_bytes(), 0))
    seen_dirs = {e[0] for e in entries}
    for lib in shared_libs(upstream_prepare_root):
        real = lib.resolve()
        rel = str(lib).lstrip("/")
        parts = Path(rel).parents
        for parent in reversed(list(parts)[:-1]):
            if str(parent) not in seen_dirs:
                seen_dirs.add(str(parent))
                entries.append((str(parent), d, b"", 0))
        entries.append((rel, f, real.read_bytes(), 0))
    return gzip.compress(cpio_newc(entries), compresslevel=1)


# --- Trees, sysroots, images ---------------------------------------------------------------

def make_tree(base: Path, tree: Path, k: Kernel, initrd: bytes, version: str) -> None:
    """Turns a copy of minbase into an OSTree OS tree of `version`."""
    if not tree.exists():
        run(["cp", "-a", base, tree])
        # /etc defaults live in /usr/etc; /var is the stateroot's, made at deploy.
        (tree / "etc").rename(tree / "usr" / "etc")
        for name in ["var", "dev", "run", "proc", "sys", "tmp"]:
            shutil.rmtree(tree / name)
            (tree / name).mkdir()
        (tree / "tmp").chmod(0o1777)
        (tree / "sysroot").mkdir()
        (tree / "ostree").symlink_to("sysroot/ostree")
    moddir = tree / "usr" / "lib" / "modules" / k.version
    moddir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(k.vmlinuz, moddir / "vmlinuz")
    (moddir / "initramfs.img").write_bytes(initrd)
    init = tree / "usr" / "libexec" / "boottest-init"
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text(BOOTED_INIT)
    init.chmod(0o755)
    (tree / "usr" / "lib" / "boottest-version").write_text(version + "\n")
    (tree / "usr" / "etc" / "boottest-default").write_text(version + "\n")


@dataclass
class Entry:
    title: str
    version: int
    linux: str
    initrd: str
    options: str


def read_entries(sysroot: Path) -> list[Entry]:
    """The BLS entries as a bootloader reads them: newest version first (the default)."""
    entries = []
    for conf in sorted((sysroot / "boot" / "loader" / "entries").glob("*.conf")):
        keys = {}
        for line in conf.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition(" ")
                keys[key] = value.strip()
        entries.append(Entry(keys.get("title", conf.name), int(keys["version"]),
                             keys["linux"], keys.get("initrd", ""), keys["options"]))
    return sorted(entries, key=lambda e: e.version, reverse=True)


def boot_file(sysroot: Path, path: str) -> Path:
    """An entry's path, as found on the disk: relative to /boot unless it names /boot."""
    rel = path.lstrip("/")
    return sysroot / rel if rel.startswith("boot/") else sysroot / "boot" / rel


def make_image(sysroot: Path, image: Path) -> None:
    image.unlink(missing_ok=True)
    run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", sysroot, image, "3G"])


def qemu_accel() -> list[str]:
    """Software emulation (TCG), or KVM with ROSTREE_BOOT_KVM=1: on this machine kind
    /dev/kvm opens but a guest under it never runs, so it cannot be detected safely."""
    if os.environ.get("ROSTREE_BOOT_KVM") == "1":
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg", "-cpu", "max"]


def boot(sysroot: Path, entry: Entry, image: Path, extra_kargs: str = "") -> dict[str, str]:
    """Boots one entry from `image`; returns the BOOTTEST facts the system reported."""
    kargs = entry.options + (" " + extra_kargs if extra_kargs else "")
    cmd = ["qemu-system-x86_64", *qemu_accel(), "-m", "1024", "-smp", "1",
           "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
           "-kernel", str(boot_file(sysroot, entry.linux)),
           "-initrd", str(boot_file(sysroot, entry.initrd)),
           "-append", kargs,
           "-drive", f"file={image},format=raw,if=virtio"]
    log(f"booting '{entry.title}' ({kargs})")
    console_log = image.with_suffix(".console")
    with open(console_log, "w") as out:
        try:
            subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=BOOT_TIMEOUT)
            timed_out = ""
        except subprocess.TimeoutExpired:
            timed_out = f"\n(stopped after {BOOT_TIMEOUT} s)"
    console = console_log.read_text(errors="replace") + timed_out
    facts = {}
    for line in console.splitlines():
        match = re.match(r"BOOTTEST ([\w-]+)=(.*)", line.strip())
        if match:
            facts[match.group(1)] = match.group(2).strip()
    if "end" not in facts:
        tail = "\n".join(console.splitlines()[-40:])
        facts["console-tail"] = tail
    return facts


def check(name: str, facts: dict[str, str], expect: dict[str, str]) -> list[str]:
    """What differs between what booted and what was expected, one line each."""
    if "end" not in facts:
        return [f"{name}: the system did not finish booting; console:\n"
                f"{facts.get('console-tail', '')}"]
    return [f"{name}: expected {key}={want}, booted {key}={facts.get(key)}"
            for key, want in expect.items() if facts.get(key) != want]


# --- The test ------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rostree", default=str(ROOT / "target" / "debug" / "rostree"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        log("must run as root (debootstrap, trees owned by root, images of them)")
        return 1
    rostree = Path(args.rostree).resolve()
    static = Path(output([ROOT / "packaging" / "build-static.sh"]).strip())
    prepare_root = static / "rostree-prepare-root"
    upstream_prepare_root = unpacked("ostree-boot") / "usr" / "lib" / "ostree" / \
        "ostree-prepare-root"
    k = kernel()
    base = minbase()
    work = Path(tempfile.mkdtemp(prefix="rostree-boot-", dir=CACHE))
    failures: list[str] = []
    try:
        failures = scenario(work, rostree, k, base, prepare_root, upstream_prepare_root)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            for deployment in work.glob("*/ostree/deploy/*/deploy/*"):
                subprocess.run(["chattr", "-i", str(deployment)], capture_output=True)
            shutil.rmtree(work)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    if failures:
        return 1
    log("every boot check passed")
    return 0


def scenario(work: Path, rostree: Path, k: Kernel, base: Path, prepare_root: Path,
             upstream_prepare_root: Path) -> list[str]:
    failures = []
    tree = work / "tree"
    sysroot = work / "rostree-sysroot"
    repo = sysroot / "ostree" / "repo"
    sysroot.mkdir()
    run([rostree, "admin", "init-fs", sysroot])
    run([rostree, "admin", f"--sysroot={sysroot}", "os-init", STATEROOT])
    karg_opts = [f"--karg={a}" for a in KARGS]

    commits = {}
    for version in ["v1", "v2"]:
        initrd = initramfs(k, prepare_root, upstream_prepare_root, version)
        make_tree(base, tree, k, initrd, version)
        run([rostree, f"--repo={repo}", "commit", f"--branch={REF}",
             f"--subject=boot test {version}", f"--tree=dir={tree}"],
            stdout=subprocess.DEVNULL)
        commits[version] = output([rostree, f"--repo={repo}", "rev-parse", REF]).strip()
        if version == "v1":
            run([rostree, "admin", f"--sysroot={sysroot}", "deploy", f"--os={STATEROOT}",
                 *karg_opts, REF])
            # A local change under v1, which the 3-way merge must carry into v2.
            (sysroot / "ostree" / "deploy" / STATEROOT / "deploy" / f"{commits['v1']}.0" /
             "etc" / "boottest-local").write_text("local\n")
        else:
            run([rostree, "admin", f"--sysroot={sysroot}", "deploy", f"--os={STATEROOT}",
                 REF])
    run([rostree, "admin", f"--sysroot={sysroot}", "status"])

    entries = read_entries(sysroot)
    if len(entries) != 2:
        return [f"expected 2 boot entries, found {len(entries)}"]
    default, rollback = entries
    image = work / "rostree.img"
    make_image(sysroot, image)
    booted = {"usr": "ro", "etc": "rw", "booted-marker": "yes", "sysroot": "yes",
              "sysroot-writable": "yes", "ro-stamp": "no"}
    expect_default = {**booted, "version": "v2", "etc-default": "v2", "etc-local": "local"}

    facts = boot(sysroot, default, image)
    failures += check("default entry", facts,
                      {**expect_default, "var-before": "0", "cmdline": default.options})
    facts_rollback = boot(sysroot, rollback, image)
    failures += check("rollback entry", facts_rollback,
                      {**booted, "version": "v1", "etc-default": "v1", "etc-local": "local",
                       "var-before": "1", "cmdline": rollback.options})
    # The test of the test: the rollback's report against the default's expectations.
    if "end" in facts_rollback and not check("swapped", facts_rollback, expect_default):
        failures.append("the checks accept the rollback deployment as the default one")
    facts = boot(sysroot, default, image, "boottest.prepare=ostree")
    failures += check("default entry with upstream's ostree-prepare-root", facts,
                      {**expect_default, "var-before": "2",
                       "prepare": "/usr/lib/ostree/ostree-prepare-root"})
    # prepare-root.conf: the physical root read-only (its stamp left for rostree-remount), /etc
    # an overlay of the defaults whose changes are gone at the next boot, /var still writable.
    facts = boot(sysroot, default, image, "boottest.conf=readonly-transient")
    failures += check("default entry, sysroot.readonly and etc.transient", facts,
                      {**expect_default, "var-before": "3", "etc-local": "none",
                       "sysroot-writable": "no", "ro-stamp": "yes"})

    # A sysroot deployed by upstream, booted with rostree-prepare-root.
    upstream_sysroot = work / "upstream-sysroot"
    upstream_sysroot.mkdir()
    run(["ostree", "admin", "init-fs", upstream_sysroot])
    run(["ostree", "admin", f"--sysroot={upstream_sysroot}", "os-init", STATEROOT])
    run(["ostree", f"--repo={upstream_sysroot}/ostree/repo", "pull-local", repo, REF],
        stdout=subprocess.DEVNULL)
    run(["ostree", "admin", f"--sysroot={upstream_sysroot}", "deploy", f"--os={STATEROOT}",
         *karg_opts, REF])
    upstream_entries = read_entries(upstream_sysroot)
    upstream_image = work / "upstream.img"
    make_image(upstream_sysroot, upstream_image)
    facts = boot(upstream_sysroot, upstream_entries[0], upstream_image)
    failures += check("upstream's deployment with rostree-prepare-root", facts,
                      {**booted, "version": "v2", "etc-default": "v2", "etc-local": "none",
                       "var-before": "0", "prepare": "/usr/lib/rostree/rostree-prepare-root"})

    # Undeploying the rollback takes its entry, deployment and kernel away.
    rollback_boot_dir = boot_file(sysroot, rollback.linux).parent
    run([rostree, "admin", f"--sysroot={sysroot}", "undeploy", "1"])
    left = read_entries(sysroot)
    if [deployment_of(sysroot, e) for e in left] != [f"{commits['v2']}.0"]:
        failures.append(f"after undeploy: expected only v2's entry, found {left}")
    elif not boot_file(sysroot, left[0].linux).exists():
        failures.append("after undeploy: v2's kernel is gone")
    if (sysroot / "ostree" / "deploy" / STATEROOT / "deploy" / f"{commits['v1']}.0").exists():
        failures.append("after undeploy: v1's deployment is still there")
    if rollback_boot_dir.exists():
        failures.append(f"after undeploy: v1's kernel is still in {rollback_boot_dir}")
    return failures


def deployment_of(sysroot: Path, entry: Entry) -> str:
    """The name of the deployment directory an entry's `ostree=` leads to."""
    target = re.search(r"(?:^| )ostree=(\S+)", entry.options)
    if not target:
        return "(no ostree=)"
    return Path(os.path.realpath(sysroot / target.group(1).lstrip("/"))).name


if __name__ == "__main__":
    sys.exit(main())
