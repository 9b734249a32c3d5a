#!/usr/bin/env python3
"""Side-by-side benchmark: rostree vs upstream ostree.

Each row (operation) is run for both tools in alternation (rostree,
upstream, rostree, upstream, ...), BENCH_RUNS times each.  Every run gets a
fresh scratch directory, prepared outside the timed region and removed
afterwards.  Wall time and peak RSS of the timed command are measured with
wait4(2) on that one child.

Environment:
  ROSTREE      rostree binary (default: target/release/rostree under the
               repo root)
  OSTREE       upstream binary (default: ostree)
  DELAY_PROXY  the 50 ms proxy of the latency rows (default: target/release/delay-proxy)
  BENCH_RUNS   runs per tool and row (default: 5)
  BENCH_ONLY   only rows whose name contains this substring
  BENCH_CACHE  corpus/scratch dir (default: bench/cache)

Stdlib only.  See bench/README.md.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CACHE = Path(os.environ.get("BENCH_CACHE", BENCH_DIR / "cache")).resolve()
WORK = CACHE / "work"
FS_IMAGE = CACHE / "fs.img"
FS_MOUNT = CACHE / "mnt"
RESULTS = BENCH_DIR / "results"

TS = "2024-01-01T00:00:00Z"


# --------------------------------------------------------------------------
# Row definitions.
#
# Each row has `prepare` (a list of commands, untimed) and `run` (one
# command, timed).  Commands are strings formatted with:
#   {tool}   the tool binary (rostree or upstream, absolute path)
#   {repo}   a repo path inside this run's fresh scratch dir (not created)
#   {scratch} this run's scratch dir (created, empty)
#   {a} {b}  the corpus trees
# and split with shlex.  `checksum=True` means the run command prints a
# commit checksum on stdout that must be identical for both tools (the
# compatibility law: same tree + same timestamp/subject -> same checksum).
# To add a row, append a Row here.
# --------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    run: str
    prepare: list[str] = field(default_factory=list)
    checksum: bool = False
    # Uses {nginx} / {slow}: the served repo of tree b, directly and through the proxy.
    server: bool = False
    # At most this many runs per tool (long rows).
    max_runs: int | None = None
    # Run the timed command in a memory cgroup limited to this many MiB.
    memory_limit_mib: int | None = None
    # After the timed command, measure the bytes of the files under this path (template):
    # a size both tools' outputs are compared by (a static delta's, say).
    size_of: str | None = None


def commit(tree: str, branch: str, subject: str) -> str:
    return (f"{{tool}} --repo={{repo}} commit -b {branch} "
            f"--tree=dir={{{tree}}} --timestamp={TS} -s {subject}")


INIT_ARCHIVE = "{tool} --repo={repo} init --mode=archive"
INIT_BARE = "{tool} --repo={repo} init --mode=bare"
INIT_BARE_USER = "{tool} --repo={repo} init --mode=bare-user"


def remote_add(url: str) -> str:
    return f"{{tool}} --repo={{repo}} remote add --no-gpg-verify o {url}"

ROWS: list[Row] = [
    Row("commit a (archive)",
        prepare=[INIT_ARCHIVE],
        run=commit("a", "a", "a"),
        checksum=True),
    Row("commit b on top (archive)",
        prepare=[INIT_ARCHIVE, commit("a", "a", "a")],
        run=commit("b", "a", "b"),
        checksum=True),
    Row("commit a (bare)",
        prepare=[INIT_BARE],
        run=commit("a", "a", "a"),
        checksum=True),
    Row("fsck of a and b (archive)",
        prepare=[INIT_ARCHIVE, commit("a", "a", "a"), commit("b", "b", "b")],
        run="{tool} --repo={repo} fsck"),
    Row("prune after deleting ref a (archive)",
        prepare=[INIT_ARCHIVE, commit("a", "a", "a"), commit("b", "b", "b"),
                 "{tool} --repo={repo} refs --delete a"],
        run="{tool} --repo={repo} prune --refs-only"),
    Row("checkout a (bare)",
        prepare=[INIT_BARE, commit("a", "a", "a")],
        run="{tool} --repo={repo} checkout a {scratch}/co"),
    Row("pull b from nginx (archive to bare-user)",
        prepare=[INIT_BARE_USER, remote_add("{nginx}")],
        run="{tool} --repo={repo} pull o b",
        server=True),
    Row("pull b via 50 ms RTT proxy (archive to bare-user)",
        prepare=[INIT_BARE_USER, remote_add("{slow}")],
        run="{tool} --repo={repo} pull o b",
        server=True, max_runs=3),
    Row("checkout b (bare)",
        prepare=[INIT_BARE, commit("b", "b", "b")],
        run="{tool} --repo={repo} checkout b {scratch}/co"),
    # One 2 GiB file of random data, each tool in a 512 MiB memory cgroup: memory must
    # not grow with a file's size.
    Row("commit 2 GiB file (archive, 512 MiB cgroup)",
        prepare=[INIT_ARCHIVE],
        run=commit("big", "big", "big"),
        checksum=True, max_runs=1, memory_limit_mib=512),
    Row("pull 2 GiB file from nginx (archive to bare-user, 512 MiB cgroup)",
        prepare=[INIT_BARE_USER, remote_add("{nginx_big}")],
        run="{tool} --repo={repo} pull o big",
        server=True, max_runs=1, memory_limit_mib=512),
    Row("fsck 2 GiB file (bare-user, 512 MiB cgroup)",
        prepare=[INIT_BARE_USER, remote_add("{nginx_big}"), "{tool} --repo={repo} pull o big"],
        run="{tool} --repo={repo} fsck",
        server=True, max_runs=1, memory_limit_mib=512),
    Row("checkout 2 GiB file (archive, 512 MiB cgroup)",
        prepare=[INIT_ARCHIVE, "{tool} --repo={repo} pull-local {served_big} big"],
        run="{tool} --repo={repo} checkout -U big {scratch}/co",
        server=True, max_runs=1, memory_limit_mib=512),
    Row("export 2 GiB file (archive, 512 MiB cgroup)",
        prepare=[INIT_ARCHIVE, "{tool} --repo={repo} pull-local {served_big} big"],
        run="{tool} --repo={repo} export --output={scratch}/big.tar big",
        server=True, max_runs=1, memory_limit_mib=512),
    # Static deltas from a to b ({served_delta}: upstream's commits of a, then b on top, on
    # `main`, with upstream's delta between them and a summary listing it).
    Row("static-delta generate a to b (archive)",
        prepare=[INIT_ARCHIVE, "{tool} --repo={repo} pull-local --depth=1 {served_delta} main"],
        run="{tool} --repo={repo} static-delta generate --from={delta_from} --to={delta_to}",
        server=True, max_runs=1, size_of="{repo}/deltas"),
    Row("static-delta apply-offline a to b (upstream's delta, into bare-user)",
        prepare=[INIT_BARE_USER, "{tool} --repo={repo} pull-local {served_delta} {delta_from}"],
        run="{tool} --repo={repo} static-delta apply-offline {delta_dir}",
        server=True, max_runs=3),
    Row("pull b via static delta from nginx (a held, archive to bare-user)",
        prepare=[INIT_BARE_USER, remote_add("{nginx_delta}"),
                 "{tool} --repo={repo} pull o main@{delta_from}"],
        run="{tool} --repo={repo} pull --require-static-deltas o main",
        server=True, max_runs=3),
    Row("pull b via static delta, 50 ms RTT proxy (a held, archive to bare-user)",
        prepare=[INIT_BARE_USER, remote_add("{slow_delta}"),
                 "{tool} --repo={repo} pull o main@{delta_from}"],
        run="{tool} --repo={repo} pull --require-static-deltas o main",
        server=True, max_runs=3),
]

# Deployments: tree b made an OS tree ({served_os}: /etc moved to /usr/etc, a kernel and
# initramfs in /usr/lib/modules) committed by upstream as `os`, and as `os2` with one file
# changed. Each tool makes its own sysroot (init-fs, os-init, pull-local into its bare
# system repo), untimed; deployment roots are left mutable so the scratch dir can go.
DEPLOY = "env OSTREE_SYSROOT_DEBUG=mutable-deployments {tool} admin --sysroot={scratch}/s deploy --os=bench"
SYSROOT = ["mkdir {scratch}/s", "{tool} admin init-fs --modern {scratch}/s",
           "{tool} admin --sysroot={scratch}/s os-init bench",
           "{tool} --repo={scratch}/s/ostree/repo pull-local {served_os} os os2"]
# `admin upgrade` from tree a to tree b, both made OS trees (see DEPLOY), from nginx: each
# tool's sysroot has a deployed (pulled with `o:os@A`, untimed), then upgrades.
UPGRADE_SYSROOT = ["mkdir {scratch}/s", "{tool} admin init-fs --modern {scratch}/s",
                   "{tool} admin --sysroot={scratch}/s os-init bench",
                   "{tool} --repo={scratch}/s/ostree/repo remote add --no-gpg-verify o {nginx_upgrade}",
                   "{tool} --repo={scratch}/s/ostree/repo pull o os@{upgrade_from}",
                   DEPLOY + " o:os"]
ROWS += [
    Row("deploy b into a fresh sysroot (bare system repo)",
        prepare=SYSROOT,
        run=DEPLOY + " os",
        server=True),
    Row("deploy b again with one file changed",
        prepare=SYSROOT + [DEPLOY + " os"],
        run=DEPLOY + " os2",
        server=True),
    Row("admin upgrade a to b from nginx (bare system repo)",
        prepare=UPGRADE_SYSROOT,
        run="env OSTREE_SYSROOT_DEBUG=mutable-deployments {tool} admin --sysroot={scratch}/s upgrade --os=bench",
        server=True),
]

# The repository the pull rows fetch from: tree b committed by upstream into an archive
# repo with a summary, on the host disk, served by nginx on 127.0.0.1 and, for the
# latency row, through delay-proxy (25 ms each way; crates/rostree-testutil/src/bin).
SERVED = CACHE / "served-b"
# Tree big (one 2 GiB file), committed by upstream into an archive repo the same way.
SERVED_BIG = CACHE / "served-big"
# Trees a, then b on top, committed by upstream on `main`, with upstream's static delta
# from a to b (every file in its parts) and a summary listing it.
SERVED_DELTA = CACHE / "served-delta"
SERVED_OS = CACHE / "served-os"
SERVED_UPGRADE = CACHE / "served-upgrade"
NGINX_DIR = CACHE / "nginx"
# The memory cgroup (v1 or v2) the rows with a memory limit run in.
CGROUP_V1 = Path("/sys/fs/cgroup/memory/rostree-bench")
CGROUP_V2 = Path("/sys/fs/cgroup/rostree-bench")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """nginx and the delaying proxy, for the rows that pull."""

    def __init__(self, ostree: str, proxy: str) -> None:
        for tree, served in (("b", SERVED), ("big", SERVED_BIG)):
            stamp = CACHE / f"served-{tree}.stamp"
            if not stamp.exists():
                shutil.rmtree(served, ignore_errors=True)
                run_untimed([ostree, f"--repo={served}", "init", "--mode=archive"])
                run_untimed(expand(commit(tree, tree, tree), tool=ostree, repo=str(served),
                                   **{tree: str(CACHE / tree)}))
                run_untimed([ostree, f"--repo={served}", "summary", "-u"])
                stamp.touch()
        self.delta = serve_delta(ostree)
        self.os = serve_os(ostree)
        self.upgrade = serve_upgrade(ostree)
        shutil.rmtree(NGINX_DIR, ignore_errors=True)
        NGINX_DIR.mkdir(parents=True)
        port = free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        (NGINX_DIR / "nginx.conf").write_text(
            f"{user}\ndaemon off;\nworker_processes 2;\npid {NGINX_DIR}/nginx.pid;\n"
            f"error_log {NGINX_DIR}/error.log;\nevents {{ worker_connections 4096; }}\n"
            f"http {{ access_log off; client_body_temp_path {NGINX_DIR}/body;\n"
            f"proxy_temp_path {NGINX_DIR}/proxy; fastcgi_temp_path {NGINX_DIR}/fastcgi;\n"
            f"uwsgi_temp_path {NGINX_DIR}/uwsgi; scgi_temp_path {NGINX_DIR}/scgi;\n"
            f"server {{ listen 127.0.0.1:{port}; root {CACHE}; }} }}\n")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = subprocess.Popen(
            [nginx, "-p", str(NGINX_DIR), "-c", str(NGINX_DIR / "nginx.conf")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.proxy = subprocess.Popen(
            [proxy, "0", str(port), "25"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.proxy.stdout.readline().split() if self.proxy.stdout else []
        if len(ready) != 2 or ready[0] != "ready":
            die("the delaying proxy did not start")
        slow_port = int(ready[1])
        self.urls = {"nginx": f"http://127.0.0.1:{port}/{SERVED.name}/",
                     "slow": f"http://127.0.0.1:{slow_port}/{SERVED.name}/",
                     "nginx_big": f"http://127.0.0.1:{port}/{SERVED_BIG.name}/",
                     "nginx_delta": f"http://127.0.0.1:{port}/{SERVED_DELTA.name}/",
                     "slow_delta": f"http://127.0.0.1:{slow_port}/{SERVED_DELTA.name}/",
                     "nginx_upgrade": f"http://127.0.0.1:{port}/{SERVED_UPGRADE.name}/",
                     **self.delta, **self.os, **self.upgrade}
        deadline = time.monotonic() + 10
        import socket
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    die("nginx did not start (apt-get install nginx)")
                time.sleep(0.05)

    def stop(self) -> None:
        # SIGTERM, not SIGKILL, for nginx: its master then stops the workers, which a
        # killed master would leave running.
        self.proxy.kill()
        self.proxy.wait()
        self.nginx.terminate()
        self.nginx.wait()


# --------------------------------------------------------------------------


def serve_delta(ostree: str) -> dict[str, str]:
    """Makes SERVED_DELTA once (upstream's delta generation takes minutes); returns the
    substitutions of the delta rows."""
    stamp = CACHE / "served-delta.stamp"
    if not stamp.exists():
        shutil.rmtree(SERVED_DELTA, ignore_errors=True)
        run_untimed([ostree, f"--repo={SERVED_DELTA}", "init", "--mode=archive"])
        for tree in ("a", "b"):
            run_untimed(expand(commit(tree, "main", tree), tool=ostree,
                               repo=str(SERVED_DELTA), **{tree: str(CACHE / tree)}))
        # Every file in the parts (no fallbacks): apply-offline needs the delta whole.
        run_untimed([ostree, f"--repo={SERVED_DELTA}", "static-delta", "generate",
                     "--min-fallback-size=0", "main"])
        run_untimed([ostree, f"--repo={SERVED_DELTA}", "summary", "-u"])
        stamp.touch()

    def rev(r: str) -> str:
        return subprocess.run([ostree, f"--repo={SERVED_DELTA}", "rev-parse", r],
                              check=True, capture_output=True, text=True).stdout.strip()

    superblocks = list((SERVED_DELTA / "deltas").glob("*/*/superblock"))
    if len(superblocks) != 1:
        die(f"{SERVED_DELTA}: expected one static delta, found {len(superblocks)}")
    return {"served_delta": str(SERVED_DELTA), "delta_from": rev("main^"),
            "delta_to": rev("main"), "delta_dir": str(superblocks[0].parent)}


def serve_os(ostree: str) -> dict[str, str]:
    """Makes SERVED_OS once: tree b as an OS tree (see DEPLOY) on `os`, and `os2`."""
    stamp = CACHE / "served-os.stamp"
    if not stamp.exists():
        tree = CACHE / "os-tree"
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(SERVED_OS, ignore_errors=True)
        run_untimed(["cp", "-a", "--reflink=auto", str(CACHE / "b"), str(tree)])
        (tree / "etc").rename(tree / "usr" / "etc")
        modules = tree / "usr/lib/modules/6.1.0-bench"
        modules.mkdir(parents=True, exist_ok=True)
        # A kernel and an initramfs of Debian's sizes (their bytes are hashed into the
        # boot checksum and linked into /boot).
        (modules / "vmlinuz").write_bytes(os.urandom(8 << 20))
        (modules / "initramfs.img").write_bytes(os.urandom(32 << 20))
        run_untimed([ostree, f"--repo={SERVED_OS}", "init", "--mode=archive"])
        run_untimed(expand(commit("os", "os", "os"), tool=ostree, repo=str(SERVED_OS),
                           os=str(tree)))
        (tree / "usr/share/bench-changed").write_text("the one changed file\n")
        run_untimed(expand(commit("os", "os2", "os2"), tool=ostree, repo=str(SERVED_OS),
                           os=str(tree)))
        shutil.rmtree(tree)
        stamp.touch()
    return {"served_os": str(SERVED_OS)}


def os_tree(tree: str, dest: Path) -> None:
    """Tree `tree` of the corpus made an OS tree at `dest` (see DEPLOY)."""
    shutil.rmtree(dest, ignore_errors=True)
    run_untimed(["cp", "-a", "--reflink=auto", str(CACHE / tree), str(dest)])
    (dest / "etc").rename(dest / "usr" / "etc")
    modules = dest / "usr/lib/modules/6.1.0-bench"
    modules.mkdir(parents=True, exist_ok=True)
    # A kernel and an initramfs of Debian's sizes, the same in every tree.
    for name, size in (("vmlinuz", 8 << 20), ("initramfs.img", 32 << 20)):
        data = bytes(range(256)) * (size // 256)
        (modules / name).write_bytes(data)


def serve_upgrade(ostree: str) -> dict[str, str]:
    """Makes SERVED_UPGRADE once: trees a, then b, as OS trees on `os`, with a summary."""
    stamp = CACHE / "served-upgrade.stamp"
    if not stamp.exists():
        shutil.rmtree(SERVED_UPGRADE, ignore_errors=True)
        run_untimed([ostree, f"--repo={SERVED_UPGRADE}", "init", "--mode=archive"])
        tree = CACHE / "upgrade-tree"
        for name in ("a", "b"):
            os_tree(name, tree)
            run_untimed(expand(commit("os", "os", name), tool=ostree,
                               repo=str(SERVED_UPGRADE), os=str(tree)))
        shutil.rmtree(tree)
        run_untimed([ostree, f"--repo={SERVED_UPGRADE}", "summary", "-u"])
        stamp.touch()
    parent = subprocess.run([ostree, f"--repo={SERVED_UPGRADE}", "rev-parse", "os^"],
                            check=True, capture_output=True, text=True).stdout.strip()
    return {"upgrade_from": parent}


def tree_bytes(path: Path) -> int:
    """The bytes of the regular files under path."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def die(msg: str) -> None:
    print(f"run: {msg}", file=sys.stderr)
    sys.exit(1)


def resolve_tool(value: str) -> str:
    """Absolute path of a binary given as a path or a bare command name."""
    if os.sep in value:
        p = Path(value)
        if not p.is_absolute():
            p = REPO_ROOT / p
        if not os.access(p, os.X_OK):
            die(f"not an executable: {p}")
        return str(p)
    found = shutil.which(value)
    if not found:
        die(f"not found on PATH: {value}")
    return found


def expand(template: str, **kw: str) -> list[str]:
    return [arg.format(**kw) for arg in shlex.split(template)]


def run_untimed(argv: list[str]) -> None:
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        die(f"prepare step failed ({p.returncode}): {shlex.join(argv)}\n"
            f"{p.stderr}")


def memory_cgroup(limit_mib: int) -> Path:
    """A memory cgroup limited to limit_mib, made fresh; returns its tasks/procs file."""
    for group, limit_file, procs in ((CGROUP_V2, "memory.max", "cgroup.procs"),
                                     (CGROUP_V1, "memory.limit_in_bytes", "tasks")):
        if not group.parent.is_dir() or not (group.parent / "cgroup.procs").exists():
            continue
        if group == CGROUP_V2 and "memory" not in (
                group.parent / "cgroup.controllers").read_text(errors="replace"):
            continue
        try:
            group.mkdir(exist_ok=True)
            (group / limit_file).write_text(str(limit_mib << 20))
            if group == CGROUP_V1:
                # Swap would hide an overrun: none.
                swap = group / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(limit_mib << 20))
            return group / procs
        except OSError:
            continue
    die("no memory cgroup available for the rows with a memory limit (run as root)")
    raise AssertionError


