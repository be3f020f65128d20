"""Vertex AI jobs and operations and Cloud Storage objects written through to SQLite (``--db``).

The stores keep serving reads from memory; this table only lets them survive
a restart, next to the tuned models in the same file and connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cloud_records "
    "(kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, key))"
)


class CloudRecords:
    """JSON documents by (kind, key): ``job``, ``operation`` and ``object`` rows."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._db.execute(_SCHEMA)

    def save(self, kind: str, key: str, body: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO cloud_records (kind, key, body) VALUES (?, ?, ?)",
            (kind, key, json.dumps(body)),
        )

    def remove(self, kind: str, key: str) -> None:
        self._db.execute("DELETE FROM cloud_records WHERE kind = ? AND key = ?", (kind, key))

    def load(self, kind: str) -> Iterator[dict[str, Any]]:
        rows = self._db.execute("SELECT body FROM cloud_records WHERE kind = ?", (kind,))
        for (body,) in rows.fetchall():
            loaded: dict[str, Any] = json.loads(body)
            yield loaded

    def clear(self) -> None:
        self._db.execute("DELETE FROM cloud_records")
