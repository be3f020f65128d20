"""A plan reads the state file with its records kept as text (``FileBackend.read_deferred``):
every planner case gives the very same plan, or the very same error, as from the state read whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.applied import StateDocument
from reconciler.errors import PlanError
from reconciler.plan import Plan, make_plan
from reconciler.recorded import StoredRecords
from reconciler.state import dump_document
from reconciler.state.file import FileBackend
from tests.plan.cases import case_files, case_inputs, load_case


def stored(doc: StateDocument, path: Path) -> StateDocument:
    """``doc`` as the file backend writes it, read back for a plan."""
    path.write_text(dump_document(doc), encoding="utf-8")
    return FileBackend(path).read_deferred()


def outcome(inputs: dict[str, Any]) -> Plan | str:
    try:
        return make_plan(**inputs)
    except PlanError as exc:
        return f"PlanError: {exc.message} / {exc.hint}"


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_every_case_plans_the_same_from_stored_records(path: Path, tmp_path: Path) -> None:
    inputs = case_inputs(load_case(path))
    deferred = stored(inputs["state"], tmp_path / "state.json")
    if inputs["state"].models:
        assert isinstance(deferred.models, StoredRecords)
    assert outcome({**inputs, "state": deferred}) == outcome(inputs)
