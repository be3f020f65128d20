"""Reading many tuning jobs: pages are followed, label filters are the real AIP-160 syntax."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.vertex_client import LIST_PAGE_SIZE, VertexClient
from tests.support.cloud import JOBS, LOCATION, PROJECT, Served, job_body

LIST = "GET /v1/projects/{project}/locations/{location}/tuningJobs"


@pytest.fixture
def client(trained: Served) -> Iterator[VertexClient]:
    with VertexClient(
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(access_token="ya29.listing"),
        endpoint=trained.url,
        retry=RetryPolicy(max_attempts=2),
        rng=random.Random(1),
    ) as c:
        yield c


def list_requests(served: Served) -> int:
    return int(served.emulator.stats.as_json()["requests"].get(LIST, 0))


def test_250_jobs_are_read_in_three_pages_and_a_label_filter_in_one(
    trained: Served, client: VertexClient
) -> None:
    names = []
    for i in range(250):
        labels = {"reconciler-key": f"k-{i}"}
        if i % 10 == 3:
            labels["reconciler-state"] = "abc"
        reply = trained.http.post(JOBS, json=job_body(labels=labels))
        assert reply.status_code == 200
        names.append(reply.json()["name"])
    jobs = list(client.list_jobs())
    assert [job.name for job in jobs] == names[::-1]  # newest first, none twice
    assert LIST_PAGE_SIZE == 100 and list_requests(trained) == 3

    wanted = [name for i, name in enumerate(names) if i % 10 == 3][::-1]
    for text in (
        "labels.reconciler-state=abc",
        'labels.reconciler-state="abc"',
        'labels.reconciler-state = "abc"',
        "labels.reconciler-state=abc AND state=JOB_STATE_PENDING",
    ):
        before = list_requests(trained)
        assert [job.name for job in client.list_jobs(filter=text)] == wanted, text
        assert list_requests(trained) == before + 1
    assert list(client.list_jobs(filter="labels.reconciler-state=abd")) == []
    assert [j.name for j in client.list_jobs(filter="labels.reconciler-state!=abc")] == [
        name for name in names[::-1] if name not in wanted
    ]
    found = client.find_job_by_key("k-17")
    assert found is not None and found.name == names[17]
