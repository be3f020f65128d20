"""Files of the user's repository that we read: confined to its root, regular files only.

Manifests and data files are untrusted input (a pull request can add a
symlink, a FIFO or a loop of links), so every path is checked the same way:

* ``confine`` resolves a path with every symlink followed and says whether it
  stays inside the repository root (or inside another place the user named
  on the command line); a link that leads elsewhere is refused unless
  ``--allow-outside-root`` is given, and a loop of links is an error rather
  than a hang or a crash;
* ``read_regular_file`` opens without blocking (a FIFO named ``x.jsonl`` would
  otherwise wait forever for a writer), refuses anything that is not a regular
  file, and refuses a file above its size limit before reading it.

Nothing here raises for a bad path: problems are returned as messages (and
``UnreadableFile``) for the caller to locate.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SYMLINK_LOOP = "symlink loop (the link leads back to itself)"
OUTSIDE_ROOT_HINT = "keep it inside the repository, or pass --allow-outside-root"


@dataclass(frozen=True)
class Confined:
    """A path with its links followed: ``real`` when it exists, else ``problem`` says why not."""

    real: Path | None
    problem: str | None = None  # "symlink loop", "broken symlink", "no such file or directory"
    outside: bool = False  # resolves outside every allowed base (and that is not allowed)


def real_path(path: Path) -> tuple[Path | None, str | None]:
    """``path`` with every symlink followed, or the reason it cannot be (loop, missing)."""
    try:
        return Path(os.path.realpath(path, strict=True)), None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, SYMLINK_LOOP
        if os.path.islink(path):
            target = link_text(path)
            return None, f"broken symlink: its target `{target}` does not exist"
        if exc.errno == errno.ENOENT:
            return None, "no such file or directory"
        return None, f"cannot read: {exc.strerror or exc}"


def confine(path: Path, *, bases: Sequence[Path], allow_outside_root: bool = False) -> Confined:
    """Follow ``path``'s links and check that it stays inside one of ``bases`` (resolved paths).

    ``bases`` is the repository root first, then any place outside it that the
    user gave explicitly. Loops and missing targets come back as a problem.
    """
    real, problem = real_path(path)
    if real is None:
        return Confined(None, problem)
    inside = allow_outside_root or any(real.is_relative_to(base) for base in bases)
    return Confined(real, outside=not inside)


def resolved_root(root: Path) -> Path:
    """The repository root with its own links followed (the base everything is compared to)."""
    real, _ = real_path(root)
    return real if real is not None else Path(os.path.abspath(root))


def lexically_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` as written (``..`` folded, links not followed) lies under ``root``."""
    return Path(os.path.abspath(path)).is_relative_to(Path(os.path.abspath(root)))


class UnreadableFile(Exception):
    """A file that is not read: not a regular file, too large, or an OS error (message says)."""


class FileTooLarge(UnreadableFile):
    """Larger than the caller's limit; ``size`` in bytes (at least, for a file still growing)."""

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


def read_regular_file(path: Path, *, max_bytes: int, what: str) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; ``UnreadableFile`` otherwise.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the
    open descriptor, so a FIFO, socket or device is refused without waiting
    and a file swapped between a check and the read is still the one checked.
    ``what`` names the file in messages ("manifest file", "data file").
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnreadableFile(f"cannot read {what}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(
                f"{what} is not a regular file ({_kind(info.st_mode)}); only regular files are read"
            )
        if info.st_size > max_bytes:
            raise _too_large(what, info.st_size, max_bytes)
        chunks = []
        remaining = max_bytes + 1  # one byte more tells a file that grew while read
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining <= 0:
            raise _too_large(what, max_bytes + 1, max_bytes)
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(f"cannot read {what}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _too_large(what: str, size: int, limit: int) -> FileTooLarge:
    mib = 1024 * 1024
    return FileTooLarge(
        f"{what} is {size / mib:.1f} MiB; the limit is {limit // mib} MiB", size=size
    )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def link_text(path: Path) -> str:
    """What a symlink says it points at, as written (or `?`)."""
    try:
        return os.readlink(path)
    except OSError:
        return "?"
