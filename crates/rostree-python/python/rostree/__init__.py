"""rostree: OSTree rebuilt in Rust, byte-compatible with upstream ostree.

Repositories (:class:`Repo`): commits, their trees and files read back, signatures,
static deltas, prune; replication (:meth:`Repo.pull`) and deployments (:class:`Sysroot`).
Checksums are lowercase hex strings; failures raise :class:`Error` (or one of its
subclasses), whose ``path`` and ``object`` name the file and object concerned.
"""

from rostree._rostree import (
    CancelledError,
    Cancellable,
    Commit,
    Deployment,
    Error,
    FileReader,
    InvalidArgumentError,
    NotFoundError,
    PruneResult,
    Repo,
    Sysroot,
    TreeEntry,
    TreeIterator,
    __version__,
)

__all__ = [
    "CancelledError",
    "Cancellable",
    "Commit",
    "Deployment",
    "Error",
    "FileReader",
    "InvalidArgumentError",
    "NotFoundError",
    "PruneResult",
    "Repo",
    "Sysroot",
    "TreeEntry",
    "TreeIterator",
    "__version__",
]
