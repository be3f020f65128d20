"""Failures that another attempt would meet again are reported at once, naming the cause;
every retry of the others is said as it happens."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.client import GeminiClient
from reconciler.errors import TransportError
from tests.api.conftest import API_KEY, FakeTime

ENDPOINT = "https://generativelanguage.googleapis.com"


def _failing(cause: BaseException) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise cause
        except BaseException as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    return httpx.MockTransport(handler)


def _client(transport: httpx.BaseTransport, time: FakeTime, notices: list[str]) -> GeminiClient:
    return GeminiClient(
        endpoint=ENDPOINT,
        credentials=Credentials(api_key=API_KEY),
        transport=transport,
        retry=RetryPolicy(max_attempts=4),
        sleep=time.sleep,
        clock=time.clock,
        notice=notices.append,
    )


@pytest.mark.parametrize(
    ("cause", "named"),
    [
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "the host name cannot be resolved (Name or service not known)",
        ),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate"),
            "its TLS certificate is not accepted",
        ),
    ],
    ids=["name-resolution", "certificate"],
)
def test_is_reported_at_once_with_its_cause(
    fake_time: FakeTime, cause: BaseException, named: str
) -> None:
    notices: list[str] = []
    with (
        _client(_failing(cause), fake_time, notices) as client,
        pytest.raises(TransportError) as info,
    ):
        client.get_tuned_model("x")

    assert f"cannot connect to {ENDPOINT}: {named}" in info.value.message
    assert fake_time.sleeps == []  # not retried
    assert notices == []
    assert client.request_count == 1


def test_a_refused_connection_is_retried_and_each_retry_said(fake_time: FakeTime) -> None:
    notices: list[str] = []
    refused = ConnectionRefusedError(111, "Connection refused")
    with _client(_failing(refused), fake_time, notices) as client, pytest.raises(TransportError):
        client.get_tuned_model("x")

    assert client.request_count == 4
    assert len(notices) == 3
    assert notices[0].startswith("Retrying GET /v1beta/tunedModels/x in ")
    assert "(attempt 2 of 4): cannot connect to" in notices[0]
    assert "Connection refused" in notices[0]
