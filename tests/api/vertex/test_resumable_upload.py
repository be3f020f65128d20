"""Datasets over 8 MiB go up through a resumable upload, against the served emulator.

Lost answers come from a transport that delivers the request and drops the
reply (the chunk is stored, the client never hears so), and from the
emulator's own injected faults.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import httpx
import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.vertex_datasets import contents_jsonl, stage_dataset
from reconciler.api.vertex_storage import StorageClient
from reconciler.spec import Example
from tests.api.vertex.test_vertex_client import TOKEN, LosingTransport
from tests.support.cloud import BUCKET, Served

MIB = 1024 * 1024
START = "POST /upload/storage/v1/b/{bucket}/o"
PUTS = "PUT /upload/storage/v1/b/{bucket}/o"
# About 9.4 MiB of JSONL: over the 8 MiB threshold.
LARGE = [Example(f"question {i}: " + "x" * 900, f"answer {i}") for i in range(10_000)]


@pytest.fixture(scope="module")
def large_jsonl() -> bytes:
    data = contents_jsonl(LARGE)
    assert 9 * MIB < len(data) < 10 * MIB
    return data


def client(
    served: Served, transport: httpx.BaseTransport | None = None, *, chunk_bytes: int = 8 * MIB
) -> StorageClient:
    return StorageClient(
        credentials=Credentials(access_token=TOKEN),
        endpoint=served.url,
        transport=transport,
        retry=RetryPolicy(max_attempts=8),
        sleep=lambda seconds: None,
        rng=random.Random(4),
        chunk_bytes=chunk_bytes,
    )


@pytest.fixture
def storage(served: Served) -> Iterator[StorageClient]:
    c = client(served)
    yield c
    c.close()


def requests(served: Served) -> dict[str, int]:
    counts: dict[str, int] = served.emulator.stats.as_json()["requests"]
    return counts


def stored(served: Served, uri: str) -> bytes:
    name = uri.removeprefix(f"gs://{BUCKET}/")
    found = served.emulator.gcs.get(BUCKET, name)
    assert found is not None
    return found.data


def test_a_large_dataset_goes_up_in_8_mib_chunks_once(
    served: Served, storage: StorageClient, large_jsonl: bytes
) -> None:
    staged = stage_dataset(storage, location=f"gs://{BUCKET}/ds", examples=LARGE)
    assert staged.size == len(large_jsonl)
    assert staged.sha256 == hashlib.sha256(large_jsonl).hexdigest()
    assert stored(served, staged.uri) == large_jsonl
    assert (requests(served)[START], requests(served)[PUTS]) == (1, 2)
    # Staged again: the object is there, nothing is sent.
    assert stage_dataset(storage, location=f"gs://{BUCKET}/ds", examples=LARGE) == staged
    assert (requests(served)[START], requests(served)[PUTS]) == (1, 2)


@pytest.mark.parametrize("lost", ["first chunk", "last chunk"])
def test_a_chunk_whose_answer_was_lost_is_not_sent_twice(
    served: Served, large_jsonl: bytes, lost: str
) -> None:
    def chunk(request: httpx.Request) -> bool:
        content_range = request.headers.get("content-range", "")
        if lost == "first chunk":
            return content_range.startswith("bytes 0-")
        return content_range.startswith(f"bytes {8 * MIB}-")

    lossy = LosingTransport(chunk)
    with_losses = client(served, lossy)
    try:
        staged = stage_dataset(with_losses, location=f"gs://{BUCKET}/ds", examples=LARGE)
    finally:
        with_losses.close()
    assert lossy.left == 0
    assert stored(served, staged.uri) == large_jsonl
    # Two chunks and one question "how far did it get?", never a chunk twice.
    assert requests(served)[PUTS] == 3


def test_injected_faults_on_every_route_still_store_the_exact_bytes(
    served: Served, large_jsonl: bytes
) -> None:
    served.emulator.config.fault_rate = 0.3
    faulty = client(served, chunk_bytes=MIB)
    try:
        staged = stage_dataset(faulty, location=f"gs://{BUCKET}/ds", examples=LARGE)
    finally:
        faulty.close()
        served.emulator.config.fault_rate = 0.0
    assert stored(served, staged.uri) == large_jsonl
    assert requests(served)[PUTS] > 10  # ten 1 MiB chunks, and the retries


def test_an_object_that_exists_is_not_uploaded_again(
    served: Served, storage: StorageClient, large_jsonl: bytes
) -> None:
    served.upload("taken.jsonl", b"already here")
    assert (
        storage.upload_if_absent(
            BUCKET, "taken.jsonl", large_jsonl, content_type="application/jsonl"
        )
        is None
    )
    assert requests(served).get(PUTS, 0) == 0
    assert stored(served, f"gs://{BUCKET}/taken.jsonl") == b"already here"


def test_chunk_sizes_must_suit_the_service(served: Served) -> None:
    with pytest.raises(ValueError, match="multiple of 262144"):
        client(served, chunk_bytes=1000)
