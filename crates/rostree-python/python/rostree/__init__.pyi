"""Type stubs of rostree's Python bindings (the extension module rostree._rostree)."""

from collections.abc import Callable, Mapping, Sequence
from os import PathLike

__version__: str

_Path = str | PathLike[str]
ProgressCallback = Callable[[str | None, int, int, int], object]
"""Called as ``progress(phase, done, total, bytes)``: ``phase`` names a new phase (else
None), ``done`` objects fetched of ``total`` known so far, ``bytes`` received."""

class Error(Exception):
    """A rostree operation failed."""

    path: str | None
    """The file, directory or repository the error is about, if any."""

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

class Deployment:
    """One deployment of a sysroot."""

    checksum: str
    stateroot: str
    serial: int
    booted: bool
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