def run_timed(argv: list[str], cgroup: Path | None = None
              ) -> tuple[float, float, str, float]:
    """Run argv (in the cgroup whose procs file is given); return (wall s, peak RSS MiB,
    stdout, user+sys CPU s)."""

    def enter_cgroup() -> None:
        if cgroup is not None:
            cgroup.write_text(str(os.getpid()))

    with open(WORK / ".stdout", "w+b") as out, \
            open(WORK / ".stderr", "w+b") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=err, preexec_fn=enter_cgroup)
        # wait4 gives this child's own rusage (including its reaped
        # descendants), unlike getrusage(RUSAGE_CHILDREN).
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read().decode(errors="replace")
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if p.returncode != 0:
        die(f"timed command failed ({p.returncode}): {shlex.join(argv)}\n"
            f"{stderr}")
    return (wall, ru.ru_maxrss / 1024.0, stdout.strip(),
            ru.ru_utime + ru.ru_stime)


def warm_up() -> None:
    """One untimed full read of the corpus so both tools see a warm cache.

    (GNU tar skips reading file data when the archive is /dev/null, so pipe
    through cat.)"""
    t0 = time.perf_counter()
    subprocess.run(f"tar -C {shlex.quote(str(CACHE))} -cf - a b big | cat >/dev/null",
                   shell=True, check=True)
    print(f"warm-up read of corpus: {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)


def mount_fresh_ext4() -> Path | None:
    """Mounts a freshly made ext4 image (default mkfs options, so journaled) and returns the
    scratch dir on it, or None where loop mounts are not possible.

    Repos are written there, not on the host disk, so both tools see the same clean,
    ordinary filesystem: this VM's own disk has no journal, which makes ext4 check every
    candidate inode for recent deletion, and its cost then depends on what earlier runs
    deleted. BENCH_FS=host keeps the scratch dir on the host disk instead."""
    if os.environ.get("BENCH_FS") == "host" or os.geteuid() != 0:
        return None
    subprocess.run(["umount", str(FS_MOUNT)], capture_output=True)
    FS_IMAGE.unlink(missing_ok=True)
    with open(FS_IMAGE, "wb") as f:
        f.truncate(8 << 30)
    FS_MOUNT.mkdir(exist_ok=True)
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", str(FS_IMAGE)], check=True)
        subprocess.run(["mount", "-o", "loop", str(FS_IMAGE), str(FS_MOUNT)], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"fresh ext4 not available ({e}); using the host disk", file=sys.stderr)
        FS_IMAGE.unlink(missing_ok=True)
        return None
    return FS_MOUNT / "work"


def unmount_fresh_ext4() -> None:
    subprocess.run(["umount", str(FS_MOUNT)], capture_output=True)
    FS_IMAGE.unlink(missing_ok=True)


def tool_version(tool: str) -> str:
    try:
        p = subprocess.run([tool, "--version"], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    first = p.stdout.strip().splitlines()
    return first[0] if first else "?"


def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    if runs < 1:
        die("BENCH_RUNS must be >= 1")
    only = os.environ.get("BENCH_ONLY", "")
    rostree = resolve_tool(os.environ.get("ROSTREE", "target/release/rostree"))
    ostree = resolve_tool(os.environ.get("OSTREE", "ostree"))
    tools = [("rostree", rostree), ("upstream", ostree)]

    for t in ("a", "b", "big"):
        if not (CACHE / f"{t}.stamp").exists():
            die(f"corpus tree {t} missing: run bench/corpus.sh first")

    rows = [r for r in ROWS if only in r.name]
    if not rows:
        die(f"no row matches BENCH_ONLY={only!r}")

    global WORK
    fresh = mount_fresh_ext4()
    fs_note = "a fresh ext4 image (loop-mounted, default mkfs options)"
    if fresh is not None:
        WORK = fresh
    else:
        fs_note = "the host disk"
    servers = None
    if any(r.server for r in rows):
        # The delaying proxy, which `cargo build --release` builds (crates/rostree-testutil).
        proxy = resolve_tool(os.environ.get("DELAY_PROXY", "target/release/delay-proxy"))
        servers = Servers(ostree, proxy)
    try:
        run_rows(rows, runs, tools, fs_note, servers.urls if servers else {})
    finally:
        if servers is not None:
            servers.stop()
        if fresh is not None:
            unmount_fresh_ext4()


def run_rows(rows: list[Row], runs: int, tools: list[tuple[str, str]], fs_note: str,
             urls: dict[str, str]) -> None:
    rostree, ostree = tools[0][1], tools[1][1]
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    warm_up()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    os.sync()

    print(f"rostree:  {rostree}", file=sys.stderr)
    print(f"upstream: {ostree}", file=sys.stderr)

    # results[row][tool] = list of (wall, rss, stdout, cpu)
    results: dict[str, dict[str, list[tuple[float, float, str, float]]]] = {}
    # sizes[row][tool] = bytes of row.size_of after each run
    sizes: dict[str, dict[str, list[int]]] = {}
    for row in rows:
        results[row.name] = {label: [] for label, _ in tools}
        sizes[row.name] = {label: [] for label, _ in tools}
        for i in range(min(runs, row.max_runs or runs)):
            for label, tool in tools:
                scratch = WORK / f"{label}-{i}"
                scratch.mkdir()
                kw = dict(tool=tool, repo=str(scratch / "repo"),
                          scratch=str(scratch), a=str(CACHE / "a"),
                          b=str(CACHE / "b"), big=str(CACHE / "big"),
                          served_big=str(SERVED_BIG), **urls)
                for step in row.prepare:
                    run_untimed(expand(step, **kw))
                # Flush dirty pages left by prepare/earlier runs, so the
                # timed command (upstream syncfs()s its repo) doesn't pay
                # for them.
                os.sync()
                cgroup = memory_cgroup(row.memory_limit_mib) if row.memory_limit_mib else None
                res = run_timed(expand(row.run, **kw), cgroup)
                results[row.name][label].append(res)
                if row.size_of:
                    sizes[row.name][label].append(tree_bytes(Path(row.size_of.format(**kw))))
                wall, rss, _, cpu = res
                print(f"  {row.name:<28} {label:<8} run {i + 1}/{min(runs, row.max_runs or runs)}: "
                      f"{wall:8.3f}s wall {cpu:8.3f}s cpu {rss:8.1f} MiB",
                      file=sys.stderr)
                shutil.rmtree(scratch)
                os.sync()
    shutil.rmtree(WORK, ignore_errors=True)

    lines = [
        "| operation | rostree median s | upstream median s | ratio "
        "| rostree peak RSS MiB | upstream peak RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    detail = [
        "| operation | tool | wall min s | wall max s | median user+sys CPU s |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    warnings: list[str] = []
    for row in rows:
        for label, _ in tools:
            xs = results[row.name][label]
            detail.append(
                f"| {row.name} | {label} | {min(x[0] for x in xs):.3f} "
                f"| {max(x[0] for x in xs):.3f} "
                f"| {statistics.median(x[3] for x in xs):.3f} |")
        r, u = results[row.name]["rostree"], results[row.name]["upstream"]
        rt = statistics.median(x[0] for x in r)
        ut = statistics.median(x[0] for x in u)
        rr = max(x[1] for x in r)
        ur = max(x[1] for x in u)
        ratio = rt / ut if ut > 0 else float("inf")
        lines.append(f"| {row.name} | {rt:.3f} | {ut:.3f} | {ratio:.2f} "
                     f"| {rr:.1f} | {ur:.1f} |")
        if row.checksum:
            rsums = {x[2] for x in r}
            usums = {x[2] for x in u}
            if len(rsums) != 1 or len(usums) != 1 or rsums != usums:
                warnings.append(
                    f"WARNING: {row.name}: commit checksums differ: "
                    f"rostree {sorted(rsums)} vs upstream {sorted(usums)}")
            else:
                print(f"checksum ok: {row.name}: {next(iter(rsums))}",
                      file=sys.stderr)

    sized = [row for row in rows if row.size_of]
    if sized:
        lines += ["", "| output | rostree bytes | upstream bytes | ratio |",
                  "| --- | ---: | ---: | ---: |"]
        for row in sized:
            rs = statistics.median(sizes[row.name]["rostree"])
            us = statistics.median(sizes[row.name]["upstream"])
            ratio = rs / us if us > 0 else float("inf")
            lines.append(f"| {row.name}: {row.size_of.replace('{repo}/', '')} "
                         f"| {rs:.0f} | {us:.0f} | {ratio:.2f} |")
    table = "\n".join(lines)
    sys.stderr.flush()
    print(table)
    for w in warnings:
        print(w)
    sys.stdout.flush()

    now = datetime.datetime.now(datetime.timezone.utc)
    header = [
        f"Benchmark run {now:%Y-%m-%d %H:%M UTC}: {runs} run(s) per tool "
        f"and row, medians of wall time; peak RSS is the max over runs; "
        f"ratio = rostree / upstream (below 1 means rostree is faster).",
        "",
        f"- rostree: `{rostree}` ({tool_version(rostree)})",
        f"- upstream: `{ostree}` ({tool_version(ostree)})",
        f"- machine: {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, load average before the runs "
        f"{load_before}",
        f"- repos written on {fs_note}",
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    body = "\n".join(header) + "\n" + table + "\n"
    if warnings:
        body += "\n" + "\n".join(warnings) + "\n"
    body += ("\nPer-run spread and CPU time (wall time on this shared VM is "
             "noisy, mostly from disk I/O; CPU time is usually steadier):\n\n"
             + "\n".join(detail) + "\n")
    (RESULTS / "latest.md").write_text(body)
    print(f"\nwritten: {RESULTS / 'latest.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
