"""State storage: the local state file or PostgreSQL, behind one interface.

``open_backend(location)`` picks the backend from the ``--state`` value; every
command works the same on both. See ``base.StateBackend`` for the contract and
docs/state.md for how locking works.
"""

from __future__ import annotations

import logging

from reconciler.state.base import LockInfo, StateBackend, StateLock, dump_document, parse_text

# Lock takeovers are logged as WARNING on "reconciler.state" and also returned
# on the lock (``StateLock.warning``) for the CLI to print; the NullHandler keeps
# Python's last-resort handler from printing them a second time.
logging.getLogger("reconciler.state").addHandler(logging.NullHandler())

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def open_backend(location: str) -> StateBackend:
    """The backend for a ``--state`` value: a file path, or a ``postgresql://``/``postgres://`` URI.

    Opening connects to nothing; the first read or lock does.
    """
    if is_postgres(location):
        from reconciler.extras import require

        require("postgres")
        from reconciler.state.postgres import PostgresBackend

        return PostgresBackend(location)
    from reconciler.state.file import FileBackend

    return FileBackend(location)


__all__ = [
    "LockInfo",
    "StateBackend",
    "StateLock",
    "dump_document",
    "is_postgres",
    "open_backend",
    "parse_text",
]
