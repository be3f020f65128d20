"""Which credential is sent, and the clear error when there is none."""

from __future__ import annotations

import pytest

from reconciler.api import Credentials
from reconciler.api.client import GeminiClient
from reconciler.errors import CredentialsError, UsageError
from tests.api.conftest import FakeTime, make_client
from tests.api.fake_api import FakeGeminiApi

GOOGLE = "https://generativelanguage.googleapis.com"


def test_api_key_is_sent_as_the_goog_header(fake_api: FakeGeminiApi, fake_time: FakeTime) -> None:
    creds = Credentials.resolve(api_key="k-123", access_token=None, endpoint=GOOGLE)
    with make_client(fake_api, fake_time, credentials=creds) as client:
        list(client.list_tuned_models())
    headers = fake_api.requests[0].headers
    assert headers["x-goog-api-key"] == "k-123"
    assert "authorization" not in headers


def test_access_token_is_a_bearer_with_user_project(
    fake_api: FakeGeminiApi, fake_time: FakeTime
) -> None:
    creds = Credentials.resolve(
        api_key="ignored-key", access_token="ya29.tok", user_project="my-proj", endpoint=GOOGLE
    )
    with make_client(fake_api, fake_time, credentials=creds) as client:
        list(client.list_tuned_models())
    headers = fake_api.requests[0].headers
    assert headers["authorization"] == "Bearer ya29.tok"
    assert headers["x-goog-user-project"] == "my-proj"
    assert "x-goog-api-key" not in headers


def test_missing_credential_fails_before_any_request() -> None:
    with pytest.raises(CredentialsError) as info:
        Credentials.resolve(api_key=None, access_token="", endpoint=GOOGLE)
    assert str(info.value).startswith("no API key: set GEMINI_API_KEY or pass --api-key")


@pytest.mark.parametrize(
    "endpoint",
    ["http://localhost:8080", "http://127.0.0.1:9", "http://127.1.2.3", "http://[::1]:8080/"],
)
def test_local_endpoints_need_no_credential(endpoint: str) -> None:
    creds = Credentials.resolve(api_key=None, access_token=None, endpoint=endpoint)
    assert creds.headers() == {}


@pytest.mark.parametrize("endpoint", ["http://10.0.0.1:8080", "https://localhost.example.com"])
def test_other_hosts_are_not_local(endpoint: str) -> None:
    with pytest.raises(CredentialsError):
        Credentials.resolve(api_key=None, access_token=None, endpoint=endpoint)


def test_repr_hides_secrets() -> None:
    creds = Credentials.resolve(api_key="k-secret-1", access_token=None, endpoint=GOOGLE)
    assert "k-secret-1" not in repr(creds)
    assert creds.kind == "api-key"


@pytest.mark.parametrize(
    "endpoint", ["ftp://host", "generativelanguage.googleapis.com", "http://h/?a=1"]
)
def test_bad_endpoints_are_usage_errors(endpoint: str) -> None:
    with pytest.raises(UsageError, match="invalid endpoint"):
        GeminiClient(endpoint=endpoint, credentials=Credentials())
