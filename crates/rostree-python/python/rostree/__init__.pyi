"""Type stubs of rostree's Python bindings (the extension module rostree._rostree)."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Literal

__version__: str

_Path = str | PathLike[str]
ProgressCallback = Callable[[str | None, int, int, int], object]
"""Called as ``progress(phase, done, total, bytes)``: ``phase`` names a new phase (else
None), ``done`` objects fetched of ``total`` known so far, ``bytes`` received."""

class Error(Exception):
    """A rostree operation failed."""

    path: str | None
    """The file, directory or repository the error is about, if any."""
    object: str | None
    """The object the error is about, as ``CHECKSUM.TYPE`` (``….commit``, ``….dirtree``,
    ``….file``), if any."""

class NotFoundError(Error):
    """A file, repository, ref, remote or object does not exist."""

class CancelledError(Error):
    """The operation was cancelled through its :class:`Cancellable`."""

class InvalidArgumentError(Error):
    """An argument was not valid."""

class Cancellable:
    """A flag that stops the operations it is passed to; ``cancel()`` may be called from
    any thread, also while the operation runs."""

    def __init__(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...

class Repo:
    """An OSTree repository. May be used from several threads at once."""

    @staticmethod
    def open(path: _Path) -> Repo:
        """Opens the repository at ``path``."""
    @staticmethod
    def init(path: _Path, mode: str = "bare") -> Repo:
        """Makes a repository at ``path``: ``mode`` is "archive", "bare", "bare-user" or
        "bare-user-only", as ``ostree init --mode``."""
    @property
    def path(self) -> str: ...
    def commit(
        self,
        tree: _Path,
        *,
        branch: str,
        subject: str,
        body: str | None = None,
        timestamp: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Commits the directory ``tree`` to ``branch`` and returns the commit's checksum:
        the one upstream ``ostree commit --branch --subject [--body] [--timestamp]
        [--add-metadata-string K=V...]`` makes for the same input. ``timestamp`` is Unix
        seconds (default: now)."""
    def resolve_rev(self, rev: str) -> str:
        """The commit a ref, ``remote:ref`` or checksum names."""
    def refs(self) -> dict[str, str]:
        """Every ref (``remote:ref`` for remote ones) and its commit."""
    def checkout(self, rev: str, destination: _Path, *, user_mode: bool = False) -> None:
        """Checks the commit out as the new directory ``destination`` (``-U`` with
        ``user_mode``)."""
    def fsck(self) -> None:
        """Verifies every object of every commit; corruption raises :class:`Error`."""
    def update_summary(self) -> None:
        """Writes the repository's summary file, as ``ostree summary -u``."""
    def remote_add(self, name: str, url: str, *, gpg_verify: bool = True) -> None:
        """Adds a remote, as ``ostree remote add [--no-gpg-verify]``."""
    def pull(
        self,
        remote: str,
        refs: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancellable: Cancellable | None = None,
    ) -> None:
        """Pulls ``refs`` (default: the remote's ``branches``) with the checks the remote's
        configuration asks for. ``progress`` runs on the calling thread's behalf with the
        GIL held; an exception it raises stops the pull and is raised again here."""
    def read_commit(self, rev: str) -> Commit:
        """The commit ``rev`` names."""
    def walk(self, rev: str, path: str = "/", *, recursive: bool = False) -> TreeIterator:
        """The entries below ``path`` (symlinks on the way followed within the commit) in
        the commit ``rev`` names; a file's path gives that file."""
    def open_file(self, rev: str, path: str) -> FileReader:
        """The file at ``path`` (symlinks followed within the commit), as ``ostree cat``
        reads it; a directory raises :class:`InvalidArgumentError`."""
    def prune(self, *, refs_only: bool = False, depth: int | None = None) -> PruneResult:
        """Deletes the objects no commit needs, as ``ostree prune [--refs-only]
        [--depth=DEPTH]``: ``depth`` parents of each ref's commit are kept (default: all)."""
    def sign_commit(self, rev: str, secret_key: str) -> None:
        """Adds an ed25519 signature by ``secret_key`` (base64 of its 64 bytes, as ``ostree
        sign`` takes it)."""
    def verify_commit(self, rev: str, public_keys: Sequence[str]) -> str:
        """Checks for a valid ed25519 signature by one of ``public_keys`` (base64), as
        ``ostree sign --verify``; returns the message naming the key. None raises
        :class:`Error`."""
    def gpg_sign_commit(self, rev: str, key_id: str, *, homedir: _Path | None = None) -> None:
        """Adds a GPG signature by ``key_id`` from the GnuPG home ``homedir`` (default:
        ``$GNUPGHOME`` or ``~/.gnupg``), as ``ostree gpg-sign``."""
    def generate_delta(self, to: str, *, from_rev: str | None = None) -> str:
        """Generates the static delta to ``to`` from ``from_rev`` (default: from nothing)
        with upstream's defaults, as ``ostree static-delta generate``; returns its name.
        Pullers see it once the summary is updated."""
    def deltas(self) -> list[str]:
        """The static deltas, named as ``ostree static-delta list`` names them."""

