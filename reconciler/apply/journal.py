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

Each mutation names the one model it changes, and a write hands the backend
only the changed records (``StateBackend.write_records``): the backend appends
them to its journal, so a write costs the same whatever the size of the state.

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

# A change replaces, adds or removes the entry of its one model in ``doc.models``;
# it never changes a record in place (records are shared between versions of the
# document). It is given a draft holding only that model's record.
Change = Callable[[StateDocument], None]
Relock = Callable[[], AbstractContextManager[object]]


@dataclass
class _Pending:
    name: str
    change: Change
    done: bool = False
    error: BaseException | None = None


class StateJournal:
    """Serialises state mutations from many threads into backend writes."""

    def __init__(self, *, backend: StateBackend, document: StateDocument) -> None:
        self._backend = backend
        # Our own models dict: a write changes it in place (a copy per write
        # would cost as much as the state is large).
        self._doc = document.model_copy(update={"models": dict(document.models)})
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

    def mutate(self, name: str, change: Change) -> None:
        """Apply ``change`` (to model ``name``) and store it; returns once it is durable."""
        pending = _Pending(name, change)
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
            base = self._doc
        try:
            if self._relock is None:
                changes = _changes(base, batch)
                if changes:
                    serial = self._backend.write_records(base, changes)
                    with self._mutex:
                        _apply(self._doc.models, changes)
                        self._doc = self._doc.model_copy(update={"serial": serial})
            else:
                with self._relock():
                    current = self._backend.read()
                    changes = _changes(current, batch)
                    # Nothing left to change (another command got there first): no write.
                    if changes:
                        serial = self._backend.write_records(current, changes)
                        models = dict(current.models)
                        _apply(models, changes)
                        current = current.model_copy(update={"models": models, "serial": serial})
                    with self._mutex:
                        self._doc = current
        except BaseException as exc:
            for pending in batch:
                pending.error, pending.done = exc, True
            raise
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

        self.mutate(name, change)

    def update(self, name: str, **fields: object) -> None:
        """Change some fields of an existing record."""

        def change(doc: StateDocument) -> None:
            current = doc.models[name]
            doc.models[name] = current.model_copy(update=fields)

        self.mutate(name, change)

    def remove(self, name: str) -> None:
        def change(doc: StateDocument) -> None:
            doc.models.pop(name, None)

        self.mutate(name, change)

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

        self.mutate(name, mutation)
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

        self.mutate(name, change)
        return bool(applied)


def _changes(base: StateDocument, batch: list[_Pending]) -> dict[str, ModelRecord | None]:
    """The records ``batch`` changes in ``base`` (None: removed), without copying ``base``."""
    names = list(dict.fromkeys(p.name for p in batch))
    draft = StateDocument.model_construct(
        formatVersion=base.formatVersion,
        lineage=base.lineage,
        serial=base.serial,
        models={n: base.models[n] for n in names if n in base.models},
    )
    for pending in batch:
        pending.change(draft)
    return {n: draft.models.get(n) for n in names if draft.models.get(n) is not base.models.get(n)}


def _apply(models: dict[str, ModelRecord], changes: Mapping[str, ModelRecord | None]) -> None:
    for name, record in changes.items():
        if record is None:
            models.pop(name, None)
        else:
            models[name] = record
