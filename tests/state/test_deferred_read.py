"""``read_deferred``: the state as a plan reads it, its records kept as stored text.

The same document as ``read`` on both backends; an unchanged record is settled
by its text, one that differs in any field is read whole, and a damaged
record is reported with its place wherever it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import StateCorruptError
from reconciler.plan import PlanOptions, make_plan
from reconciler.recorded import StoredRecords
from reconciler.state import dump_document
from reconciler.state.file import FileBackend
from reconciler.state.postgres import PostgresBackend
from tests.plan.cases import case_inputs
from tests.plan.test_stored_records import outcome

NAMES = ("alpha", "beta", "gamma")


def inputs(**state_overrides: dict[str, Any]) -> dict[str, Any]:
    """Three models, all live and applied as the manifests say, unless overridden."""
    models = {name: {"applied": {}} for name in NAMES}
    models.update(state_overrides)
    return case_inputs(
        {
            "manifests": [
                {
                    "name": name,
                    "displayName": f"Model «{name}»",  # non-ASCII: written as is, not escaped
                    "description": 'says "hi"\nand bye',
                    "temperature": 0.1,
                    "topK": 40,
                    "readerProjectNumbers": ["123", "45"],
                    "hyperparameters": {"learningRate": 1e-05, "epochCount": 3},
                }
                for name in NAMES
            ],
            "live": [{"id": name} for name in NAMES],
            "state": {"models": models},
        }
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


def written(path: Path, doc: StateDocument) -> FileBackend:
    path.write_text(dump_document(doc), encoding="utf-8")
    return FileBackend(path)


def test_unchanged_records_are_settled_by_their_text_and_plan_the_same(path: Path) -> None:
    given = inputs()
    backend = written(path, given["state"])
    deferred = backend.read_deferred()
    records = deferred.models
    assert isinstance(records, StoredRecords)
    specs = {name: model.spec for name, model in given["desired"].models.items()}
    assert [records.settled_name(n, specs[n]) for n in NAMES] == [f"tunedModels/{n}" for n in NAMES]
    assert make_plan(**{**given, "state": deferred}) == make_plan(**given)
    assert deferred.model_copy(update={"models": dict(records)}) == backend.read()


@pytest.mark.parametrize(
    "override",
    [
        {"applied": {"description": 'says "hi"\nand bye!'}},  # one character of one field
        {"applied": {"temperature": 0.10000000000000002}},  # the next float
        {"applied": {"hyperparameters": {"learningRate": 1e-05, "epochCount": 4}}},
        {"applied": {}, "operation": "tunedModels/beta/operations/1"},
        {"applied": {}, "preventDestroy": True, "updateTime": "2024-05-01T10:00:00Z"},
        {"applied": {}, "generation": 2},
        {"applied": {}, "evaluations": {"tunedModels/beta": {}}},
        {"applied": None, "pendingCreate": {}},
    ],
    ids=[
        "description",
        "temperature",
        "hyperparameter",
        "operation",
        "at-rest-protected",
        "generation",
        "evaluations",
        "pending-create",
    ],
)
def test_a_record_that_differs_in_one_field_plans_as_read_whole(
    path: Path, override: dict[str, Any]
) -> None:
    given = inputs(beta=override)
    deferred = written(path, given["state"]).read_deferred()
    assert isinstance(deferred.models, StoredRecords)
    assert make_plan(**{**given, "state": deferred}) == make_plan(**given)


def test_only_a_record_at_rest_with_the_same_spec_is_settled(path: Path) -> None:
    given = inputs(
        beta={"applied": {"description": "other"}},
        gamma={"applied": {}, "lastError": "tuning failed"},
    )
    records = written(path, given["state"]).read_deferred().models
    assert isinstance(records, StoredRecords)
    specs = {name: model.spec for name, model in given["desired"].models.items()}
    assert records.settled_name("alpha", specs["alpha"]) == "tunedModels/alpha"
    assert records.settled_name("beta", specs["beta"]) is None
    assert records.settled_name("gamma", specs["gamma"]) is None
    assert records.settled_name("alpha", specs["beta"]) is None  # another model's spec


def damaged(path: Path, doc: StateDocument, name: str) -> FileBackend:
    """``doc`` written, with ``name``'s ``applied.topK`` made a word."""
    text = dump_document(doc)
    at = text.index(f'"{name}": {{')
    cut = text.index('"topK": 40', at)
    path.write_text(text[:cut] + '"topK": "many"' + text[cut + len('"topK": 40') :])
    return FileBackend(path)


