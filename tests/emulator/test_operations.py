"""Long-running operations: lazy progress from the injected clock, done, failed, cancelled."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.emulator.conftest import FakeClock, MakeClient, create_body

METADATA = "type.googleapis.com/google.ai.generativelanguage.v1beta.CreateTunedModelMetadata"
TUNED_MODEL = "type.googleapis.com/google.ai.generativelanguage.v1beta.TunedModel"


def test_progress_moves_with_the_clock_and_ends_active(
    client: TestClient, clock: FakeClock
) -> None:
    op = client.post(
        "/v1beta/tunedModels?tunedModelId=inc", json=create_body(examples=4, epochs=2, batch=2)
    ).json()
    name = op["name"]
    clock.advance(2.5)
    mid = client.get(f"/v1beta/{name}").json()
    assert set(mid) == {"name", "metadata"}
    meta = mid["metadata"]
    assert (meta["totalSteps"], meta["completedSteps"], meta["completedPercent"]) == (4, 2, 50.0)
    assert [set(s) for s in meta["snapshots"]] == [{"step", "epoch", "meanLoss", "computeTime"}] * 2
    assert [s["epoch"] for s in meta["snapshots"]] == [1, 1]
    model = client.get("/v1beta/tunedModels/inc").json()
    assert model["state"] == "CREATING"
    assert len(model["tuningTask"]["snapshots"]) == 2 and "completeTime" not in model["tuningTask"]

    clock.advance(10)
    done = client.get(f"/v1/{name}").json()  # the /v1 route the notebooks poll
    assert done["done"] is True and "error" not in done
    assert done["metadata"]["completedSteps"] == 4 and done["metadata"]["completedPercent"] == 100.0
    response = done["response"]
    assert response["@type"] == TUNED_MODEL and response["state"] == "ACTIVE"
    snaps = response["tuningTask"]["snapshots"]
    assert [s["step"] for s in snaps] == [1, 2, 3, 4] and [s["epoch"] for s in snaps] == [
        1,
        1,
        2,
        2,
    ]
    losses = [s["meanLoss"] for s in snaps]
    assert losses == sorted(losses, reverse=True)
    assert response["tuningTask"]["completeTime"] == "2023-11-14T22:13:24.000000Z"
    assert response["updateTime"] == "2023-11-14T22:13:24.000000Z"
    assert client.get("/v1beta/tunedModels/inc").json()["state"] == "ACTIVE"


def test_zero_step_seconds_completes_at_once(make_client: MakeClient) -> None:
    client = make_client(step_seconds=0)
    op = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()
    assert op["done"] is True and op["response"]["state"] == "ACTIVE"


def test_tuning_failure_is_reproducible_and_well_formed(
    make_client: MakeClient, clock: FakeClock
) -> None:
    def failed_ids(seed: int) -> list[str]:
        client = make_client(seed=seed, tuning_fail_rate=0.5, step_seconds=0)
        out = []
        for i in range(20):
            op = client.post(f"/v1beta/tunedModels?tunedModelId=m{i}", json=create_body()).json()
            if "error" in op:
                assert "response" not in op and op["done"] is True
                assert op["error"] == {
                    "code": 13,
                    "message": "Tuning failed: the training job stopped with an internal error.",
                }
                assert client.get(f"/v1beta/tunedModels/m{i}").json()["state"] == "FAILED"
                out.append(f"m{i}")
        return out

    first = failed_ids(11)
    assert 0 < len(first) < 20
    assert failed_ids(11) == first


def test_cancel_ends_with_cancelled_and_failed_model(client: TestClient, clock: FakeClock) -> None:
    name = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body(examples=8)).json()[
        "name"
    ]
    clock.advance(1.5)
    r = client.post(f"/v1/{name}:cancel", json={})
    assert (r.status_code, r.json()) == (200, {})
    clock.advance(100)
    op = client.get(f"/v1beta/{name}").json()
    assert op["done"] is True and op["error"] == {"code": 1, "message": "Operation cancelled."}
    assert "response" not in op and op["metadata"]["completedSteps"] == 1
    assert client.get("/v1beta/tunedModels/inc").json()["state"] == "FAILED"
    # Cancelling a finished operation changes nothing.
    assert client.post(f"/v1beta/{name}:cancel").json() == {}


def test_operation_list_and_missing_operation(client: TestClient) -> None:
    name = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()["name"]
    listed = client.get("/v1/tunedModels/inc/operations?pageSize=5").json()
    assert [o["name"] for o in listed["operations"]] == [name]
    assert listed["operations"][0]["metadata"]["@type"] == METADATA
    r = client.get("/v1beta/tunedModels/inc/operations/zzzzzzzzzzzz")
    assert r.status_code == 404
    assert (
        r.json()["error"]["message"]
        == "Operation tunedModels/inc/operations/zzzzzzzzzzzz does not exist."
    )
    assert client.get("/v1beta/tunedModels/nope/operations").status_code == 404


def test_int_enums_in_done_operation(client: TestClient, clock: FakeClock) -> None:
    name = client.post("/v1beta/tunedModels?tunedModelId=inc", json=create_body()).json()["name"]
    clock.advance(100)
    op = client.get(f"/v1beta/{name}?%24alt=json%3Benum-encoding%3Dint").json()
    assert op["response"]["state"] == 2


def test_mean_loss_falls_at_every_step_for_short_and_long_tunings() -> None:
    from reconciler.emulator.tuning import mean_loss

    for total in (2, 5, 19, 300, 3000):
        for model_id in ("a", "slow", "number-generator-wl1qr34x2py"):
            losses = [mean_loss(model_id, step, total) for step in range(1, total + 1)]
            rises = [s for s in range(1, total) if losses[s] > losses[s - 1]]
            assert rises == [], f"{model_id}: loss rises at steps {rises[:5]} of {total}"
