"""The Python bindings end to end: commit (the checksum upstream makes), serve, pull with
progress and cancellation, deploy into a scratch sysroot that upstream reads, errors as
exceptions. Needs upstream `ostree` and the `rostree` binary (ROSTREE, default
target/debug/rostree of this checkout)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

import rostree

ROOT = Path(__file__).resolve().parents[3]
ROSTREE_BIN = os.environ.get("ROSTREE", str(ROOT / "target" / "debug" / "rostree"))
KERNEL = "usr/lib/modules/6.1.0-test/"


def os_tree(path: Path, version: str) -> Path:
    """An OS tree as ostree deploys it: /etc defaults in /usr/etc, a kernel, an initramfs."""
    for rel, text in {
        "usr/etc/os-release": f"ID=test\nNAME=Test\nVERSION={version}\n",
        "usr/bin/hello": "#!/bin/sh\necho hello\n",
        KERNEL + "vmlinuz": "a kernel\n",
        KERNEL + "initramfs.img": "an initramfs\n",
    }.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    (path / "usr/bin/hello").chmod(0o755)
    return path


def system_repo_with_origin(sysroot_path: Path, url: str) -> rostree.Repo:
    """A new sysroot (stateroot "os") whose repository has the remote "origin" at url."""
    rostree.Sysroot.init(sysroot_path, "os")
    repo = rostree.Repo.open(sysroot_path / "ostree/repo")
    repo.remote_add("origin", url, gpg_verify=False)
    return repo


@pytest.fixture
def served(tmp_path: Path):
    """An archive repo with os/stable committed through the bindings, served by
    `rostree serve` on 127.0.0.1; yields (url, commit)."""
    repo = rostree.Repo.init(tmp_path / "served", mode="archive")
    commit = repo.commit(os_tree(tmp_path / "tree", "1"), branch="os/stable", subject="v1",
                         timestamp=1700000000)
    repo.update_summary()
    server = subprocess.Popen(
        [ROSTREE_BIN, f"--repo={repo.path}", "serve", "--address=127.0.0.1", "--port=0"],
        stdout=subprocess.PIPE, text=True)
    try:
        # The server prints its address once it listens.
        line = server.stdout.readline() if server.stdout else ""
        match = re.search(r"http://\S+", line)
        assert match, f"rostree serve printed {line!r}"
        yield match.group(0), commit, repo, tmp_path / "tree"
    finally:
        server.terminate()
        server.wait()


def test_commit_matches_upstream(tmp_path: Path) -> None:
    tree = os_tree(tmp_path / "tree", "1")
    repo = rostree.Repo.init(tmp_path / "repo", mode="archive")
    # Not in sorted order: the order given is the order upstream writes.
    commit = repo.commit(tree, branch="os/stable", subject="Subject", body="Body",
                         timestamp=1700000000, metadata={"version": "1", "a.b": "c"})
    subprocess.run(["ostree", f"--repo={tmp_path / 'up'}", "init", "--mode=archive"],
                   check=True)
    upstream = subprocess.run(
        ["ostree", f"--repo={tmp_path / 'up'}", "commit", "--branch=os/stable",
         "--subject=Subject", "--body=Body", "--timestamp=@1700000000",
         "--add-metadata-string=version=1", "--add-metadata-string=a.b=c", str(tree)],
        check=True, capture_output=True, text=True).stdout.strip()
    assert commit == upstream
    assert repo.resolve_rev("os/stable") == commit
    assert repo.refs() == {"os/stable": commit}
    repo.fsck()
    repo.checkout("os/stable", tmp_path / "co", user_mode=True)
    assert (tmp_path / "co/usr/etc/os-release").read_text() == "ID=test\nNAME=Test\nVERSION=1\n"


def test_pull_with_progress_and_deploy(tmp_path: Path, served) -> None:
    url, commit, _, _ = served
    sysroot_path = tmp_path / "sysroot"
    repo = system_repo_with_origin(sysroot_path, url)
    calls: list[tuple[str | None, int, int, int]] = []
    repo.pull("origin", ["os/stable"], progress=lambda *a: calls.append(a))
    assert repo.resolve_rev("origin:os/stable") == commit
    done = [c[1] for c in calls]
    assert calls and done == sorted(done) and done[-1] == calls[-1][2] > 0

    sysroot = rostree.Sysroot(sysroot_path)
    assert sysroot.deployments == []
    deployment = sysroot.deploy("os", "origin:os/stable", kargs=["quiet", "root=/dev/vda"])
    assert (deployment.checksum, deployment.stateroot, deployment.serial) == (commit, "os", 0)
    assert not deployment.booted
    assert (Path(deployment.path) / "etc/os-release").exists()
    assert [d.checksum for d in sysroot.deployments] == [commit]
    # Upstream reads what the bindings wrote.
    status = subprocess.run(["ostree", "admin", f"--sysroot={sysroot_path}", "status"],
                            check=True, capture_output=True, text=True).stdout
    assert f"os {commit}.0" in status
    subprocess.run(["ostree", "fsck", f"--repo={sysroot_path / 'ostree/repo'}"],
                   check=True, capture_output=True)


def test_upgrade_and_rollback(tmp_path: Path, served) -> None:
    url, v1, served_repo, tree = served
    sysroot_path = tmp_path / "sysroot"
    system_repo = system_repo_with_origin(sysroot_path, url)
    system_repo.pull("origin", ["os/stable"])
    sysroot = rostree.Sysroot(sysroot_path)
    sysroot.deploy("os", "origin:os/stable")
    assert sysroot.upgrade("os") is False  # nothing new on the server

    v2 = served_repo.commit(os_tree(tree, "2"), branch="os/stable", subject="v2",
                            timestamp=1700000100)
    served_repo.update_summary()
    calls: list[tuple[str | None, int, int, int]] = []
    assert sysroot.upgrade("os", progress=lambda *a: calls.append(a)) is True
    assert calls
    assert [d.checksum for d in sysroot.deployments] == [v2, v1]
    assert (Path(sysroot.deployments[0].path) / "etc/os-release").read_text().endswith(
        "VERSION=2\n")
    # Rolling back: the previous deployment becomes the default again.
    sysroot.set_default(1)
    assert [d.checksum for d in sysroot.deployments] == [v1, v2]
    status = subprocess.run(["ostree", "admin", f"--sysroot={sysroot_path}", "status"],
                            check=True, capture_output=True, text=True).stdout
    assert status.index(v1) < status.index(v2)
    with pytest.raises(rostree.InvalidArgumentError):
        sysroot.set_default(5)
    # What `admin status --json` says of each (nothing is booted in a scratch sysroot).
    first, second = sysroot.deployments
    assert (first.index, second.index) == (0, 1)
    assert first.refspec == second.refspec == "origin:os/stable"
    assert first.version is None
    assert not any(d.booted or d.pending or d.rollback or d.staged or d.pinned
                   for d in sysroot.deployments)


def test_cancel_from_another_thread(tmp_path: Path, served) -> None:
    url, _, _, _ = served
    repo = rostree.Repo.init(tmp_path / "repo", mode="bare-user")
    repo.remote_add("origin", url, gpg_verify=False)
    cancellable = rostree.Cancellable()

    def progress(*_: object) -> None:
        # Another thread cancels while the pull runs; the pull then stops.
        if not cancellable.cancelled:
            canceller = threading.Thread(target=cancellable.cancel)
            canceller.start()
            canceller.join()

    with pytest.raises(rostree.CancelledError):
        repo.pull("origin", ["os/stable"], progress=progress, cancellable=cancellable)
    assert cancellable.cancelled


def test_callback_exception_stops_the_pull(tmp_path: Path, served) -> None:
    url, _, _, _ = served
    repo = rostree.Repo.init(tmp_path / "repo", mode="bare-user")
    repo.remote_add("origin", url, gpg_verify=False)

    def progress(*_: object) -> None:
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        repo.pull("origin", ["os/stable"], progress=progress)


def test_commits_trees_and_files_read_back(tmp_path: Path) -> None:
    tree = os_tree(tmp_path / "tree", "1")
    (tree / "usr/etc/hello-link").symlink_to("../bin/hello")
    repo = rostree.Repo.init(tmp_path / "repo", mode="archive")
    first = repo.commit(tree, branch="os/stable", subject="one", body="b", timestamp=7,
                        metadata={"version": "1.0"})
    commit = repo.read_commit("os/stable")
    assert (commit.checksum, commit.parent, commit.subject, commit.body) == (first, None, "one",
                                                                             "b")
    assert (commit.timestamp, commit.version) == (7, "1.0")
    second = repo.commit(tree, branch="os/stable", subject="two", timestamp=8)
    assert (repo.read_commit("os/stable").checksum, repo.read_commit(second).parent) == (
        second, first)

    # As `ostree ls -R` lists them, which upstream agrees with.
    entries = list(repo.walk("os/stable", recursive=True))
    listing = subprocess.run(
        ["ostree", f"--repo={repo.path}", "ls", "-R", "os/stable"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    upstream = [line.split()[-1] if " -> " not in line else line.split()[-3]
                for line in listing[1:]]
    assert [e.path for e in entries] == upstream
    by_path = {e.path: e for e in entries}
    hello = by_path["/usr/bin/hello"]
    assert (hello.kind, hello.mode, hello.size) == ("file", 0o755, 21)
    link = by_path["/usr/etc/hello-link"]
    assert (link.kind, link.symlink_target) == ("symlink", "../bin/hello")
    assert by_path["/usr"].kind == "directory"
    assert [e.path for e in repo.walk("os/stable", "/usr")] == [
        "/usr/bin", "/usr/etc", "/usr/lib"]

    # Files stream; symlinks are followed within the commit.
    with repo.open_file("os/stable", "/usr/etc/hello-link") as f:
        assert f.size == 21
        assert f.read(4) + f.read() == b"#!/bin/sh\necho hello\n"
        assert f.read() == b""
    assert f.closed
    with pytest.raises(ValueError):
        f.read()
    with pytest.raises(rostree.InvalidArgumentError):
        repo.open_file("os/stable", "/usr")
    with pytest.raises(rostree.NotFoundError):
        repo.open_file("os/stable", "/nothing")


def ed25519_keys(tmp_path: Path) -> tuple[str, str]:
    """A new ed25519 key pair as `ostree sign` takes it: base64 of seed and public key,
    and of the public key."""
    import base64
    der = tmp_path / "key.der"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-outform", "DER",
                    "-out", str(der)], check=True)
    public = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", str(der), "-pubout",
                             "-outform", "DER"], check=True, capture_output=True).stdout[-32:]
    seed = der.read_bytes()[-32:]
    return (base64.b64encode(seed + public).decode(), base64.b64encode(public).decode())


def test_signatures_deltas_and_prune(tmp_path: Path) -> None:
    tree = os_tree(tmp_path / "tree", "1")
    repo = rostree.Repo.init(tmp_path / "repo", mode="archive")
    first = repo.commit(tree, branch="os/stable", subject="one", timestamp=7)
    (tree / "usr/etc/os-release").write_text("ID=test\nVERSION=2\n")
    second = repo.commit(tree, branch="os/stable", subject="two", timestamp=8)

    secret, public = ed25519_keys(tmp_path)
    (tmp_path / "other").mkdir()
    _, other = ed25519_keys(tmp_path / "other")
    with pytest.raises(rostree.Error):
        repo.verify_commit("os/stable", [public])
    repo.sign_commit("os/stable", secret)
    assert "verified successfully" in repo.verify_commit("os/stable", [other, public])
    with pytest.raises(rostree.Error):
        repo.verify_commit("os/stable", [other])
    with pytest.raises(rostree.InvalidArgumentError):
        repo.sign_commit("os/stable", "not a key")

    name = repo.generate_delta("os/stable", from_rev=first)
    assert name == f"{first}-{second}"
    assert repo.deltas() == [name]
    listed = subprocess.run(["ostree", f"--repo={repo.path}", "static-delta", "list"],
                            check=True, capture_output=True, text=True).stdout.split()
    assert listed == [name]

    assert repo.prune(refs_only=True).objects_pruned == 0
    pruned = repo.prune(refs_only=True, depth=0)
    # The first commit, its trees of /, /usr and /usr/etc, and its os-release.
    assert (pruned.objects_pruned, pruned.bytes_freed > 0) == (5, True)
    with pytest.raises(rostree.NotFoundError) as info:
        repo.read_commit(first)
    assert info.value.object == f"{first}.commit"
    subprocess.run(["ostree", "fsck", f"--repo={repo.path}"], check=True, capture_output=True)


def test_errors_are_exceptions(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(rostree.NotFoundError) as info:
        rostree.Repo.open(missing)
    assert info.value.path is not None and str(missing) in info.value.path
    assert isinstance(info.value, rostree.Error)
    repo = rostree.Repo.init(tmp_path / "repo", mode="archive")
    with pytest.raises(rostree.Error, match="nosuchref"):
        repo.resolve_rev("nosuchref")
    with pytest.raises(rostree.Error):
        repo.pull("nosuchremote", ["x"])
    with pytest.raises(rostree.Error):
        rostree.Repo.init(tmp_path / "bad", mode="no-such-mode")


def test_stubs_match_the_module() -> None:
    """Every class, method and property the type stubs promise exists at run time."""
    import ast

    stub = Path(rostree.__file__).with_name("__init__.pyi")
    tree = ast.parse(stub.read_text())
    checked = 0
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            cls = getattr(rostree, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                    assert hasattr(cls, item.name), f"{node.name}.{item.name}"
                    checked += 1
    assert checked > 15
