"""A tuned job's Model and Endpoint through VertexClient against the served emulator (real HTTP).

The client's sleep moves the emulator's clock, so waiting for an Operation
that takes minutes costs no real time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.vertex_client import JobRequest, VertexClient
from reconciler.api.vertex_jobs import VertexJob
from reconciler.api.vertex_models import Deployment
from reconciler.api.vertex_operations import operation_error
from reconciler.api.vertex_removal import Removal
from reconciler.emulator.vertex.catalog import project_number
from reconciler.errors import (
    ApiError,
    FailedPreconditionError,
    InternalError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
    UsageError,
)
from tests.api.vertex.test_vertex_client import TOKEN, LosingTransport
from tests.support.cloud import BUCKET, LOCATION, PROJECT, Served

NUMBER = project_number(PROJECT)
OPERATIONS = "GET /v1/projects/{project}/locations/{location}/operations/{op}"


@dataclass
class EmulatorTime:
    """The client's clock is the emulator's; sleeping moves it."""

    served: Served
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.served.clock.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.served.clock.advance(seconds)


@pytest.fixture
def time(trained: Served) -> EmulatorTime:
    return EmulatorTime(trained)


def first_delete_of_each_path() -> Callable[[httpx.Request], bool]:
    seen: set[str] = set()

    def lose(request: httpx.Request) -> bool:
        if request.method != "DELETE" or request.url.path in seen:
            return False
        seen.add(request.url.path)
        return True

    return lose


def make_client(
    served: Served, time: EmulatorTime, *, lose_deletes: int = 0, **options: float
) -> VertexClient:
    lossy = LosingTransport(first_delete_of_each_path(), count=lose_deletes)
    return VertexClient(
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(access_token=TOKEN),
        endpoint=served.url,
        transport=lossy,
        retry=RetryPolicy(max_attempts=4),
        sleep=time.sleep,
        clock=time.clock,
        rng=random.Random(3),
        **options,
    )


@pytest.fixture
def client(trained: Served, time: EmulatorTime) -> Iterator[VertexClient]:
    c = make_client(trained, time)
    yield c
    c.close()


def tuned(served: Served, client: VertexClient, key: str = "k-tuned") -> VertexJob:
    request = JobRequest(
        base_model="gemini-2.5-flash",
        training_dataset_uri=f"gs://{BUCKET}/train.jsonl",
        display_name="Plus one",
        description="adds one",
        labels={"team": "search"},
    )
    name = client.create_job(request, key=key).job.name
    served.clock.advance(100)
    job = client.get_job(name)
    assert job.state == "JOB_STATE_SUCCEEDED" and job.model and job.endpoint
    return job


def requests(served: Served) -> dict[str, int]:
    counts: dict[str, int] = served.emulator.stats.as_json()["requests"]
    return counts


def test_model_and_endpoint_of_a_succeeded_job(trained: Served, client: VertexClient) -> None:
    job = tuned(trained, client)
    assert job.model and job.endpoint
    endpoint = client.get_endpoint(job.endpoint)
    assert endpoint.name == job.endpoint
    [deployment] = endpoint.deployments
    assert deployment.model == job.model.removesuffix("@1")
    assert deployment.deployed_model_id.isdigit()
    model = client.get_model(job.model)
    assert model.name == f"projects/{NUMBER}/locations/{LOCATION}/models/{model.name[-19:]}"
    assert (model.display_name, model.description, model.version_id) == (
        "Plus one",
        "adds one",
        "1",
    )
    assert model.labels["team"] == "search" and model.labels["reconciler-key"] == "k-tuned"
    assert model.update_time.endswith("Z")
    assert model.deployments == (Deployment(job.endpoint, deployment.deployed_model_id),)
    assert client.get_model(model.name) == model


def test_patch_model_sends_the_update_mask(trained: Served, client: VertexClient) -> None:
    job = tuned(trained, client)
    assert job.model
    name = job.model.removesuffix("@1")
    trained.clock.advance(60)
    patched = client.patch_model(
        name,
        display_name="Plus one v2",
        labels={"team": "ads"},
        update_mask=["displayName", "labels"],
    )
    assert (patched.display_name, patched.description, patched.labels) == (
        "Plus one v2",
        "adds one",
        {"team": "ads"},
    )
    assert patched.update_time == "2023-11-14T22:16:00.000000Z"
    assert client.get_model(name) == patched
    # snake_case is accepted and sent as the camelCase path the service takes
    cleared = client.patch_model(name, description="", update_mask=["description"])
    assert (cleared.description, cleared.display_name) == ("", "Plus one v2")
    # The job is immutable: it keeps what it was created with.
    assert client.get_job(job.name).display_name == "Plus one"


def test_bad_update_masks_are_refused_before_any_request(
    trained: Served, client: VertexClient
) -> None:
    name = f"projects/{NUMBER}/locations/{LOCATION}/models/{'1' * 19}"
    before = dict(requests(trained))
    with pytest.raises(UsageError, match="cannot update Model field 'versionAliases'"):
        client.patch_model(name, display_name="x", update_mask=["versionAliases"])
    with pytest.raises(UsageError, match="updateMask names description but no new value"):
        client.patch_model(name, display_name="x", update_mask=["displayName", "description"])
    with pytest.raises(UsageError, match="needs an updateMask"):
        client.patch_model(name, display_name="x", update_mask=[])
    assert requests(trained) == before


def test_missing_things_are_not_found(trained: Served, client: VertexClient) -> None:
    model = f"projects/{NUMBER}/locations/{LOCATION}/models/{'1' * 19}"
    endpoint = f"projects/{NUMBER}/locations/{LOCATION}/endpoints/{'2' * 19}"
    for call in (
        lambda: client.get_model(model),
        lambda: client.patch_model(model, description="x", update_mask=["description"]),
        lambda: client.delete_model(model),
        lambda: client.get_endpoint(endpoint),
        lambda: client.undeploy_model(endpoint, "3"),
        lambda: client.delete_endpoint(endpoint),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_removal_waits_for_each_operation(
    trained: Served, client: VertexClient, time: EmulatorTime
) -> None:
    job = tuned(trained, client)
    assert job.model and job.endpoint
    deployed_id = client.get_endpoint(job.endpoint).deployments[0].deployed_model_id
    trained.emulator.config.operation_seconds = 10.0
    removal = client.remove_tuned_model(job)
    assert removal == Removal(undeployed=(deployed_id,), endpoint_deleted=True, model_deleted=True)
    # Three operations of 10 s, each polled after 1, 1.5, 2.25, 3.375 s (8.125) and then 5.06 s.
    assert time.sleeps == [1.0, 1.5, 2.25, 3.375, 5.0625] * 3
    assert requests(trained)[OPERATIONS] == 15
    with pytest.raises(NotFoundError):
        client.get_model(job.model)
    with pytest.raises(NotFoundError):
        client.get_endpoint(job.endpoint)
    # Run again (say, after a crash): nothing is left to do, and that is no error.
    assert client.remove_tuned_model(job) == Removal()
    assert client.get_job(job.name).state == "JOB_STATE_SUCCEEDED"


def test_removal_interrupted_half_way_is_finished_by_a_rerun(
    trained: Served, client: VertexClient
) -> None:
    job = tuned(trained, client)
    assert job.model and job.endpoint
    [deployment] = client.get_endpoint(job.endpoint).deployments
    client.undeploy_model(job.endpoint, deployment.deployed_model_id)
    # The model may not be deleted while deployed; once undeployed, the rerun finishes.
    assert client.remove_tuned_model(job) == Removal(endpoint_deleted=True, model_deleted=True)
    with pytest.raises(NotFoundError):
        client.get_model(job.model)


def test_a_model_still_deployed_cannot_be_deleted(trained: Served, client: VertexClient) -> None:
    job = tuned(trained, client)
    assert job.model
    with pytest.raises(FailedPreconditionError, match="undeploy it first"):
        client.delete_model(job.model.removesuffix("@1"))


def test_a_delete_whose_answer_was_lost_is_not_an_error(
    trained: Served, time: EmulatorTime
) -> None:
    # Both DELETEs reach the server and lose their answer; each retry meets 404.
    lossy = make_client(trained, time, lose_deletes=2)
    try:
        job = tuned(trained, lossy)
        assert job.endpoint
        deployed_id = lossy.get_endpoint(job.endpoint).deployments[0].deployed_model_id
        removal = lossy.remove_tuned_model(job)
    finally:
        lossy.close()
    assert removal == Removal(undeployed=(deployed_id,), endpoint_deleted=True, model_deleted=True)
    deletes = {k: v for k, v in requests(trained).items() if k.startswith("DELETE")}
    assert sorted(deletes.values()) == [2, 2]


def test_an_operation_not_done_in_time_is_unavailable(trained: Served, time: EmulatorTime) -> None:
    impatient = make_client(trained, time, operation_timeout=60.0)
    try:
        job = tuned(trained, impatient)
        assert job.endpoint
        trained.emulator.config.operation_seconds = 3600.0
        with pytest.raises(UnavailableError, match="still running after 60 s") as caught:
            impatient.remove_tuned_model(job)
    finally:
        impatient.close()
    assert caught.value.hint and "run the command again" in caught.value.hint
    assert sum(time.sleeps) == pytest.approx(60.0)
    # The change went on at the server: the rerun finds the deployment gone.
    trained.emulator.config.operation_seconds = 0.0
    with make_client(trained, time) as again:
        assert again.remove_tuned_model(job) == Removal(endpoint_deleted=True, model_deleted=True)


@pytest.mark.parametrize(
    ("code", "cls", "http", "status"),
    [
        (9, FailedPreconditionError, 400, "FAILED_PRECONDITION"),
        (5, NotFoundError, 404, "NOT_FOUND"),
        (7, PermissionDeniedError, 403, "PERMISSION_DENIED"),
        (13, InternalError, 500, "INTERNAL"),
        (14, UnavailableError, 503, "UNAVAILABLE"),
        (99, InternalError, 500, "UNKNOWN"),
        ("9", InternalError, 500, "UNKNOWN"),
    ],
)
def test_a_failed_operation_is_the_api_error_of_its_code(
    code: object, cls: type[ApiError], http: int, status: str
) -> None:
    error = operation_error(
        {"name": "op", "done": True, "error": {"code": code, "message": "x" * 10_000}},
        what="deleting M",
    )
    assert type(error) is cls
    assert (error.code, error.status) == (http, status)
    assert str(error).startswith(f"{http} {status}: deleting M failed: xxx")
    assert len(str(error)) < 4200
    assert operation_error({"name": "op", "done": True, "response": {}}, what="x") is None


def test_an_expired_job_is_done_and_left_nothing_to_remove(
    trained: Served, client: VertexClient
) -> None:
    trained.emulator.config.tuning_expire_rate = 1.0
    request = JobRequest(
        base_model="gemini-2.5-flash", training_dataset_uri=f"gs://{BUCKET}/train.jsonl"
    )
    name = client.create_job(request, key="k-expires").job.name
    trained.clock.advance(100)
    job = client.get_job(name)
    assert (job.state, job.done, job.model, job.error_code) == (
        "JOB_STATE_EXPIRED",
        True,
        None,
        None,
    )
    before = dict(requests(trained))
    assert client.remove_tuned_model(job) == Removal()
    assert requests(trained) == before


def test_a_location_in_a_name_never_picks_another_host(
    trained: Served, client: VertexClient
) -> None:
    """Names come from answers; the location in them chooses where the token is sent."""
    for location in ("x.attacker.example#", "evil.example/", "US-CENTRAL1", ""):
        name = f"projects/{NUMBER}/locations/{location}/endpoints/{'2' * 19}"
        with pytest.raises(ApiError, match="invalid Vertex AI location"):
            client.get_endpoint(name)
    with pytest.raises(UsageError, match=r"invalid location 'x\.attacker\.example#'"):
        VertexClient(
            project=PROJECT,
            location="x.attacker.example#",
            credentials=Credentials(access_token=TOKEN),
        )
    with pytest.raises(UsageError, match="invalid project"):
        VertexClient(
            project="p/../x", location=LOCATION, credentials=Credentials(access_token=TOKEN)
        )
