"""A replace in progress is state: recorded before its delete, finished by the next run.

Deleting the old model and creating its successor are two requests; a crash or
a rejected create between them must not leave a state that calls the model
"deleted outside the reconciler", and the summary counts the delete that
happened.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reconciler.applied import StateDocument
from reconciler.apply.executor import ApplyReport, ExecutionOptions, Outcome, execute_plan
from reconciler.apply.journal import StateJournal
from reconciler.apply.progress import PlainReporter
from reconciler.cli.apply_cmd import summarize
from reconciler.errors import InvalidArgumentError
from reconciler.live import ACTIVE, LiveModel, OperationStatus
from reconciler.manifests import load_manifests
from reconciler.plan import REASON_REPLACEMENT_INTERRUPTED, ActionKind, PlanOptions, make_plan
from reconciler.spec import AppliedSpec, DesiredState
from reconciler.state.file import FileBackend
from tests.apply.test_executor import MANIFEST, FakeApi


class Crash(BaseException):
    """The process dies here (nothing after it runs)."""


class CrashingApi(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.crash_on_create = False

    def create_tuned_model(
        self, *, model_id: str, spec: AppliedSpec, examples: object, validation: object = None
    ) -> OperationStatus:
        if self.crash_on_create:
            raise Crash
        return super().create_tuned_model(model_id=model_id, spec=spec, examples=examples)


def load(tmp_path: Path, text: str) -> DesiredState:
    (tmp_path / "models.yaml").write_text(text, encoding="utf-8")
    return load_manifests([tmp_path / "models.yaml"], root=tmp_path, use_cache=False).desired


def run(api: FakeApi, desired: DesiredState, state_path: Path) -> ApplyReport:
    backend = FileBackend(str(state_path))
    try:
        with backend.lock(command="test apply"):
            state = backend.read()
            plan = make_plan(
                desired=desired, live=list(api.models.values()), state=state, options=PlanOptions()
            )
            return execute_plan(
                plan=plan,
                client=api,  # type: ignore[arg-type]
                journal=StateJournal(backend=backend, document=state),
                datasets=dict(desired.datasets),
                reporter=PlainReporter(stream=io.StringIO()),
                options=ExecutionOptions(parallelism=1, wait=False),
            )
    finally:
        backend.close()


def stored(path: Path) -> StateDocument:
    return StateDocument.model_validate(json.loads(path.read_text(encoding="utf-8")))


def next_plan(
    api: FakeApi, desired: DesiredState, state_path: Path
) -> list[tuple[str, tuple[str, ...]]]:
    plan = make_plan(
        desired=desired,
        live=list(api.models.values()),
        state=stored(state_path),
        options=PlanOptions(),
    )
    return [(a.kind.value, a.reasons) for a in plan.actions]


@pytest.fixture
def applied(tmp_path: Path) -> tuple[CrashingApi, DesiredState, Path]:
    """alpha created and ACTIVE; the manifest then asks for 2 epochs (a replace)."""
    api = CrashingApi()
    state_path = tmp_path / "state.json"
    run(api, load(tmp_path, MANIFEST), state_path)
    api.models["tunedModels/alpha"] = LiveModel(
        name="tunedModels/alpha", state=ACTIVE, display_name="Alpha"
    )
    retrain = load(tmp_path, MANIFEST.replace("epochCount: 1", "epochCount: 2"))
    assert next_plan(api, retrain, state_path)[0][0] == ActionKind.REPLACE.value
    return api, retrain, state_path


def test_a_rejected_create_after_the_delete_is_counted_and_finished_next_time(
    applied: tuple[CrashingApi, DesiredState, Path],
) -> None:
    api, retrain, state_path = applied
    api.create_error = InvalidArgumentError("quota for tuning exhausted", code=400)

    report = run(api, retrain, state_path)

    [result] = report.results
    assert result.outcome is Outcome.FAILED
    assert "quota for tuning exhausted; the old model is deleted" in result.detail
    assert (
        summarize(report)
        == "0 created, 0 updated, 0 replaced, 1 deleted; 1 failed, 0 skipped, 0 still tuning."
    )
    assert "tunedModels/alpha" not in api.models
    assert next_plan(api, retrain, state_path) == [("create", (REASON_REPLACEMENT_INTERRUPTED,))]

    api.create_error = None
    assert [r.outcome for r in run(api, retrain, state_path).results] == [Outcome.IN_FLIGHT]
    record = stored(state_path).models["alpha"]
    assert not record.replacing and record.pendingCreate is None
    assert record.applied is not None and record.applied.hyperparameters.epochCount == 2


def test_a_crash_after_the_delete_leaves_a_replacement_to_finish(
    applied: tuple[CrashingApi, DesiredState, Path],
) -> None:
    api, retrain, state_path = applied
    api.crash_on_create = True

    with pytest.raises(Crash):
        run(api, retrain, state_path)

    assert "tunedModels/alpha" not in api.models
    record = stored(state_path).models["alpha"]
    assert record.replacing
    assert next_plan(api, retrain, state_path) == [("create", (REASON_REPLACEMENT_INTERRUPTED,))]
    api.crash_on_create = False
    run(api, retrain, state_path)
    assert api.create_calls == 2  # the first create and the successor, nothing twice


def test_a_replace_recorded_but_never_started_is_dropped_when_the_manifest_goes_back(
    applied: tuple[CrashingApi, DesiredState, Path], tmp_path: Path
) -> None:
    api, retrain, state_path = applied
    original = load(tmp_path, MANIFEST)
    doc = stored(state_path)
    record = doc.models["alpha"]
    assert retrain.models["alpha"].spec != record.applied
    doc.models["alpha"] = record.model_copy(
        update={"pendingCreate": retrain.models["alpha"].spec, "replacing": True}
    )
    state_path.write_text(doc.model_dump_json(), encoding="utf-8")

    assert next_plan(api, original, state_path) == [("noop", ())]
    run(api, original, state_path)

    record = stored(state_path).models["alpha"]
    assert not record.replacing and record.pendingCreate is None
    assert "tunedModels/alpha" in api.models
