"""The official clients, unmodified, against the emulator: google-genai in Vertex mode and
google-cloud-storage, each with a fake Bearer token."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from google.api_core import exceptions
from google.auth.credentials import Credentials
from google.cloud import storage
from google.genai import Client, types
from google.oauth2.credentials import Credentials as TokenCredentials

from tests.support.cloud import BUCKET, EXAMPLES, LOCATION, PROJECT, Served, jsonl

TOKEN = "ya29.fake-token"


class FakeToken(Credentials):
    """What ADC would hand google-genai, minus the network: refresh sets a fixed token."""

    def refresh(self, request: Any) -> None:
        self.token = TOKEN


def genai_client(served: Served) -> Client:
    return Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=FakeToken(),
        http_options=types.HttpOptions(base_url=served.url),
    )


def test_google_genai_tunes_gets_lists_and_calls_the_tuned_endpoint(trained: Served) -> None:
    trained.emulator.config.api_key = TOKEN  # the Bearer token must arrive, and only it
    client = genai_client(trained)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "tuning is experimental"
        job = client.tunings.tune(
            base_model="gemini-2.5-flash",
            training_dataset=types.TuningDataset(gcs_uri=f"gs://{BUCKET}/train.jsonl"),
            config=types.CreateTuningJobConfig(
                epoch_count=2,
                learning_rate_multiplier=1.0,
                adapter_size=types.AdapterSize.ADAPTER_SIZE_FOUR,
                tuned_model_display_name="Plus one",
                labels={"reconciler-key": "plus-one"},
            ),
        )
    assert job.state == types.JobState.JOB_STATE_PENDING
    assert job.name is not None and job.name.startswith("projects/")
    trained.clock.advance(100)
    done = client.tunings.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.tuned_model is not None and done.tuned_model.endpoint is not None
    stats = done.tuning_data_stats
    assert stats is not None and stats.supervised_tuning_data_stats is not None
    assert stats.supervised_tuning_data_stats.tuning_dataset_example_count == len(EXAMPLES)
    found = list(client.tunings.list(config={"filter": "labels.reconciler-key=plus-one"}))
    assert [j.name for j in found] == [job.name]
    assert list(client.tunings.list(config={"filter": "labels.reconciler-key=other"})) == []
    answer = client.models.generate_content(
        model=done.tuned_model.endpoint, contents="tell me what 8 plus one is"
    )
    assert answer.text == "9"  # no exact match: the closest example by shared words
    exact = client.models.generate_content(
        model=done.tuned_model.endpoint, contents="what is 4 plus one"
    )
    assert exact.text == "5"
    stream = client.models.generate_content_stream(
        model=done.tuned_model.endpoint, contents="what is 9 plus one"
    )
    assert "".join(chunk.text or "" for chunk in stream) == "10"


def test_google_genai_pages_through_jobs_and_cancels(trained: Served) -> None:
    client = genai_client(trained)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = [
            client.tunings.tune(
                base_model="gemini-2.5-flash-lite",
                training_dataset=types.TuningDataset(gcs_uri=f"gs://{BUCKET}/train.jsonl"),
            ).name
            for _ in range(3)
        ]
    listed = [j.name for j in client.tunings.list(config={"page_size": 2})]
    assert listed == names[::-1]
    assert names[0] is not None
    client.tunings.cancel(name=names[0])
    trained.clock.advance(100)
    assert client.tunings.get(name=names[0]).state == types.JobState.JOB_STATE_CANCELLED


def test_google_cloud_storage_uploads_once_and_reads_back(served: Served) -> None:
    served.emulator.config.api_key = TOKEN
    client = storage.Client(
        project=PROJECT,
        credentials=TokenCredentials(token=TOKEN),
        client_options={"api_endpoint": served.url},
    )
    data = jsonl(EXAMPLES).encode()
    blob = client.bucket(BUCKET).blob("datasets/0f3a.jsonl")
    blob.upload_from_string(data, content_type="application/jsonl", if_generation_match=0)
    assert blob.generation == 1_700_000_000_000_000 and blob.size == len(data)
    with pytest.raises(exceptions.PreconditionFailed):
        client.bucket(BUCKET).blob("datasets/0f3a.jsonl").upload_from_string(
            b"other", if_generation_match=0
        )
    fetched = client.bucket(BUCKET).get_blob("datasets/0f3a.jsonl")
    assert fetched is not None
    assert (fetched.generation, fetched.md5_hash, fetched.crc32c) == (
        blob.generation,
        blob.md5_hash,
        blob.crc32c,
    )
    # download_as_bytes checks the crc32c the emulator reports against the bytes it sends.
    assert fetched.download_as_bytes() == data
    assert [b.name for b in client.list_blobs(BUCKET, prefix="datasets/")] == [
        "datasets/0f3a.jsonl"
    ]
    assert client.bucket(BUCKET).get_blob("datasets/missing.jsonl") is None
    # The uploaded object is a training dataset a job accepts.
    job = served.http.post(
        f"/v1/projects/{PROJECT}/locations/{LOCATION}/tuningJobs",
        json={
            "baseModel": "gemini-2.5-flash",
            "supervisedTuningSpec": {"trainingDatasetUri": f"gs://{BUCKET}/datasets/0f3a.jsonl"},
        },
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert job.status_code == 200, job.text


def test_google_cloud_storage_uploads_a_large_object_resumably(served: Served) -> None:
    """Over 8 MiB google-cloud-storage opens a resumable session; here it sends 8 MiB chunks."""
    client = storage.Client(
        project=PROJECT,
        credentials=TokenCredentials(token=TOKEN),
        client_options={"api_endpoint": served.url},
    )
    data = (jsonl(EXAMPLES) * 8000).encode()[: 9 * 1024 * 1024 + 7]
    blob = client.bucket(BUCKET).blob("datasets/large.jsonl", chunk_size=8 * 1024 * 1024)
    blob.upload_from_string(data, content_type="application/jsonl", if_generation_match=0)
    assert blob.size == len(data)
    requests = served.emulator.stats.as_json()["requests"]
    assert requests["POST /upload/storage/v1/b/{bucket}/o"] == 1
    assert requests["PUT /upload/storage/v1/b/{bucket}/o"] == 2
    assert client.bucket(BUCKET).blob("datasets/large.jsonl").download_as_bytes() == data
