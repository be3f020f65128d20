"""The executor's 409 rules, against a fake API that behaves and a real state file.

A create answered 409 after a retry is our own earlier attempt whose answer was
lost: it is adopted. A 409 on the first attempt is somebody else's model: it is
never adopted and the intent is rolled back. A definite rejection rolls the
intent back; an uncertain failure keeps it for the next run.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.applied import StateDocument
from reconciler.apply.executor import ApplyReport, ExecutionOptions, Outcome, execute_plan
from reconciler.apply.journal import StateJournal
from reconciler.apply.progress import PlainReporter
from reconciler.capabilities import GEMINI_CAPABILITIES
from reconciler.errors import (
    AlreadyExistsError,
    ApiError,
    InvalidArgumentError,
    NotFoundError,
    StateConflictError,
    UnavailableError,
)
from reconciler.live import ACTIVE, CREATING, LiveModel, OperationStatus
from reconciler.manifests import load_manifests
from reconciler.plan import PlanOptions, make_plan
from reconciler.spec import AppliedSpec, DesiredState, LoadedDataset
from reconciler.state.file import FileBackend

MANIFEST = """
apiVersion: gemini.tuning/v1
kind: Dataset
metadata: {name: numbers}
spec:
  examples: [{textInput: "1", output: "2"}, {textInput: "2", output: "3"}]
---
apiVersion: gemini.tuning/v1
kind: TunedModel
metadata: {name: alpha}
spec:
  displayName: Alpha
  baseModel: models/gemini-1.5-flash-001-tuning
  tuningTask: {trainingData: numbers, hyperparameters: {epochCount: 1, batchSize: 2}}
"""


class FakeApi:
    """Tuned models and their operations in memory; ``create_error`` is what the next create raises."""

    capabilities = GEMINI_CAPABILITIES

    def __init__(self) -> None:
        self.models: dict[str, LiveModel] = {}
        self.operations: dict[str, list[OperationStatus]] = {}
        self.create_error: ApiError | None = None
        self.create_calls = 0

    def add(self, model_id: str, *, state: str = CREATING) -> None:
        name = f"tunedModels/{model_id}"
        self.models[name] = LiveModel(name=name, state=state, display_name="Somebody's")
        self.operations[name] = [OperationStatus(name=f"{name}/operations/op-1", model=name)]

    def create_tuned_model(
        self, *, model_id: str, spec: AppliedSpec, examples: object, validation: object = None
    ) -> OperationStatus:
        self.create_calls += 1
        if self.create_error is not None:
            raise self.create_error
        self.add(model_id)
        return self.operations[f"tunedModels/{model_id}"][-1]

    def list_operations(self, name: str) -> list[OperationStatus]:
        return list(self.operations.get(name, []))

    def get_tuned_model(self, name: str) -> LiveModel:
        if name not in self.models:
            raise NotFoundError(f"{name} not found", code=404)
        return self.models[name]

    def list_tuned_models(self) -> Iterator[LiveModel]:
        return iter(list(self.models.values()))

    def delete_tuned_model(self, name: str) -> None:
        if self.models.pop(name, None) is None:
            raise NotFoundError(f"{name} not found", code=404)


@pytest.fixture
def desired(tmp_path: Path) -> DesiredState:
    (tmp_path / "models.yaml").write_text(MANIFEST, encoding="utf-8")
    return load_manifests([tmp_path / "models.yaml"], root=tmp_path, use_cache=False).desired


def run_create(api: FakeApi, desired: DesiredState, state_path: Path) -> ApplyReport:
    """Plan the create against an empty API, then let ``api`` answer it; wait=False."""
    backend = FileBackend(str(state_path))
    try:
        with backend.lock(command="test apply"):
            state = backend.read()
            plan = make_plan(desired=desired, live=[], state=state, options=PlanOptions())
            datasets: dict[str, LoadedDataset] = dict(desired.datasets)
            return execute_plan(
                plan=plan,
                client=api,  # type: ignore[arg-type]
                journal=StateJournal(backend=backend, document=state),
                datasets=datasets,
                reporter=PlainReporter(stream=io.StringIO()),
                options=ExecutionOptions(parallelism=1, wait=False),
            )
    finally:
        backend.close()


def stored(state_path: Path) -> StateDocument:
    return StateDocument.model_validate(json.loads(state_path.read_text(encoding="utf-8")))


def test_a_409_after_a_retried_create_adopts_the_model(
    tmp_path: Path, desired: DesiredState
) -> None:
    api = FakeApi()
    api.add("alpha")  # the first attempt landed; its answer was lost
    error = AlreadyExistsError("tunedModels/alpha already exists", code=409)
    error.after_retry = True
    api.create_error = error

    report = run_create(api, desired, tmp_path / "state.json")

    assert [r.outcome for r in report.results] == [Outcome.IN_FLIGHT]
    record = stored(tmp_path / "state.json").models["alpha"]
    assert record.applied is not None and record.applied.displayName == "Alpha"
    assert record.pendingCreate is None
    assert record.operation == "tunedModels/alpha/operations/op-1"


def test_a_409_on_the_first_attempt_is_never_adopted(tmp_path: Path, desired: DesiredState) -> None:
    api = FakeApi()
    api.add("alpha", state=ACTIVE)  # somebody else's model
    api.create_error = AlreadyExistsError("tunedModels/alpha already exists", code=409)

    report = run_create(api, desired, tmp_path / "state.json")

    [result] = report.results
    assert result.outcome is Outcome.FAILED
    assert "reconciler import alpha tunedModels/alpha" in result.detail
    assert not report.ok
    assert "alpha" not in stored(tmp_path / "state.json").models


def test_a_rejected_create_rolls_the_intent_back(tmp_path: Path, desired: DesiredState) -> None:
    api = FakeApi()
    api.create_error = InvalidArgumentError("bad hyperparameters", code=400)

    report = run_create(api, desired, tmp_path / "state.json")

    assert [r.outcome for r in report.results] == [Outcome.FAILED]
    assert "bad hyperparameters" in report.results[0].detail
    assert stored(tmp_path / "state.json").models == {}


def test_an_uncertain_create_keeps_the_intent_for_the_next_run(
    tmp_path: Path, desired: DesiredState
) -> None:
    api = FakeApi()
    api.create_error = UnavailableError("no answer", code=503)

    report = run_create(api, desired, tmp_path / "state.json")

    assert [r.outcome for r in report.results] == [Outcome.FAILED]
    record = stored(tmp_path / "state.json").models["alpha"]
    assert record.applied is None
    assert record.pendingCreate is not None and record.pendingCreate.displayName == "Alpha"


class RecordingApi(FakeApi):
    """Also counts the updates and deletes that reach the API."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def update_tuned_model(self, name: str, *, spec: AppliedSpec, update_mask: object) -> LiveModel:
        self.sent.append(f"PATCH {name}")
        return self.models[name]

    def delete_tuned_model(self, name: str) -> None:
        self.sent.append(f"DELETE {name}")
        super().delete_tuned_model(name)


