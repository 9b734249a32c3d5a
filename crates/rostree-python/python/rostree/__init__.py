"""rostree: OSTree rebuilt in Rust, byte-compatible with upstream ostree.

Repositories (:class:`Repo`), replication (:meth:`Repo.pull`) and deployments
(:class:`Sysroot`). Checksums are lowercase hex strings; failures raise :class:`Error` (or
one of its subclasses), whose ``path`` names the file or repository concerned.
"""

from rostree._rostree import (
    CancelledError,
    Cancellable,
    Deployment,
    Error,
    InvalidArgumentError,
    NotFoundError,
    Repo,
    Sysroot,
    __version__,
)

__all__ = [
    "CancelledError",
    "Cancellable",
    "Deployment",
    "Error",
    "InvalidArgumentError",
    "NotFoundError",
    "Repo",
    "Sysroot",
    "__version__",
]
