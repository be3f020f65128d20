"""The state file's journal: writes append, readers see snapshot + journal, damage is judged.

A run that ends folds its journal into the snapshot; a journal is left behind
only by a run that was killed. These tests make one the way a killed run
does (write, then copy the files before the lock is given up) and look at it
through the CLI as a user would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.spec import AppliedSpec, DatasetRef
from reconciler.state.file import FileBackend
from tests.support.servers import run_cli

SPEC = AppliedSpec(
    baseModel="models/gemini-1.5-flash-001-tuning",
    dataset=DatasetRef(name="d", hash="sha256:ab", examples=2),
)


def record(name: str) -> ModelRecord:
    return ModelRecord(name=f"tunedModels/{name}", applied=SPEC)


def killed_run(path: Path, names: list[str]) -> None:
    """Leave ``path`` as a run killed after writing ``names`` one by one leaves it."""
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        doc = backend.read()
        backend.write(doc.model_copy(update={"models": {"seed": record("seed")}}))
        doc = backend.read()
        for name in names:
            serial = backend.write_records(doc, {name: record(name)})
            doc = backend.read()
            assert doc.serial == serial
        saved = path.parent.with_name("saved")
        shutil.copytree(path.parent, saved)
    # The lock's release folded the journal in; put back what the kill left.
    shutil.rmtree(path.parent)
    saved.rename(path.parent)
    (path.parent / "state.json.lock").unlink(missing_ok=True)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".reconciler" / "state.json"


def listed(path: Path) -> list[str]:
    result = run_cli("--state", str(path), "state", "list")
    assert result.returncode == 0, result.stderr
    return [line.split()[0] for line in result.stdout.splitlines()]


def test_a_write_appends_one_entry_and_the_end_of_the_run_folds_it_in(path: Path) -> None:
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        doc = backend.write(StateDocument())
        snapshot = path.read_bytes()
        sizes = []
        for n in range(3):
            backend.write_records(backend.read(), {f"m{n}": record(f"m{n}")})
            sizes.append(path.with_name("state.json.journal").stat().st_size)
            assert path.read_bytes() == snapshot  # the snapshot is not rewritten
        # Each entry costs the same, however many models the state holds.
        assert sizes[2] - sizes[1] == sizes[1] - sizes[0]
        assert sorted(FileBackend(path).read().models) == ["m0", "m1", "m2"]
    assert not path.with_name("state.json.journal").exists()
    stored = json.loads(path.read_text())
    assert stored["serial"] == doc.serial + 3 and sorted(stored["models"]) == ["m0", "m1", "m2"]


def test_a_journal_left_by_a_killed_run_is_read_and_then_folded_in(path: Path) -> None:
    killed_run(path, ["a", "b"])
    assert path.with_name("state.json.journal").exists()
    assert listed(path) == ["a", "b", "seed"]
    pulled = json.loads(run_cli("--state", str(path), "state", "pull").stdout)
    assert sorted(pulled["models"]) == ["a", "b", "seed"] and pulled["serial"] == 3
    # The next writer folds it into the snapshot.
    assert run_cli("--state", str(path), "state", "rm", "seed").returncode == 0
    assert not path.with_name("state.json.journal").exists()
    assert sorted(json.loads(path.read_text())["models"]) == ["a", "b"]


def test_a_torn_last_entry_is_ignored(path: Path) -> None:
    killed_run(path, ["a", "b", "c"])
    journal = path.with_name("state.json.journal")
    data = journal.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    journal.write_bytes(data[: last + (len(data) - last) // 2])  # the kill came mid-append
    assert listed(path) == ["a", "b", "seed"]
    assert run_cli("--state", str(path), "state", "rm", "seed").returncode == 0
    assert not journal.exists()
    assert sorted(json.loads(path.read_text())["models"]) == ["a", "b"]


def test_a_damaged_entry_before_the_last_is_refused_and_nothing_is_overwritten(
    path: Path,
) -> None:
    killed_run(path, ["a", "b", "c"])
    journal = path.with_name("state.json.journal")
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"tunedModels/b", b"tunedModels/X")
    journal.write_bytes(b"".join(lines))
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    for args in (("state", "list"), ("state", "rm", "a"), ("state", "pull")):
        result = run_cli("--state", str(path), *args)
        assert result.returncode != 0, args
        assert f"state journal {journal} entry 2 (line 2) is damaged" in result.stderr
        assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before
    # The way out the message gives: push a good copy.
    good = path.parent.parent / "good.json"
    good.write_text(
        json.dumps(
            {
                "formatVersion": 1,
                "lineage": json.loads(path.read_text())["lineage"],
                "serial": 1,
                "models": {},
            }
        )
    )
    assert run_cli("--state", str(path), "state", "push", "--force", str(good)).returncode == 0
    assert listed(path) == []
    assert path.with_name("state.json.journal.backup").read_bytes() == before["state.json.journal"]


def test_a_journal_with_a_gap_is_refused(path: Path) -> None:
    killed_run(path, ["a", "b", "c"])
    journal = path.with_name("state.json.journal")
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + lines[2])
    result = run_cli("--state", str(path), "state", "list")
    assert result.returncode != 0
    assert "entry 2 is for serial 3, but the state is at serial 2 there" in result.stderr


def test_an_entry_carries_the_document_s_own_fields(path: Path) -> None:
    """Fields of the document itself (the API it was written for) are kept by a journal write."""
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        doc = backend.write(StateDocument())
        assert doc.endpoint is None
        stamped = doc.model_copy(update={"backend": "gemini", "endpoint": "http://127.0.0.1:1"})
        backend.write_records(stamped, {"a": record("a")})
        during = FileBackend(path).read()
        assert (during.endpoint, sorted(during.models)) == ("http://127.0.0.1:1", ["a"])
    after = json.loads(path.read_text())
    assert (after["backend"], after["endpoint"]) == ("gemini", "http://127.0.0.1:1")