@pytest.mark.parametrize("change", ["update", "delete"])
def test_a_force_unlocked_run_sends_no_update_or_delete(
    tmp_path: Path, desired: DesiredState, change: str
) -> None:
    state_path = tmp_path / "state.json"
    api = RecordingApi()
    assert run_create(api, desired, state_path).results[0].outcome is Outcome.IN_FLIGHT
    api.models["tunedModels/alpha"] = LiveModel(
        name="tunedModels/alpha", state=ACTIVE, display_name="Renamed by hand"
    )
    wanted = desired if change == "update" else DesiredState()
    backend = FileBackend(str(state_path))
    try:
        with backend.lock(command="apply") as held:
            state = backend.read()
            plan = make_plan(
                desired=wanted, live=list(api.models.values()), state=state, options=PlanOptions()
            )
            assert [a.kind.value for a in plan.actions] == [change]
            # Another shell: `reconciler force-unlock LOCK_ID` while this run waits to confirm.
            FileBackend(str(state_path)).force_unlock(held.info.id)
            with pytest.raises(StateConflictError, match="no longer holds the lock"):
                execute_plan(
                    plan=plan,
                    client=api,  # type: ignore[arg-type]
                    journal=StateJournal(backend=backend, document=state),
                    datasets=dict(wanted.datasets),
                    reporter=PlainReporter(stream=io.StringIO()),
                    options=ExecutionOptions(parallelism=1, wait=False),
                )
    finally:
        backend.close()

    assert api.sent == []
    assert "tunedModels/alpha" in api.models


def test_adopting_a_replacements_create_ends_the_replacement(
    tmp_path: Path, desired: DesiredState
) -> None:
    # A replace deleted the old model and sent the create; the run died before the
    # answer was recorded. The next apply finds the new model ACTIVE and adopts it.
    state_path = tmp_path / "state.json"
    api = FakeApi()
    assert run_create(api, desired, state_path).results[0].outcome is Outcome.IN_FLIGHT
    api.models["tunedModels/alpha"] = LiveModel(
        name="tunedModels/alpha", state=ACTIVE, display_name="Alpha"
    )
    interrupted = stored(state_path)
    record = interrupted.models["alpha"]
    interrupted.models["alpha"] = record.model_copy(
        update={"applied": None, "pendingCreate": record.applied, "replacing": True}
    )
    state_path.write_text(interrupted.model_dump_json(), encoding="utf-8")
    backend = FileBackend(str(state_path))
    try:
        with backend.lock(command="apply"):
            state = backend.read()
            plan = make_plan(
                desired=desired, live=list(api.models.values()), state=state, options=PlanOptions()
            )
            assert [a.kind.value for a in plan.actions] == ["noop"]
            execute_plan(
                plan=plan,
                client=api,  # type: ignore[arg-type]
                journal=StateJournal(backend=backend, document=state),
                datasets=dict(desired.datasets),
                reporter=PlainReporter(stream=io.StringIO()),
                options=ExecutionOptions(parallelism=1, wait=False),
            )
    finally:
        backend.close()

    adopted = stored(state_path).models["alpha"]
    assert adopted.applied is not None and adopted.pendingCreate is None
    assert adopted.replacing is False
