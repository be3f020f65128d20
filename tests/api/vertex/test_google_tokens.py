"""Vertex AI credentials through google-auth, over real HTTP, with no Google server involved.

Application Default Credentials files point google-auth at a local token
endpoint (tests/support/token_server.py); the emulator, started with a key,
accepts only the token the test expects, so a stale token sent would be a 401.
"""

from __future__ import annotations

import logging
import random
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.google_tokens import (
    CLOUD_PLATFORM_SCOPE,
    GoogleAuthTokens,
    application_default_tokens,
    vertex_credentials,
)
from reconciler.api.vertex_client import VertexClient
from reconciler.api.vertex_datasets import stage_dataset
from reconciler.api.vertex_storage import StorageClient
from reconciler.errors import CredentialsError, UnauthenticatedError, UsageError
from reconciler.spec import Example
from tests.support.cloud import BUCKET, LOCATION, PROJECT, Served
from tests.support.token_server import (
    JWT_BEARER,
    TOKEN_EXCHANGE,
    TokenServer,
    external_account_file,
    service_account_file,
    token_server,
)

SUBJECT_TOKEN = "eyJhbGciOiJSUzI1NiJ9.github-oidc.signature"
# Shorter than google-auth's refresh margin (3 min 45 s): due for refresh at once.
SHORT = 60
LONG = 3600


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ADC from the machine running the tests: no env file, no gcloud login, not on GCE."""
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GCE_METADATA_HOST",
        "GCE_METADATA_IP",
        "K_SERVICE",
        "CLOUD_RUN_JOB",
        "GAE_ENV",
        "KUBERNETES_SERVICE_HOST",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")


@pytest.fixture
def tokens_server(no_ambient_credentials: None) -> Iterator[TokenServer]:
    with token_server(SHORT, LONG) as server:
        yield server


def use_adc_file(monkeypatch: pytest.MonkeyPatch, path: Path, text: str) -> None:
    path.write_text(text)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))


def use_external_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: TokenServer
) -> None:
    subject = tmp_path / "oidc-token"
    subject.write_text(SUBJECT_TOKEN)
    use_adc_file(monkeypatch, tmp_path / "wif.json", external_account_file(server, str(subject)))


def vertex(served: Served, credentials: Credentials) -> VertexClient:
    return VertexClient(
        project=PROJECT,
        location=LOCATION,
        credentials=credentials,
        endpoint=served.url,
        retry=RetryPolicy(max_attempts=1),
        rng=random.Random(2),
    )


@pytest.mark.parametrize("kind", ["external_account", "service_account"])
def test_adc_refreshes_a_token_that_is_due_and_sends_the_new_one(
    trained: Served,
    tokens_server: TokenServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
) -> None:
    if kind == "external_account":
        use_external_account(monkeypatch, tmp_path, tokens_server)
    else:
        use_adc_file(monkeypatch, tmp_path / "key.json", service_account_file(tokens_server))
    credentials = vertex_credentials(access_token=None, endpoint=None)
    assert credentials.kind == "google-auth"
    assert tokens_server.requests == []  # nothing is fetched before the first request
    with vertex(trained, credentials) as client:
        trained.emulator.config.api_key = "ya29.test-token-1"
        assert list(client.list_jobs()) == []
        # Token 1 lives 60 s, inside google-auth's refresh margin: the next call refreshes
        # and sends token 2, the only one the emulator now accepts.
        trained.emulator.config.api_key = "ya29.test-token-2"
        assert list(client.list_jobs()) == []
        assert list(client.list_jobs()) == []  # token 2 lives an hour: no refresh
    assert tokens_server.issued == ["ya29.test-token-1", "ya29.test-token-2"]
    grants = [form["grant_type"] for form in tokens_server.requests]
    if kind == "external_account":
        assert grants == [TOKEN_EXCHANGE, TOKEN_EXCHANGE]
        assert tokens_server.requests[0]["subject_token"] == SUBJECT_TOKEN
        assert tokens_server.requests[0]["scope"] == CLOUD_PLATFORM_SCOPE
    else:
        assert grants == [JWT_BEARER, JWT_BEARER]


def test_storage_uploads_with_the_same_tokens(
    served: Served, tokens_server: TokenServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tokens_server.lifetimes = [LONG]
    use_external_account(monkeypatch, tmp_path, tokens_server)
    credentials = vertex_credentials(access_token=None, endpoint=None)
    served.emulator.config.api_key = "ya29.test-token-1"
    storage = StorageClient(credentials=credentials, endpoint=served.url)
    try:
        staged = stage_dataset(
            storage, location=f"gs://{BUCKET}/ds", examples=[Example("a", "b")] * 3
        )
    finally:
        storage.close()
    assert staged.uri.startswith(f"gs://{BUCKET}/ds/")
    assert served.emulator.gcs.get(BUCKET, staged.uri.split("/", 3)[3]) is not None


def test_threads_sharing_a_client_refresh_once(
    trained: Served, tokens_server: TokenServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_external_account(monkeypatch, tmp_path, tokens_server)
    tokens = application_default_tokens()
    assert tokens() == "ya29.test-token-1"  # due for refresh from the start
    trained.emulator.config.api_key = "ya29.test-token-2"
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []
    with vertex(trained, Credentials(token_source=tokens)) as client:

        def work() -> None:
            barrier.wait()
            try:
                for _ in range(3):
                    list(client.list_jobs())
            except BaseException as exc:  # collected, asserted below
                failures.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
    assert tokens_server.issued == ["ya29.test-token-1", "ya29.test-token-2"]
    assert tokens.refresh_count == 2


def test_a_token_refused_before_its_expiry_is_replaced_once(
    trained: Served, tokens_server: TokenServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tokens_server.lifetimes = [LONG]
    use_external_account(monkeypatch, tmp_path, tokens_server)
    tokens = application_default_tokens()
    assert tokens() == "ya29.test-token-1"  # valid for an hour
    trained.emulator.config.api_key = "ya29.test-token-2"  # ...but revoked, say
    with vertex(trained, Credentials(token_source=tokens)) as client:
        assert list(client.list_jobs()) == []
        # A second refusal is not retried for ever: one fresh token per request.
        trained.emulator.config.api_key = "ya29.nothing-we-have"
        with pytest.raises(UnauthenticatedError):
            list(client.list_jobs())
    assert tokens_server.issued == ["ya29.test-token-1", "ya29.test-token-2", "ya29.test-token-3"]
    list_requests = trained.emulator.stats.as_json()["requests"]
    assert list_requests["GET /v1/projects/{project}/locations/{location}/tuningJobs"] == 4


def test_no_adc_is_a_clear_error_without_any_request(no_ambient_credentials: None) -> None:
    with pytest.raises(CredentialsError) as caught:
        vertex_credentials(
            access_token=None, endpoint="https://us-central1-aiplatform.googleapis.com"
        )
    error = caught.value
    assert "no Google credentials found" in error.message
    assert error.hint is not None
    for way in (
        "gcloud auth application-default login",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "--access-token",
    ):
        assert way in error.hint


def test_an_adc_file_that_cannot_be_read_names_it(
    no_ambient_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(CredentialsError, match=r"missing\.json") as caught:
        application_default_tokens()
    assert caught.value.hint and "gcloud auth application-default login" in caught.value.hint
    use_adc_file(monkeypatch, tmp_path / "odd.json", '{"type": "no_such_type"}')
    with pytest.raises(CredentialsError, match="cannot be used"):
        application_default_tokens()


def test_access_token_and_emulator_need_no_adc(no_ambient_credentials: None) -> None:
    static = vertex_credentials(access_token="ya29.static", endpoint=None, user_project="billing")
    assert static.headers() == {
        "authorization": "Bearer ya29.static",
        "x-goog-user-project": "billing",
    }
    assert vertex_credentials(access_token=None, endpoint="http://127.0.0.1:8000").kind == "none"


def test_tokens_never_show_in_logs_errors_or_reprs(
    trained: Served,
    tokens_server: TokenServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    use_external_account(monkeypatch, tmp_path, tokens_server)
    credentials = vertex_credentials(access_token=None, endpoint=None)
    tokens = credentials.token_source
    assert isinstance(tokens, GoogleAuthTokens)
    trained.emulator.config.api_key = "something-else"
    texts: list[str] = []
    with vertex(trained, credentials) as client:
        with pytest.raises(UnauthenticatedError) as refused:
            list(client.list_jobs())
        texts += [
            str(refused.value),
            repr(refused.value),
            *traceback.format_exception(refused.value),
        ]
        # What to check names OAuth and ADC, not the Gemini API's API key.
        assert refused.value.hint and "application-default login" in refused.value.hint
        assert "GEMINI_API_KEY" not in refused.value.hint
        # The token endpoint now refuses, quoting the token it was sent.
        tokens_server.fail_with = "invalid_grant"
        with pytest.raises(CredentialsError) as failed:
            list(client.list_jobs())
    assert "invalid_grant" in failed.value.message
    assert failed.value.hint and "gcloud auth application-default login" in failed.value.hint
    texts += [str(failed.value), *traceback.format_exception(failed.value)]
    texts += [repr(credentials), repr(tokens), caplog.text]
    # The refused token 1 was replaced once (token 2, refused too), then refreshing failed.
    assert tokens_server.issued == ["ya29.test-token-1", "ya29.test-token-2"]
    for text in texts:
        assert "ya29.test-token" not in text
    assert "rejected token ***" in failed.value.message


def test_an_api_key_is_never_sent_to_vertex_or_storage(served: Served) -> None:
    key = Credentials(api_key="AIza-key")
    with pytest.raises(UsageError, match="OAuth access token, not an API key"):
        StorageClient(credentials=key, endpoint=served.url)
    with pytest.raises(UsageError, match="OAuth access token, not an API key"):
        vertex(served, key)


def test_the_adc_quota_project_is_sent_unless_one_is_given(
    tokens_server: TokenServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    subject = tmp_path / "oidc-token"
    subject.write_text(SUBJECT_TOKEN)
    text = external_account_file(tokens_server, str(subject), quota_project="billing-proj")
    use_adc_file(monkeypatch, tmp_path / "wif.json", text)
    from_file = vertex_credentials(access_token=None, endpoint=None)
    assert from_file.headers() == {"x-goog-user-project": "billing-proj"}
    given = vertex_credentials(access_token=None, endpoint=None, user_project="other")
    assert given.headers() == {"x-goog-user-project": "other"}
    use_external_account(monkeypatch, tmp_path, tokens_server)
    assert vertex_credentials(access_token=None, endpoint=None).headers() == {}
    monkeypatch.setenv("GOOGLE_CLOUD_QUOTA_PROJECT", "from-env")
    assert vertex_credentials(access_token=None, endpoint=None).user_project == "from-env"
