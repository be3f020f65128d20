"""Cache entries sealed with a key kept outside the repository, so a committed entry is never trusted.

The caches under ``.reconciler/cache/`` (parsed manifests, evaluation answers)
live inside the repository, and git-ignoring them does not stop a pull request
from force-adding a file there. A forged entry could make ``plan`` see other
documents than the YAML a reviewer read, or make an evaluation gate pass a
model that fails it. So every entry is written with an HMAC-SHA256 over its
bytes, under a random key that exists only on this machine, for this user
(``$XDG_CACHE_HOME/reconciler/cache.key``, by default
``~/.cache/reconciler/cache.key``, mode 0600). An entry made anywhere else (a
commit, another machine, a CI runner's earlier key) fails the check and is
simply recomputed.

Where no key can be kept (no writable home), ``seal`` and ``unseal`` return
``None`` and the caches are not used: a cache is only ever an optimisation.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

KEY_BYTES = 32
_MAC_HEX = 64  # hex digits of an HMAC-SHA256
_SEPARATOR = b"\n"


def key_path() -> Path:
    """Where this user's cache key is kept: under ``$XDG_CACHE_HOME``, else ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "reconciler", "cache.key")


@functools.cache
def _key(path: Path) -> bytes | None:
    """This user's key, created on first use; ``None`` where none can be read or kept."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _create_key(path)
        return _read_key(path)
    except OSError:
        return None


def _read_key(path: Path) -> bytes | None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        # Only a regular file of this user's that nobody else can read or write is a key.
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.getuid():
            return None
        key = handle.read(KEY_BYTES + 1)
    return key if len(key) == KEY_BYTES else None


def _create_key(path: Path) -> None:
    """Write a new key whole, or leave the one a concurrent run wrote first."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)  # never replaces an existing key (or a link put there)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).hexdigest().encode("ascii")


def seal(data: bytes) -> bytes | None:
    """``data`` prefixed with its MAC under this user's key; ``None`` without a key."""
    key = _key(key_path())
    if key is None:
        return None
    return _mac(key, data) + _SEPARATOR + data


def unseal(blob: bytes) -> bytes | None:
    """The data of a sealed blob whose MAC checks out under this user's key, else ``None``."""
    key = _key(key_path())
    if key is None or len(blob) <= _MAC_HEX or blob[_MAC_HEX : _MAC_HEX + 1] != _SEPARATOR:
        return None
    data = blob[_MAC_HEX + 1 :]
    return data if hmac.compare_digest(blob[:_MAC_HEX], _mac(key, data)) else None
