"""The journal: every mutation is durable when ``put`` returns; concurrent ones share writes."""

from __future__ import annotations

import threading
from pathlib import Path

from reconciler.applied import ModelRecord, StateDocument
from reconciler.apply.journal import StateJournal
from reconciler.errors import StateConflictError, StateLockedError
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

    def write_records(self, doc: StateDocument, changes: dict[str, ModelRecord | None]) -> int:
        models = dict(doc.models)
        for name, record in changes.items():
            if record is None:
                models.pop(name, None)
            else:
                models[name] = record
        return self.write(doc.model_copy(update={"models": models})).serial


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


def tuning(name: str, operation: str) -> ModelRecord:
    return ModelRecord(name=f"tunedModels/{name}", operation=operation)


def detached_journal(path: str, *, relock_timeout: float = 0.0) -> StateJournal:
    """A run that recorded model a tuning, then gave the lock up."""
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        journal = StateJournal(backend=backend, document=backend.read())
        journal.put("a", tuning("a", "tunedModels/a/operations/1"))
    journal.detach(lambda: backend.lock(command="apply", timeout=relock_timeout))
    return journal


def test_detached_writes_take_the_lock_and_keep_what_others_wrote_meanwhile(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.json")
    backend = FileBackend(path)
    held = backend.lock(command="apply")
    journal = StateJournal(backend=backend, document=backend.read())
    journal.put("a", tuning("a", "tunedModels/a/operations/1"))
    journal.put("b", tuning("b", "tunedModels/b/operations/1"))
    journal.detach(lambda: backend.lock(command="apply"))
    held.release()

    other = FileBackend(path)  # another command, while the run only follows tuning
    with other.lock(command="state rm"):
        doc = other.read()
        del doc.models["b"]
        doc.models["c"] = ModelRecord(name="tunedModels/c")
        other.write(doc)

    done = {"operation": None, "createTime": "2026-11-21T10:00:00Z"}
    assert journal.conclude_tuning("a", operation="tunedModels/a/operations/1", changes=done)
    assert not journal.conclude_tuning("b", operation="tunedModels/b/operations/1", changes=done)

    stored = FileBackend(path).read()
    assert sorted(stored.models) == ["a", "c"]  # b stays forgotten, c stays
    assert stored.models["a"].operation is None
    assert stored.models["a"].createTime == "2026-11-21T10:00:00Z"
    assert stored.serial == 4
    assert not Path(path + ".lock").exists()  # each write gave the lock back


def test_a_conclusion_leaves_a_record_that_moved_on_to_another_operation(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.json")
    journal = detached_journal(path)
    other = FileBackend(path)  # a later apply replaced the model: a new tuning
    with other.lock(command="apply"):
        doc = other.read()
        doc.models["a"] = tuning("a", "tunedModels/a/operations/2")
        other.write(doc)
    serial = other.read().serial

    recorded = journal.conclude_tuning(
        "a", operation="tunedModels/a/operations/1", changes={"operation": None}
    )

    assert recorded is False
    stored = FileBackend(path).read()
    assert stored.models["a"].operation == "tunedModels/a/operations/2"
    assert stored.serial == serial  # nothing to change: nothing written


def test_a_detached_write_waits_for_the_lock_and_fails_clearly_when_it_stays_held(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.json")
    journal = detached_journal(path, relock_timeout=0.2)
    other = FileBackend(path)
    with other.lock(command="apply"):
        try:
            journal.conclude_tuning(
                "a", operation="tunedModels/a/operations/1", changes={"operation": None}
            )
        except StateLockedError as exc:
            assert "(reconciler apply)" in exc.message
        else:
            raise AssertionError("a write without the lock was not refused")
    assert FileBackend(path).read().models["a"].operation == "tunedModels/a/operations/1"
