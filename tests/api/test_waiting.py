"""Following many tunings by listing, one operation by GET; fake time throughout."""

from __future__ import annotations

import httpx

from reconciler.api import ProgressUpdate
from reconciler.api.client import GeminiClient
from reconciler.live import ACTIVE, CREATING, DELETED, FAILED
from tests.api.conftest import FakeTime
from tests.api.fake_api import FakeGeminiApi


def snapshots(step: int) -> dict[str, object]:
    return {"snapshots": [{"step": s, "epoch": 1, "meanLoss": 1.0 / s} for s in range(1, step + 1)]}


class Tuner:
    """Moves the fake's CREATING models one step per poll of the list."""

    def __init__(
        self, api: FakeGeminiApi, *, steps: dict[str, int], fail: set[str] = frozenset()
    ) -> None:  # type: ignore[assignment]
        self.api = api
        self.steps = steps
        self.fail = fail
        self.done: dict[str, int] = dict.fromkeys(steps, 0)
        handler = api.handle

        def advancing(request: httpx.Request) -> httpx.Response:
            response = handler(request)
            if request.url.path.endswith("/tunedModels") and request.method == "GET":
                self.advance()
            return response

        api.handle = advancing  # type: ignore[method-assign]

    def advance(self) -> None:
        for name, total in self.steps.items():
            model = self.api.models.get(f"tunedModels/{name}")
            if model is None or model["state"] != CREATING:
                continue
            self.done[name] += 1
            model["tuningTask"] = snapshots(self.done[name])
            if self.done[name] >= total:
                model["state"] = FAILED if name in self.fail else ACTIVE


def test_many_models_are_followed_with_one_list_per_poll(
    fake_api: FakeGeminiApi, client: GeminiClient, fake_time: FakeTime
) -> None:
    for name in ("a", "b", "c"):
        fake_api.add_model(name, state=CREATING)
    fake_api.add_model("other")
    Tuner(fake_api, steps={"a": 2, "b": 4, "c": 3}, fail={"c"})
    updates: list[ProgressUpdate] = []

    result = client.wait_for_models(
        ["a", "tunedModels/b", "c"],
        timeout=None,
        poll_interval=2.0,
        total_steps={"a": 2, "b": 4, "c": 3},
        on_progress=updates.append,
    )

    assert {k: v.state for k, v in result.items()} == {
        "a": ACTIVE,
        "tunedModels/b": ACTIVE,
        "c": FAILED,
    }
    assert client.request_count == 5  # one list page per poll, nothing per model
    # The interval backs off: 2, 3, 4.5, 6.75
    assert fake_time.sleeps == [2.0, 3.0, 4.5, 6.75]
    b = [u for u in updates if u.model == "tunedModels/b"]
    assert [(u.state, u.completed_steps, u.percent) for u in b] == [
        (CREATING, 0, 0.0),
        (CREATING, 1, 25.0),
        (CREATING, 2, 50.0),
        (CREATING, 3, 75.0),
        (ACTIVE, 4, 100.0),
    ]
    assert b[-1].latest_snapshot is not None and b[-1].latest_snapshot.step == 4


def test_timeout_returns_what_is_known(
    fake_api: FakeGeminiApi, client: GeminiClient, fake_time: FakeTime
) -> None:
    fake_api.add_model("slow", state=CREATING)
    started = fake_time.now
    result = client.wait_for_models(["slow"], timeout=10.0, poll_interval=4.0)
    assert result["slow"].state == CREATING
    assert fake_time.now - started == 10.0  # never sleeps past the deadline


def test_a_vanished_model_is_reported_deleted(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    fake_api.add_model("here", state=ACTIVE)
    result = client.wait_for_models(["here", "gone"], timeout=None)
    assert result["gone"].state == DELETED and result["gone"].name == "tunedModels/gone"
    assert result["here"].state == ACTIVE


def test_few_models_in_a_big_project_are_polled_by_get(
    fake_api: FakeGeminiApi, client: GeminiClient, fake_time: FakeTime
) -> None:
    for i in range(2500):
        fake_api.add_model(f"m{i:04d}")
    fake_api.add_model("x", state=CREATING)
    polls = 0
    handler = fake_api.handle

    def finishing(request: httpx.Request) -> httpx.Response:
        nonlocal polls
        if request.url.path == "/v1beta/tunedModels/x":
            polls += 1
            if polls == 2:
                fake_api.models["tunedModels/x"]["state"] = ACTIVE
        return handler(request)

    fake_api.handle = finishing  # type: ignore[method-assign]
    result = client.wait_for_models(["x"], timeout=None)
    assert result["x"].state == ACTIVE
    assert client.request_count == 3 + 2  # one listing (3 pages), then two GETs


def test_total_steps_come_from_the_operation_when_not_given(
    fake_api: FakeGeminiApi, client: GeminiClient
) -> None:
    from reconciler.spec import AppliedSpec, Example, Hyperparameters

    spec = AppliedSpec(
        baseModel="models/gemini-1.5-flash-001-tuning",
        hyperparameters=Hyperparameters(epochCount=2, batchSize=1),
    )
    client.create_tuned_model(model_id="m", spec=spec, examples=[Example("a", "b")])
    Tuner(fake_api, steps={"m": 2})
    updates: list[ProgressUpdate] = []
    client.wait_for_models(["m"], timeout=None, on_progress=updates.append)
    assert [(u.completed_steps, u.total_steps) for u in updates] == [(0, 2), (1, 2), (2, 2)]


def test_wait_for_operation_ends_with_the_model_or_the_error(
    fake_api: FakeGeminiApi, client: GeminiClient, fake_time: FakeTime
) -> None:
    fake_api.add_model("m", state=CREATING)
    name = "tunedModels/m/operations/abc"
    fake_api.operations[name] = {
        "name": name,
        "metadata": {"totalSteps": 4, "tunedModel": "tunedModels/m"},
    }
    gets = 0
    handler = fake_api.handle

    def progressing(request: httpx.Request) -> httpx.Response:
        nonlocal gets
        gets += 1
        op = fake_api.operations[name]
        op["metadata"]["completedSteps"] = min(4, gets * 2)
        if gets == 3:
            op["done"] = True
            op["response"] = {"name": "tunedModels/m", "state": "ACTIVE"}
        return handler(request)

    fake_api.handle = progressing  # type: ignore[method-assign]
    updates: list[ProgressUpdate] = []
    final = client.wait_for_operation(
        name, timeout=None, poll_interval=1.0, on_progress=updates.append
    )
    assert final.done and final.result is not None and final.result.state == ACTIVE
    assert [(u.state, u.completed_steps) for u in updates] == [
        (CREATING, 2),
        (CREATING, 4),
        (ACTIVE, 4),
    ]

    failed = "tunedModels/m/operations/bad"
    fake_api.operations[failed] = {
        "name": failed,
        "done": True,
        "error": {"code": 13, "message": "tuning diverged"},
    }
    status = client.wait_for_operation(failed, timeout=5)
    assert (status.error_code, status.error_message, status.result) == (13, "tuning diverged", None)
