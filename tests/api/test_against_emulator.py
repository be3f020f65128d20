"""The client over real sockets against the served emulator, with and without faults."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.client import GeminiClient
from reconciler.errors import AlreadyExistsError, NotFoundError
from reconciler.live import ACTIVE, DELETED
from reconciler.spec import AppliedSpec, Example, Hyperparameters
from tests.support.servers import ServedEmulator, serve_emulator

SPEC = AppliedSpec(
    baseModel="models/gemini-1.5-flash-001-tuning",
    displayName="Increment",
    hyperparameters=Hyperparameters(epochCount=1, batchSize=1),
)
EXAMPLES = [Example(text_input="1", output="2")]
# Fast retries: the emulator's RetryInfo asks for 0.05 s; the per-call
# attempts allow for a 30% fault rate (0.3**12 ~ 5e-7 per call).
FAST_RETRY = RetryPolicy(max_attempts=12, initial_delay=0.01, max_delay=0.2, budget=2000)


def client_for(server: ServedEmulator, **kwargs: Any) -> GeminiClient:
    credentials = Credentials.resolve(api_key=None, access_token=None, endpoint=server.url)
    return GeminiClient(endpoint=server.url, credentials=credentials, **kwargs)


def requests_of(server: ServedEmulator, route: str) -> int:
    requests = server.stats()["requests"]
    assert isinstance(requests, dict)
    return int(requests.get(route, 0))


def create(client: GeminiClient, model_id: str) -> str:
    """Create a model the way apply does: a 409 after a lost answer means it is ours."""
    try:
        return client.create_tuned_model(model_id=model_id, spec=SPEC, examples=EXAMPLES).model
    except AlreadyExistsError as error:
        if not error.after_retry:
            raise
        return client.get_tuned_model(model_id).name


@pytest.fixture(scope="module")
def faulty() -> Iterator[ServedEmulator]:
    with serve_emulator(
        "--fault-rate", "0.3", "--latency-ms", "5", "--seed", "11", "--step-seconds", "0"
    ) as server:
        yield server


def test_every_call_survives_faults_and_no_create_is_duplicated(faulty: ServedEmulator) -> None:
    ids = [f"fault-{i:03d}" for i in range(40)]
    with client_for(faulty, retry=FAST_RETRY) as client, ThreadPoolExecutor(16) as pool:
        names = list(pool.map(lambda i: create(client, i), ids))
        assert names == [f"tunedModels/{i}" for i in ids]

        done = client.wait_for_models(names, timeout=60, poll_interval=0.05)
        assert {m.state for m in done.values()} == {ACTIVE}

        listed = {m.name for m in client.list_tuned_models(page_size=7)}
        assert set(names) <= listed

        patched = list(
            pool.map(
                lambda n: client.update_tuned_model(
                    n,
                    spec=SPEC.model_copy(update={"displayName": "Renamed"}),
                    update_mask=["displayName"],
                ),
                names[:10],
            )
        )
        assert {m.display_name for m in patched} == {"Renamed"}
        assert client.get_tuned_model(names[0]).display_name == "Renamed"

        list(pool.map(client.delete_tuned_model, names[10:20]))
        for name in names[10:20]:
            with pytest.raises(NotFoundError):
                client.get_tuned_model(name)
        assert client.retry_count > 0  # the faults really happened

    creates = faulty.stats()["creates"]
    assert isinstance(creates, dict)
    assert {creates[i] for i in ids} == {1}


def test_refreshing_2500_models_is_three_list_requests(emulator: ServedEmulator) -> None:
    ids = [f"bulk-{i:04d}" for i in range(2500)]
    with client_for(emulator) as client:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: create(client, i), ids))
        before = requests_of(emulator, "GET /v1beta/tunedModels")
        sent = client.request_count

        models = list(client.list_tuned_models())

        assert len(models) == 2500
        assert requests_of(emulator, "GET /v1beta/tunedModels") - before == 3
        assert client.request_count - sent == 3

        # Waiting for all of them polls with the same three pages, not 2,500 GETs.
        sent = client.request_count
        done = client.wait_for_models(ids, timeout=30, poll_interval=0.01)
        assert {m.state for m in done.values()} == {ACTIVE}
        assert client.request_count - sent == 3


def test_a_list_without_snapshots_is_the_full_list_minus_snapshots(
    emulator: ServedEmulator,
) -> None:
    """The partial response (``fields``) keeps every field the planner reads, in as many pages."""
    ten_steps = SPEC.model_copy(
        update={"hyperparameters": Hyperparameters(epochCount=10, batchSize=1)}
    )
    ids = [f"part-{i:04d}" for i in range(1200)]
    with client_for(emulator) as client:
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: client.create_tuned_model(
                        model_id=i, spec=ten_steps, examples=EXAMPLES
                    ),
                    ids,
                )
            )
        child = ten_steps.model_copy(
            update={"baseModel": None, "tunedModelSource": f"tunedModels/{ids[0]}"}
        )
        client.create_tuned_model(model_id="part-child", spec=child, examples=EXAMPLES)
        client.update_tuned_model(
            ids[0],
            spec=ten_steps.model_copy(update={"description": "Adds one", "topK": 7}),
            update_mask=["description", "topK"],
        )
        before = requests_of(emulator, "GET /v1beta/tunedModels")

        full = list(client.list_tuned_models())
        partial = list(client.list_tuned_models(snapshots=False))

        assert requests_of(emulator, "GET /v1beta/tunedModels") - before == 2 + 2
        assert {len(m.snapshots) for m in full} == {10}
        assert partial == [replace(m, snapshots=()) for m in full]
        by_name = {m.name: m for m in partial}
        patched, tuned_from = by_name[f"tunedModels/{ids[0]}"], by_name["tunedModels/part-child"]
        assert (patched.description, patched.top_k) == ("Adds one", 7)
        assert tuned_from.tuned_model_source == patched.name
        assert tuned_from.base_model == SPEC.baseModel


def test_lifecycle_without_faults(emulator: ServedEmulator) -> None:
    with client_for(emulator) as client:
        operation = client.create_tuned_model(model_id="life", spec=SPEC, examples=EXAMPLES)
        assert operation.model == "tunedModels/life" and operation.total_steps == 1

        with pytest.raises(AlreadyExistsError) as info:
            client.create_tuned_model(model_id="life", spec=SPEC, examples=EXAMPLES)
        assert info.value.after_retry is False

        final = client.wait_for_operation(operation.name, timeout=30, poll_interval=0.01)
        assert final.done and final.result is not None and final.result.state == ACTIVE
        assert [op.name for op in client.list_operations("life")] == [operation.name]

        model = client.update_tuned_model(
            "life",
            spec=SPEC.model_copy(update={"description": "Adds one", "temperature": 0.3}),
            update_mask=["description", "temperature"],
        )
        assert (model.description, model.temperature) == ("Adds one", 0.3)

        base = client.get_base_model(SPEC.baseModel or "")
        assert base.tunable and base in client.list_base_models()

        answer = client.generate_content("life", prompt="1")
        assert answer.texts and answer.finish_reasons

        client.delete_tuned_model("life")
        assert client.wait_for_models(["life"], timeout=0)["life"].state == DELETED
        with pytest.raises(NotFoundError):
            client.delete_tuned_model("life")
