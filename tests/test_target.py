"""Choosing the backend target: flag > Backend document > environment > the Gemini API (pure)."""

from __future__ import annotations

import pytest

from reconciler.errors import SourceLocation, UsageError
from reconciler.target import (
    BackendDocument,
    BackendTarget,
    TargetError,
    TargetSettings,
    bucket_problem,
    location_problem,
    project_problem,
    resolve_target,
)

VERTEX_FLAGS = TargetSettings(
    backend="vertex", project="flag-project", location="us-central1", dataset_bucket="gs://flags"
)
VERTEX_ENV = TargetSettings(
    backend="vertex", project="env-project", location="europe-west4", dataset_bucket="gs://env/x"
)
DOC_AT = SourceLocation("manifests/backend.yaml", 4, 9)


def _document(**values: str) -> BackendDocument:
    places = {
        name: SourceLocation("manifests/backend.yaml", line, 13)
        for line, name in enumerate(("backend", "project", "location", "dataset_bucket"), 6)
    }
    return BackendDocument(
        name="prod",
        type=values.get("type", "vertex"),
        location=DOC_AT,
        project=values.get("project"),
        region=values.get("location"),
        dataset_bucket=values.get("bucket"),
        places=places,
    )


def test_the_default_is_the_gemini_api() -> None:
    target = resolve_target()
    assert target == BackendTarget(kind="gemini")
    assert target.identity == "gemini"
    assert target.describe() == "the Gemini API"


def test_gemini_ignores_vertex_settings_in_the_environment() -> None:
    env = TargetSettings(project="some-project", location="us-central1")
    assert resolve_target(env=env).identity == "gemini"


def test_vertex_from_flags_has_a_stable_identity() -> None:
    target = resolve_target(flags=VERTEX_FLAGS)
    assert target.identity == "vertex:projects/flag-project/locations/us-central1"
    assert target.bucket == "flags"
    assert target.prefix == ""
    assert target.describe() == "Vertex AI project flag-project in us-central1"


def test_each_setting_flag_then_document_then_environment() -> None:
    document = _document(project="doc-project", bucket="gs://doc-bucket/tuning/")
    target = resolve_target(
        flags=TargetSettings(location="us"),
        env=VERTEX_ENV,
        document=document,
    )
    # backend: the document; project: the document; location: the flag; bucket: the document
    assert target == BackendTarget(
        kind="vertex",
        project="doc-project",
        location="us",
        dataset_bucket="gs://doc-bucket/tuning",
    )
    assert target.prefix == "tuning"
    # the environment fills what neither the flags nor the document set
    assert resolve_target(env=VERTEX_ENV, document=_document()).project == "env-project"


def test_a_flag_overrides_the_document_backend() -> None:
    assert resolve_target(flags=TargetSettings(backend="gemini"), document=_document()).kind == (
        "gemini"
    )
    # and the document overrides the environment
    assert resolve_target(env=VERTEX_ENV, document=_document(type="gemini")).kind == "gemini"


def test_a_missing_setting_names_the_flag_the_variable_and_the_document_field() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_target(flags=TargetSettings(backend="vertex", location="us-central1"))
    assert caught.value.message == (
        "the vertex backend needs a project: give --project, set GOOGLE_CLOUD_PROJECT, "
        "or set `spec.project` in the Backend document"
    )
    with pytest.raises(UsageError) as bucket:
        resolve_target(flags=TargetSettings(backend="vertex", project="my-project", location="us"))
    assert "needs a dataset bucket: give --dataset-bucket, set RECONCILER_DATASET_BUCKET, " in (
        bucket.value.message
    )
    assert bucket.value.message.endswith("or set `spec.datasetBucket` in the Backend document")


def test_a_bad_value_names_where_it_came_from() -> None:
    bad_flag = TargetSettings(**{**VERTEX_FLAGS.__dict__, "dataset_bucket": "my-bucket"})
    with pytest.raises(TargetError) as flag:
        resolve_target(flags=bad_flag)
    assert flag.value.message == (
        "--dataset-bucket must be gs://BUCKET or gs://BUCKET/prefix, got `my-bucket`"
    )
    with pytest.raises(TargetError) as env:
        resolve_target(env=TargetSettings(**{**VERTEX_ENV.__dict__, "location": "mars"}))
    assert env.value.message.startswith("GOOGLE_CLOUD_LOCATION must be a region like us-central1")
    assert env.value.message.endswith("got `mars`")
    assert env.value.location is None
    with pytest.raises(TargetError) as doc:
        resolve_target(document=_document(project="p" * 40, location="us", bucket="gs://b-1"))
    assert doc.value.location == SourceLocation("manifests/backend.yaml", 7, 13)
    assert doc.value.field == "spec.project"
    assert doc.value.message.startswith("manifests/backend.yaml:7:13: `spec.project` must be")


def test_a_vertex_flag_on_the_gemini_backend_is_refused() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_target(flags=TargetSettings(project="my-project"))
    assert caught.value.message == (
        "--project is only for the vertex backend, and the backend is gemini "
        "(chosen by the default)"
    )
    assert caught.value.hint == "add --backend vertex, or leave the option out"


@pytest.mark.parametrize(
    "value", ["my-project", "abcdef", "a23456789012345678901234567890", "123456789012"]
)
def test_valid_projects(value: str) -> None:
    assert project_problem(value) is None


@pytest.mark.parametrize(
    "value", ["abc", "My-Project", "1project", "ends-with-", "a" * 31, "p_q-rstu"]
)
def test_invalid_projects(value: str) -> None:
    assert project_problem(value) is not None


@pytest.mark.parametrize(
    "value", ["us-central1", "europe-west4", "northamerica-northeast1", "global", "us", "eu"]
)
def test_valid_locations(value: str) -> None:
    assert location_problem(value) is None


@pytest.mark.parametrize(
    "value", ["US-CENTRAL1", "us-central", "mars", "us-central1-a", "", "asia"]
)
def test_invalid_locations(value: str) -> None:
    assert location_problem(value) is not None


@pytest.mark.parametrize(
    "value",
    ["gs://my-bucket", "gs://my_bucket/tuning", "gs://a.b.c/x/y/", "gs://b12/prefix-1/2026"],
)
def test_valid_buckets(value: str) -> None:
    assert bucket_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("my-bucket", "must be gs://BUCKET or gs://BUCKET/prefix"),
        ("s3://my-bucket", "must be gs://BUCKET or gs://BUCKET/prefix"),
        ("gs://ab", "must name a bucket of 3-63"),
        ("gs://My-Bucket", "must name a bucket of 3-63"),
        ("gs://-bucket", "must name a bucket of 3-63"),
        ("gs://" + "b" * 64, "must name a bucket of 3-63"),
        ("gs://192.168.1.1", "not an IP address"),
        ("gs://google-data", "not starting with `goog`"),
        ("gs://my-google-data", "containing `google`"),
        ("gs://bucket/a//b", "an empty, `.` or `..` part"),
        ("gs://bucket/../up", "an empty, `.` or `..` part"),
        ("gs://bucket/x?y", "one of # ? [ ] *"),
        ("gs://bucket/line\nbreak", "a control character"),
    ],
)
def test_invalid_buckets(value: str, problem: str) -> None:
    found = bucket_problem(value)
    assert found is not None and problem in found