@pytest.mark.parametrize(
    ("manifests", "options"),
    [
        (NAMES, PlanOptions()),  # the damaged record is planned
        (("alpha", "gamma"), PlanOptions()),  # it is to be deleted
        (NAMES, PlanOptions(targets=frozenset({"alpha"}))),  # it is outside the plan's scope
    ],
    ids=["planned", "removed", "not-targeted"],
)
def test_a_damaged_record_is_reported_with_its_place_as_a_whole_read_reports_it(
    path: Path, manifests: tuple[str, ...], options: PlanOptions
) -> None:
    given = inputs()
    backend = damaged(path, given["state"], "beta")
    with pytest.raises(StateCorruptError) as whole:
        backend.read()
    assert "models.beta.applied.topK" in whole.value.message
    deferred = backend.read_deferred()
    desired = given["desired"]
    desired = desired.__class__(models={n: desired.models[n] for n in manifests})
    with pytest.raises(StateCorruptError) as planned:
        make_plan(desired=desired, live=given["live"], state=deferred, options=options)
    assert planned.value.message == whole.value.message
    assert planned.value.hint == whole.value.hint


def test_journal_entries_replace_and_remove_stored_records(path: Path) -> None:
    given = inputs()
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        doc = backend.write(backend.read().model_copy(update={"models": given["state"].models}))
        changed = doc.models["alpha"].model_copy(update={"updateTime": "2024-06-01T00:00:00Z"})
        backend.write_records(doc, {"alpha": changed, "gamma": None})
        assert path.with_name("state.json.journal").stat().st_size > 0
        reader = FileBackend(path)
        whole = reader.read()
        deferred = reader.read_deferred()
        assert isinstance(deferred.models, StoredRecords)
        assert sorted(deferred.models) == ["alpha", "beta"]
        assert deferred.model_copy(update={"models": dict(deferred.models)}) == whole
        # gamma is live and in the manifests but no longer managed: the same conflict
        assert outcome({**given, "state": deferred}) == outcome({**given, "state": whole})
        assert "gamma exists but this state does not manage it" in str(
            outcome(given | {"state": whole})
        )


def test_a_state_not_laid_out_as_written_is_read_whole(path: Path) -> None:
    given = inputs()
    path.write_text(given["state"].model_dump_json())  # one line: valid, not canonical
    deferred = FileBackend(path).read_deferred()
    assert not isinstance(deferred.models, StoredRecords)
    assert deferred == FileBackend(path).read()


def test_an_escaped_record_name_is_read_whole(path: Path) -> None:
    doc = StateDocument(models={'odd"name': ModelRecord(name="tunedModels/odd")})
    deferred = written(path, doc).read_deferred()
    assert not isinstance(deferred.models, StoredRecords)
    assert deferred == doc


def test_postgres_reads_the_same_document_for_a_plan(pg_uri: str) -> None:
    given = inputs()
    backend = PostgresBackend(pg_uri)
    try:
        with backend.lock(command="apply"):
            stored = backend.write(
                backend.read().model_copy(update={"models": given["state"].models})
            )
        assert backend.read_deferred() == stored == backend.read()
        assert make_plan(**{**given, "state": backend.read_deferred()}) == make_plan(
            **{**given, "state": stored}
        )
    finally:
        backend.close()
