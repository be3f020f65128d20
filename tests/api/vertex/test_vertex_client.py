"""The Vertex AI client and dataset staging against the served emulator (real HTTP, fake clock).

The lost-answer cases use a transport that delivers a request and then loses
the answer, as a dropped connection or a crash between request and reply does.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator

import httpx
import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.vertex_client import (
    CreateResult,
    JobRequest,
    VertexClient,
    vertex_endpoint,
)
from reconciler.api.vertex_datasets import contents_jsonl, stage_dataset
from reconciler.api.vertex_storage import StorageClient
from reconciler.errors import ApiError, InvalidArgumentError, UsageError
from reconciler.spec import Example
from tests.support.cloud import BUCKET, LOCATION, PROJECT, Served

TOKEN = "ya29.test-token"
EXAMPLES = [Example(f"what is {i} plus one", str(i + 1)) for i in range(12)]
JOBS = "POST /v1/projects/{project}/locations/{location}/tuningJobs"


class LosingTransport(httpx.BaseTransport):
    """Delivers every request; loses the answer of the first ``count`` that ``lose`` picks."""

    def __init__(self, lose: Callable[[httpx.Request], bool], *, count: int = 1) -> None:
        self._inner = httpx.HTTPTransport()
        self._lose = lose
        self.left = count

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if self.left and self._lose(request):
            self.left -= 1
            response.read()
            response.close()
            raise httpx.ReadError("connection lost before the answer arrived", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


def no_sleep(seconds: float) -> None:
    assert seconds >= 0


def vertex(served: Served, transport: httpx.BaseTransport | None = None) -> VertexClient:
    return VertexClient(
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(access_token=TOKEN),
        endpoint=served.url,
        transport=transport,
        retry=RetryPolicy(max_attempts=4),
        sleep=no_sleep,
        rng=random.Random(3),
    )


def storage(served: Served, transport: httpx.BaseTransport | None = None) -> StorageClient:
    return StorageClient(
        credentials=Credentials(access_token=TOKEN),
        endpoint=served.url,
        transport=transport,
        sleep=no_sleep,
        rng=random.Random(3),
    )


def test_contents_jsonl_is_one_user_and_model_turn_per_example() -> None:
    data = contents_jsonl([Example("héllo", "HÉLLO"), Example("a\nb", "c")])
    assert data.decode() == (
        '{"contents":[{"role":"user","parts":[{"text":"héllo"}]},'
        '{"role":"model","parts":[{"text":"HÉLLO"}]}]}\n'
        '{"contents":[{"role":"user","parts":[{"text":"a\\nb"}]},'
        '{"role":"model","parts":[{"text":"c"}]}]}\n'
    )


def test_hosts_follow_the_location() -> None:
    assert vertex_endpoint("us-central1") == "https://us-central1-aiplatform.googleapis.com"
    assert vertex_endpoint("global") == "https://aiplatform.googleapis.com"
    assert vertex_endpoint("eu") == "https://aiplatform.eu.rep.googleapis.com"


@pytest.fixture
def closing() -> Iterator[list[VertexClient | StorageClient]]:
    clients: list[VertexClient | StorageClient] = []
    yield clients
    for client in clients:
        client.close()


def test_staging_is_content_addressed_and_uploads_once(
    served: Served, closing: list[VertexClient | StorageClient]
) -> None:
    served.emulator.config.api_key = TOKEN
    client = storage(served)
    closing.append(client)
    first = stage_dataset(client, location=f"gs://{BUCKET}/datasets/", examples=EXAMPLES)
    digest = hashlib.sha256(contents_jsonl(EXAMPLES)).hexdigest()
    assert first.uri == f"gs://{BUCKET}/datasets/{digest}.jsonl"
    assert first.sha256 == digest and first.example_count == 12
    meta = served.http.get(
        f"/storage/v1/b/{BUCKET}/o/datasets%2F{digest}.jsonl",
        headers={"authorization": f"Bearer {TOKEN}"},
    ).json()
    assert (str(first.generation), first.md5_hash, first.crc32c, str(first.size)) == (
        meta["generation"],
        meta["md5Hash"],
        meta["crc32c"],
        meta["size"],
    )
    stored = served.http.get(
        f"/download/storage/v1/b/{BUCKET}/o/datasets%2F{digest}.jsonl?alt=media",
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert stored.content == contents_jsonl(EXAMPLES)
    served.clock.advance(10)
    again = stage_dataset(client, location=f"gs://{BUCKET}/datasets", examples=EXAMPLES)
    assert again == first  # the same object and generation: nothing was written
    requests = served.emulator.stats.as_json()["requests"]
    assert requests["POST /upload/storage/v1/b/{bucket}/o"] == 1
    changed = stage_dataset(client, location=f"gs://{BUCKET}/datasets", examples=EXAMPLES[:5])
    assert changed.uri != first.uri and changed.example_count == 5


def test_an_upload_whose_answer_was_lost_is_read_back(
    served: Served, closing: list[VertexClient | StorageClient]
) -> None:
    lossy = LosingTransport(lambda r: r.url.path.startswith("/upload/"))
    client = storage(served, lossy)
    closing.append(client)
    staged = stage_dataset(client, location=f"gs://{BUCKET}", examples=EXAMPLES)
    assert lossy.left == 0  # the first upload's answer was lost; the retry met the 412
    requests = served.emulator.stats.as_json()["requests"]
    assert requests["POST /upload/storage/v1/b/{bucket}/o"] == 2
    listed = served.http.get(f"/storage/v1/b/{BUCKET}/o").json()["items"]
    assert [o["name"] for o in listed] == [staged.uri.removeprefix(f"gs://{BUCKET}/")]
    assert listed[0]["generation"] == str(staged.generation)


def test_an_object_rewritten_outside_is_refused(
    served: Served, closing: list[VertexClient | StorageClient]
) -> None:
    digest = hashlib.sha256(contents_jsonl(EXAMPLES)).hexdigest()
    served.upload(f"{digest}.jsonl", "not the dataset\n")
    client = storage(served)
    closing.append(client)
    with pytest.raises(ApiError) as caught:
        stage_dataset(client, location=f"gs://{BUCKET}", examples=EXAMPLES)
    assert f"gs://{BUCKET}/{digest}.jsonl holds other bytes than its name promises" in str(
        caught.value
    )
    assert caught.value.hint is not None and "delete the object" in caught.value.hint


def test_bad_dataset_location_is_a_usage_error(
    served: Served, closing: list[VertexClient | StorageClient]
) -> None:
    client = storage(served)
    closing.append(client)
    with pytest.raises(UsageError, match="expected gs://BUCKET or gs://BUCKET/PREFIX"):
        stage_dataset(client, location="s3://bucket/x", examples=EXAMPLES)
    assert served.emulator.stats.as_json()["requests"] == {}


def request_for(uri: str) -> JobRequest:
    return JobRequest(
        base_model="gemini-2.5-flash",
        training_dataset_uri=uri,
        epoch_count=2,
        adapter_size=4,
        display_name="Plus one",
        labels={"managed-by": "reconciler"},
    )


@pytest.fixture
def dataset_uri(served: Served) -> str:
    client = storage(served)
    try:
        return stage_dataset(client, location=f"gs://{BUCKET}/ds", examples=EXAMPLES).uri
    finally:
        client.close()


def test_create_then_create_again_adopts_the_same_job(
    served: Served, dataset_uri: str, closing: list[VertexClient | StorageClient]
) -> None:
    client = vertex(served)
    closing.append(client)
    created = client.create_job(request_for(dataset_uri), key="k-plus-one")
    job = created.job
    assert not created.adopted
    assert job.state == "JOB_STATE_PENDING" and job.display_name == "Plus one"
    assert job.labels == {"managed-by": "reconciler", "reconciler-key": "k-plus-one"}
    assert job.key == "k-plus-one" and not job.done
    again = client.create_job(request_for(dataset_uri), key="k-plus-one")
    assert again == CreateResult(client.get_job(job.name), adopted=True)
    assert served.emulator.stats.as_json()["creates"] == {job.name: 1}
    assert client.find_job_by_key("k-other") is None


def test_a_create_whose_answer_was_lost_is_adopted_not_repeated(
    served: Served, dataset_uri: str, closing: list[VertexClient | StorageClient]
) -> None:
    lossy = LosingTransport(lambda r: r.method == "POST" and r.url.path.endswith("/tuningJobs"))
    client = vertex(served, lossy)
    closing.append(client)
    result = client.create_job(request_for(dataset_uri), key="k-lost")
    assert lossy.left == 0
    assert result.adopted and result.job.key == "k-lost"
    stats = served.emulator.stats.as_json()
    assert stats["creates"] == {result.job.name: 1}
    assert stats["requests"][JOBS] == 1


def test_creates_under_injected_faults_make_exactly_one_job(
    served: Served, dataset_uri: str, closing: list[VertexClient | StorageClient]
) -> None:
    # Faults from the emulator's seeded stream until one create gets through.
    served.emulator.config.fault_rate = 0.5
    client = vertex(served)
    closing.append(client)
    result = client.create_job(request_for(dataset_uri), key="k-faults")
    served.emulator.config.fault_rate = 0.0
    jobs = list(client.list_jobs(filter="labels.reconciler-key=k-faults"))
    assert [j.name for j in jobs] == [result.job.name]
    assert served.emulator.stats.as_json()["creates"] == {result.job.name: 1}


def test_invalid_request_is_not_retried(
    served: Served, dataset_uri: str, closing: list[VertexClient | StorageClient]
) -> None:
    client = vertex(served)
    closing.append(client)
    bad = JobRequest(base_model="gemini-1.0-pro", training_dataset_uri=dataset_uri)
    with pytest.raises(InvalidArgumentError, match="is not supported for supervised tuning"):
        client.create_job(bad, key="k-bad")
    assert served.emulator.stats.as_json()["requests"][JOBS] == 1


def test_progress_endpoint_and_generate(
    served: Served, dataset_uri: str, closing: list[VertexClient | StorageClient]
) -> None:
    client = vertex(served)
    closing.append(client)
    name = client.create_job(request_for(dataset_uri), key="k-serve").job.name
    served.clock.advance(1)
    running = client.get_job(name)
    assert running.state == "JOB_STATE_RUNNING"
    assert (running.example_count, running.step_count) == (12, 3)
    served.clock.advance(100)
    done = client.get_job(name)
    assert done.done and done.state == "JOB_STATE_SUCCEEDED"
    assert done.model is not None and done.model.endswith("@1")
    assert done.endpoint is not None
    assert client.generate_content(done.endpoint, "what is 6 plus one") == "7"


def test_cancel_and_paging(
    served: Served, dataset_uri: str, closing: list[VertexClient | StorageClient]
) -> None:
    client = vertex(served)
    closing.append(client)
    names = [client.create_job(request_for(dataset_uri), key=f"k-{i}").job.name for i in range(3)]
    client.cancel_job(names[0])
    served.clock.advance(100)
    cancelled = client.get_job(names[0])
    assert (cancelled.state, cancelled.error_code) == ("JOB_STATE_CANCELLED", 1)
    assert [j.name for j in client.list_jobs()] == names[::-1]


def test_api_keys_and_bad_keys_are_refused(served: Served) -> None:
    with pytest.raises(UsageError, match="OAuth access token, not an API key"):
        VertexClient(
            project=PROJECT,
            location=LOCATION,
            credentials=Credentials(api_key="AIza-key"),
            endpoint=served.url,
        )
    client = vertex(served)
    try:
        with pytest.raises(UsageError, match="is not a label value"):
            client.find_job_by_key("Has Spaces")
    finally:
        client.close()
