"""Where tuned models live: a dict in memory, written through to SQLite with ``--db``.

The in-memory dict is always the source of reads (fast list pages); SQLite
only makes the models survive a restart.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections.abc import Iterator

from reconciler.emulator.tuning import TunedModelRecord

_SCHEMA = "CREATE TABLE IF NOT EXISTS tuned_models (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, body TEXT NOT NULL)"


class Store:
    """Tuned models in creation order; ``seq`` is a cursor that never repeats."""

    def __init__(self, *, db_path: str | None = None) -> None:
        self._models: dict[str, TunedModelRecord] = {}
        self._order: list[TunedModelRecord] | None = None
        self._next_seq = 1
        self._db: sqlite3.Connection | None = None
        if db_path:
            self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            for (body,) in self._db.execute("SELECT body FROM tuned_models ORDER BY seq"):
                record = TunedModelRecord.from_json(json.loads(body))
                self._models[record.model_id] = record
                self._next_seq = max(self._next_seq, record.seq + 1)

    @property
    def connection(self) -> sqlite3.Connection | None:
        """The SQLite connection (``--db``), shared with the Vertex AI and Cloud Storage stores."""
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def get(self, model_id: str) -> TunedModelRecord | None:
        return self._models.get(model_id)

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[TunedModelRecord]:
        return iter(self._ordered())

    def put(self, record: TunedModelRecord) -> None:
        """Insert or replace; a replaced record's cached JSON is dropped."""
        record.cache.clear()
        is_new = record.model_id not in self._models
        self._models[record.model_id] = record
        if self._order is not None:
            if is_new:
                self._order.append(record)  # seq only grows, so order is kept
            else:
                self._order = None
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO tuned_models (id, seq, body) VALUES (?, ?, ?)",
                (record.model_id, record.seq, json.dumps(record.to_json())),
            )

    def delete(self, model_id: str) -> None:
        if self._models.pop(model_id, None) is not None:
            self._order = None
        if self._db is not None:
            self._db.execute("DELETE FROM tuned_models WHERE id = ?", (model_id,))

    def clear(self) -> None:
        self._models.clear()
        self._order = None
        self._next_seq = 1
        if self._db is not None:
            self._db.execute("DELETE FROM tuned_models")

    def after(self, seq: int) -> Iterator[TunedModelRecord]:
        """Records created after cursor ``seq``, oldest first."""
        ordered = self._ordered()
        start = bisect.bisect_right(ordered, seq, key=lambda r: r.seq)
        return iter(ordered[start:])

    def _ordered(self) -> list[TunedModelRecord]:
        if self._order is None:
            self._order = sorted(self._models.values(), key=lambda r: r.seq)
        return self._order
