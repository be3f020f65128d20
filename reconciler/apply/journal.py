"""The apply run's view of the state: every change is written at once, in order.

Apply works from several threads; each step of the write-ahead protocol
(``reconciler.applied``) must be durable before the next request is sent, so
every mutation is a full, locked write through the backend (atomic file
replace, or a fenced compare-and-swap in PostgreSQL). A write that fails stops
the run: continuing without a record is how models get orphaned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from reconciler.applied import ModelRecord, StateDocument
from reconciler.state.base import StateBackend


class StateJournal:
    """Serialises state mutations from many threads into backend writes."""

    def __init__(self, *, backend: StateBackend, document: StateDocument) -> None:
        self._backend = backend
        self._doc = document
        self._mutex = threading.Lock()

    @property
    def document(self) -> StateDocument:
        with self._mutex:
            return self._doc.model_copy(deep=True)

    def record(self, name: str) -> ModelRecord | None:
        with self._mutex:
            found = self._doc.models.get(name)
            return found.model_copy(deep=True) if found else None

    def mutate(self, change: Callable[[StateDocument], None]) -> StateDocument:
        """Apply ``change`` to a copy of the document and store it (serial + 1)."""
        with self._mutex:
            draft = self._doc.model_copy(deep=True)
            change(draft)
            self._doc = self._backend.write(draft)
            return self._doc.model_copy(deep=True)

    def put(self, name: str, record: ModelRecord) -> None:
        def change(doc: StateDocument) -> None:
            doc.models[name] = record

        self.mutate(change)

    def update(self, name: str, **fields: object) -> None:
        """Change some fields of an existing record."""

        def change(doc: StateDocument) -> None:
            current = doc.models[name]
            doc.models[name] = current.model_copy(update=fields)

        self.mutate(change)

    def remove(self, name: str) -> None:
        def change(doc: StateDocument) -> None:
            doc.models.pop(name, None)

        self.mutate(change)
