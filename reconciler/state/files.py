"""Filesystem primitives for the state file: no symlink is followed, every replace is atomic.

A state directory is often committed to the repository it describes, so a pull
request can put a symbolic link where the state, its lock, its backup or its
journal should be. Writing through such a link would overwrite whatever it
points at (even a ``plan`` takes the lock), and replacing a linked state file
with a regular one would orphan the models recorded in the linked copy. So
these files are opened with ``O_NOFOLLOW`` (and created with ``O_EXCL`` where
they must be new), and a link found in their place is refused with an error
naming it. The state directory itself may be a link only to a place beside
it (``.reconciler -> state-store``), never out of the directory holding it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from reconciler.errors import StateError

LINK_HINT = "replace the link with a regular file or directory, or pass --state with the real path"


def link_refused(path: Path, *, what: str) -> StateError:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return StateError(
        f"{what} {path} is a symbolic link (to {target}); the reconciler never reads or writes"
        " state through a link",
        hint=LINK_HINT,
    )


def refuse_link(path: Path, *, what: str) -> None:
    """StateError naming ``path`` when it is a symbolic link (dangling or not)."""
    if path.is_symlink():
        raise link_refused(path, what=what)


def check_directory(directory: Path) -> None:
    """StateError when the state directory is a link leading out of the directory that holds it."""
    if not directory.is_symlink():
        return
    holder = directory.parent.resolve()
    target = directory.resolve()
    if target != holder and holder not in target.parents:
        raise StateError(
            f"state directory {directory} is a symbolic link to {os.readlink(directory)}, outside"
            f" {directory.parent}; the reconciler does not follow it",
            hint=LINK_HINT,
        )


def open_nofollow(path: Path, flags: int, *, what: str, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` with a StateError naming it."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_refused(path, what=what) from None
        raise


def read_nofollow(path: Path, *, what: str) -> bytes | None:
    """The bytes of ``path``, None when it does not exist; a link is refused."""
    try:
        fd = open_nofollow(path, os.O_RDONLY, what=what)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def fsync_dir(directory: Path) -> None:
    """Make a rename durable: the directory entry itself must reach the disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, what: str = "state file") -> None:
    """Replace ``path`` with ``data`` so a crash leaves either the old or the new bytes.

    The temporary file is new (``mkstemp`` uses ``O_EXCL``), and a link at
    ``path`` is refused rather than silently replaced by a regular file.
    """
    refuse_link(path, what=what)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def os_failure(exc: OSError, *, doing: str, display: str) -> StateError:
    """A StateError for a filesystem refusal (read-only directory, no permission, disk full).

    These are the user's to fix, so they get one clear line, not an internal-error traceback.
    """
    where = f" ({exc.filename})" if exc.filename else ""
    reason = exc.strerror or type(exc).__name__
    return StateError(
        f"cannot {doing} state {display}: {reason}{where}",
        hint=(
            "make the state file readable for this user, or pass --state PATH"
            if doing == "read"
            else "make the state's directory writable for this user, or pass --state PATH"
        ),
    )
