"""A finished tuning is concluded in one place, by apply and by `wait` alike, gate included.

The gate is the seam evaluations plug into: a model that is ACTIVE but does
not pass it is reported as failed with the gate's reason, and the state says
why; a model that passes (or has no gate) is ACTIVE and concluded.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from reconciler.api.client import GeminiClient
from reconciler.applied import StateDocument
from reconciler.apply.conclusion import GateResult
from reconciler.apply.executor import ApplyReport, ExecutionOptions, Outcome, execute_plan
from reconciler.apply.journal import StateJournal
from reconciler.apply.progress import PlainReporter
from reconciler.apply.waiting import wait_run
from reconciler.live import ACTIVE, LiveModel
from reconciler.manifests import load_manifests
from reconciler.plan import PlanOptions, make_plan
from reconciler.spec import DesiredState
from reconciler.state.file import FileBackend
from tests.api.conftest import FakeTime
from tests.api.fake_api import FakeGeminiApi
from tests.apply.test_executor import MANIFEST


@pytest.fixture
def desired(tmp_path: Path) -> DesiredState:
    (tmp_path / "models.yaml").write_text(MANIFEST, encoding="utf-8")
    return load_manifests([tmp_path / "models.yaml"], root=tmp_path, use_cache=False).desired


def finish_on_list(api: FakeGeminiApi, state: str = ACTIVE) -> None:
    """Every CREATING model of ``api`` reaches ``state`` at the next listing."""
    handler = api.handle

    def finishing(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/tunedModels"):
            for model in api.models.values():
                if model["state"] == "CREATING":
                    model["state"] = state
        return handler(request)

    api.handle = finishing  # type: ignore[method-assign]


class RecordingGate:
    def __init__(self, result: GateResult) -> None:
        self.result = result
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, model: str, live: LiveModel) -> GateResult:
        self.seen.append((model, live.name, live.state))
        return self.result


def apply(
    client: GeminiClient,
    desired: DesiredState,
    backend: FileBackend,
    fake_time: FakeTime,
    *,
    wait: bool,
    gate: RecordingGate,
) -> ApplyReport:
    with backend.lock(command="test apply"):
        state = backend.read()
        plan = make_plan(desired=desired, live=[], state=state, options=PlanOptions())
        return execute_plan(
            plan=plan,
            client=client,
            journal=StateJournal(backend=backend, document=state),
            datasets=dict(desired.datasets),
            reporter=PlainReporter(stream=io.StringIO()),
            options=ExecutionOptions(parallelism=1, wait=wait),
            clock=fake_time.clock,
            sleep=fake_time.sleep,
            gate=gate,
        )


def stored(path: Path) -> StateDocument:
    return StateDocument.model_validate(json.loads(path.read_text(encoding="utf-8")))


FAILING = GateResult(passed=False, detail="evaluation failed: exactMatch 0.50 < 0.90")


@pytest.mark.parametrize("gate_result", [GateResult(passed=True), FAILING])
def test_apply_concludes_through_the_gate(
    tmp_path: Path,
    desired: DesiredState,
    fake_api: FakeGeminiApi,
    client: GeminiClient,
    fake_time: FakeTime,
    gate_result: GateResult,
) -> None:
    finish_on_list(fake_api)
    backend = FileBackend(str(tmp_path / "state.json"))
    gate = RecordingGate(gate_result)
    try:
        report = apply(client, desired, backend, fake_time, wait=True, gate=gate)
    finally:
        backend.close()

    assert gate.seen == [("alpha", "tunedModels/alpha", ACTIVE)]
    [result] = report.results
    record = stored(tmp_path / "state.json").models["alpha"]
    assert record.operation is None  # the tuning is over either way
    if gate_result.passed:
        assert (result.outcome, result.detail) == (Outcome.SUCCEEDED, "ACTIVE")
        assert record.lastError is None
    else:
        assert result.outcome is Outcome.FAILED
        assert result.detail == FAILING.detail
        assert record.lastError == FAILING.detail
        assert not report.ok


def test_wait_concludes_through_the_same_gate(
    tmp_path: Path,
    desired: DesiredState,
    fake_api: FakeGeminiApi,
    client: GeminiClient,
    fake_time: FakeTime,
) -> None:
    backend = FileBackend(str(tmp_path / "state.json"))
    gate = RecordingGate(FAILING)
    try:
        report = apply(client, desired, backend, fake_time, wait=False, gate=gate)
        assert [r.outcome for r in report.results] == [Outcome.IN_FLIGHT]
        assert gate.seen == []  # nothing finished yet
        finish_on_list(fake_api)
        result = wait_run(
            client=client,
            backend=backend,
            names=[],
            timeout=None,
            reporter=PlainReporter(stream=io.StringIO()),
            lock_timeout=0,
            warn=lambda message: None,
            gate=gate,
        )
    finally:
        backend.close()

    assert gate.seen == [("alpha", "tunedModels/alpha", ACTIVE)]
    assert result.failed == {"alpha": FAILING.detail}
    record = stored(tmp_path / "state.json").models["alpha"]
    assert record.operation is None and record.lastError == FAILING.detail


def test_wait_records_a_failed_tuning_with_its_error(
    tmp_path: Path,
    desired: DesiredState,
    fake_api: FakeGeminiApi,
    client: GeminiClient,
    fake_time: FakeTime,
) -> None:
    backend = FileBackend(str(tmp_path / "state.json"))
    gate = RecordingGate(GateResult(passed=True))
    try:
        apply(client, desired, backend, fake_time, wait=False, gate=gate)
        for operation in fake_api.operations.values():
            operation.update(done=True, error={"code": 13, "message": "loss diverged"})
        finish_on_list(fake_api, state="FAILED")
        result = wait_run(
            client=client,
            backend=backend,
            names=["alpha"],
            timeout=None,
            reporter=PlainReporter(stream=io.StringIO()),
            lock_timeout=0,
            warn=lambda message: None,
            gate=gate,
        )
    finally:
        backend.close()

    assert gate.seen == []  # a failed tuning is never evaluated
    assert result.failed == {"alpha": "tuning failed: loss diverged"}
    assert stored(tmp_path / "state.json").models["alpha"].lastError == (
        "tuning failed: loss diverged"
    )