class Commit:
    """A commit, as ``ostree show`` prints it."""

    checksum: str
    parent: str | None
    subject: str
    body: str
    timestamp: int
    """Unix seconds."""
    version: str | None
    """The ``version`` metadata."""

class TreeEntry:
    """One entry of a commit's tree, as ``ostree ls -C`` shows it."""

    path: str
    """From ``/``."""
    kind: Literal["file", "directory", "symlink"]
    mode: int
    """Permission bits (``st_mode & 0o7777``)."""
    uid: int
    gid: int
    size: int
    """A file's size in bytes (0 for directories and symlinks)."""
    checksum: str
    """A file's content object, a directory's dirtree."""
    symlink_target: str | None

class TreeIterator(Iterator[TreeEntry]):
    """Entries of a tree, read as they are iterated: files first, then each directory
    followed (when recursive) by what it holds, as ``ostree ls -R`` lists them. It keeps
    its repository open."""

    def __iter__(self) -> TreeIterator: ...
    def __next__(self) -> TreeEntry: ...

class FileReader:
    """A file of a commit, open for reading; its contents stream (an archive object
    inflates as it is read). A context manager that closes it."""

    @property
    def size(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); ``b""`` at the end."""
    def close(self) -> None: ...
    def __enter__(self) -> FileReader: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

class PruneResult:
    """What :meth:`Repo.prune` did."""

    objects_total: int
    objects_pruned: int
    bytes_freed: int

class Deployment:
    """One deployment of a sysroot, with what ``ostree admin status --json`` says of it."""

    index: int
    """Its position: 0 is the default boot."""
    checksum: str
    stateroot: str
    serial: int
    refspec: str | None
    """What its origin follows (what an upgrade pulls)."""
    version: str | None
    """Its commit's ``version``."""
    booted: bool
    pending: bool
    """It boots next, in place of the booted one."""
    rollback: bool
    """The booted one's predecessor, kept to roll back to."""
    staged: bool
    pinned: bool
    finalization_locked: bool
    path: str
    """The deployment's root directory."""

class Sysroot:
    """A sysroot (``/`` of an OSTree system, or a directory laid out as one), loaded."""

    def __init__(self, path: _Path) -> None: ...
    @staticmethod
    def init(path: _Path, stateroot: str) -> None:
        """Lays out a sysroot and a stateroot, as ``ostree admin init-fs`` then
        ``os-init``."""
    @property
    def deployments(self) -> list[Deployment]:
        """The deployments, the default first."""
    def reload(self) -> None: ...
    def upgrade(
        self,
        stateroot: str | None = None,
        *,
        allow_downgrade: bool = False,
        progress: ProgressCallback | None = None,
        cancellable: Cancellable | None = None,
    ) -> bool:
        """Upgrades ``stateroot`` (default: the booted deployment's) as ``ostree admin
        upgrade``: pulls what its origin names and, when that is new, deploys it as the new
        default with the current one as the rollback. Returns whether it deployed."""
    def set_default(self, index: int) -> None:
        """Makes deployment ``index`` the default, as ``ostree admin set-default``; 1 is
        the rollback, so ``set_default(1)`` rolls back."""
    def deploy(self, stateroot: str, refspec: str, *, kargs: Sequence[str] = ()) -> Deployment:
        """Deploys ``refspec`` as the new default of ``stateroot``, as ``ostree admin
        deploy --os=STATEROOT [--karg=...]``; returns it."""
