"""The apply run's view of the state: every change is written at once, in order.

Apply works from several threads; each step of the write-ahead protocol
(``reconciler.applied``) must be durable before the next request is sent, so
every mutation is a full, locked write through the backend (atomic file
replace, or a fenced compare-and-swap in PostgreSQL). A write that fails stops
the run: continuing without a record is how models get orphaned.

Writes are group-committed: mutations that arrive while a write is in
progress are applied together by the next write, and each caller returns only
once the write holding its mutation is durable. The protocol is unchanged
(nothing is sent before its intent is stored), but 32 parallel creates cost a
handful of state writes per round instead of 64 one after the other.

Once only tuning is left to follow (hours, on the real service), the run gives
the lock up (``detach``): from then on every write takes the lock again,
re-reads the stored state and applies its changes to that, so what other
commands wrote meanwhile is kept. Changes made in that phase are written as
conditions on the stored record (``conclude_tuning``), never as whole records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass

from reconciler.applied import ModelRecord, StateDocument
from reconciler.state.base import StateBackend

# A change replaces, adds or removes entries of ``doc.models``; it never changes a
# record in place (records are shared between versions of the document, which
# are copied shallowly: a deep copy of a 10,000-model state per write would cost
# more than the write).
Change = Callable[[StateDocument], None]
Relock = Callable[[], AbstractContextManager[object]]


@dataclass
class _Pending:
    change: Change
    done: bool = False
    error: BaseException | None = None


class StateJournal:
    """Serialises state mutations from many threads into backend writes."""

    def __init__(self, *, backend: StateBackend, document: StateDocument) -> None:
        self._backend = backend
        self._doc = document
        self._mutex = threading.Lock()  # guards _doc and _queue; never held during a write
        self._writing = threading.Lock()  # one backend write at a time
        self._queue: list[_Pending] = []
        self._relock: Relock | None = None  # set once the run no longer holds the lock

    def detach(self, relock: Relock) -> None:
        """The run gives the lock up: from now on each write takes it with ``relock``
        and is applied to the state as stored then (see the module docstring)."""
        with self._writing:  # not in the middle of a write
            self._relock = relock

    @property
    def document(self) -> StateDocument:
        with self._mutex:
            return self._doc.model_copy(deep=True)

    def record(self, name: str) -> ModelRecord | None:
        with self._mutex:
            found = self._doc.models.get(name)
            return found.model_copy(deep=True) if found else None

    def mutate(self, change: Change) -> None:
        """Apply ``change`` to the document and store it; returns once it is durable."""
        pending = _Pending(change)
        with self._mutex:
            self._queue.append(pending)
        with self._writing:
            if not pending.done:  # nobody wrote it meanwhile: write it and whatever queued
                self._commit()
        if pending.error is not None:
            raise pending.error

    def _commit(self) -> None:
        """Write every queued change in one backend write (caller holds ``_writing``)."""
        with self._mutex:
            batch, self._queue = self._queue, []
            draft = _copy(self._doc) if self._relock is None else None
        try:
            if draft is not None:
                for pending in batch:
                    pending.change(draft)
                stored = self._backend.write(draft)
            else:
                assert self._relock is not None
                with self._relock():
                    current = self._backend.read()
                    draft = _copy(current)
                    for pending in batch:
                        pending.change(draft)
                    # Nothing left to change (another command got there first): no write.
                    stored = current if draft == current else self._backend.write(draft)
        except BaseException as exc:
            for pending in batch:
                pending.error, pending.done = exc, True
            raise
        with self._mutex:
            self._doc = stored
        for pending in batch:
            pending.done = True

    def ensure_held(self) -> None:
        """StateConflictError if the run's lock was taken away (see ``StateBackend.check_lock``).

        Once detached the run holds no lock between writes and sends nothing
        but polls, so there is nothing to check.
        """
        if self._relock is None:
            self._backend.check_lock()

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

    def change_record(self, name: str, change: Callable[[ModelRecord], ModelRecord | None]) -> bool:
        """Replace the record of ``name`` with ``change(current)``, as stored at write
        time; ``change`` returning None (or no record) leaves it: returns False."""
        applied: list[bool] = []

        def mutation(doc: StateDocument) -> None:
            current = doc.models.get(name)
            updated = change(current) if current is not None else None
            if updated is not None:
                doc.models[name] = updated
                applied.append(True)

        self.mutate(mutation)
        return bool(applied)

    def conclude_tuning(
        self, name: str, *, operation: str | None, changes: Mapping[str, object]
    ) -> bool:
        """Record how a tuning ended (``changes``), on the record only if it still
        carries ``operation``; False when it did not (nothing recorded).

        While the lock is given up, another command may have concluded, replaced
        or forgotten the model; its record is then left as that command wrote it.
        """
        applied: list[bool] = []

        def change(doc: StateDocument) -> None:
            current = doc.models.get(name)
            if current is not None and current.operation == operation:
                doc.models[name] = current.model_copy(update=dict(changes))
                applied.append(True)

        self.mutate(change)
        return bool(applied)


def _copy(doc: StateDocument) -> StateDocument:
    """A copy a change may edit without touching ``doc`` (see ``Change``)."""
    return doc.model_copy(update={"models": dict(doc.models)})
