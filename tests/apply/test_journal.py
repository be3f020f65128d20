"""The journal: every mutation is durable when ``put`` returns; concurrent ones share writes."""

from __future__ import annotations

import threading
from pathlib import Path

from reconciler.applied import ModelRecord, StateDocument
from reconciler.apply.journal import StateJournal
from reconciler.errors import StateConflictError
from reconciler.state.file import FileBackend


class SlowCountingBackend:
    """Stores documents in memory; each write takes a while, as an fsync does."""

    def __init__(self) -> None:
        self.writes: list[StateDocument] = []
        self.fail = False

    def write(self, doc: StateDocument) -> StateDocument:
        threading.Event().wait(0.02)
        if self.fail:
            raise StateConflictError("the lock was lost")
        stored = doc.model_copy(update={"serial": doc.serial + 1}, deep=True)
        self.writes.append(stored)
        return stored


def test_concurrent_puts_are_all_stored_in_fewer_writes() -> None:
    backend = SlowCountingBackend()
    journal = StateJournal(backend=backend, document=StateDocument())  # type: ignore[arg-type]
    seen: dict[str, set[str]] = {}

    def put(n: int) -> None:
        journal.put(f"m{n}", ModelRecord(name=f"tunedModels/m{n}"))
        # Durable on return: the latest stored document already holds it.
        seen[f"m{n}"] = set(backend.writes[-1].models)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert set(backend.writes[-1].models) == {f"m{n}" for n in range(32)}
    assert all(name in stored for name, stored in seen.items())
    assert len(backend.writes) < 32
    assert journal.document.serial == len(backend.writes)


def test_a_failed_write_is_raised_and_nothing_is_recorded() -> None:
    backend = SlowCountingBackend()
    backend.fail = True
    journal = StateJournal(backend=backend, document=StateDocument())  # type: ignore[arg-type]

    try:
        journal.put("m", ModelRecord(name="tunedModels/m"))
    except StateConflictError as exc:
        assert "the lock was lost" in exc.message
    else:
        raise AssertionError("the failed write was not reported")
    assert journal.record("m") is None


def test_writes_reach_the_state_file_in_order(tmp_path: Path) -> None:
    backend = FileBackend(str(tmp_path / "state.json"))
    with backend.lock(command="test"):
        journal = StateJournal(backend=backend, document=backend.read())
        journal.put("a", ModelRecord(name="tunedModels/a"))
        journal.update("a", operation="tunedModels/a/operations/1")
        journal.put("b", ModelRecord(name="tunedModels/b"))
        journal.remove("b")
    stored = FileBackend(str(tmp_path / "state.json")).read()
    assert stored.serial == 4
    assert list(stored.models) == ["a"]
    assert stored.models["a"].operation == "tunedModels/a/operations/1"
