"""Error answers become the right ApiError; no httpx exception leaves the package."""

from __future__ import annotations

import random

import httpx
import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.client import GeminiClient
from reconciler.errors import (
    AlreadyExistsError,
    ApiError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    TransportError,
    UnauthenticatedError,
    UnavailableError,
)
from tests.api.conftest import API_KEY, FakeTime
from tests.support.servers import free_port

NO_RETRY = RetryPolicy(max_attempts=1)


def client_answering(response: httpx.Response | Exception, time: FakeTime) -> GeminiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response

    return GeminiClient(
        endpoint="https://generativelanguage.googleapis.com",
        credentials=Credentials(api_key=API_KEY),
        transport=httpx.MockTransport(handler),
        retry=NO_RETRY,
        sleep=time.sleep,
        clock=time.clock,
        rng=random.Random(1),
    )


def status_body(code: int, status: str, message: str) -> httpx.Response:
    return httpx.Response(
        code, json={"error": {"code": code, "message": message, "status": status}}
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        (400, "INVALID_ARGUMENT", InvalidArgumentError),
        (401, "UNAUTHENTICATED", UnauthenticatedError),
        (403, "PERMISSION_DENIED", PermissionDeniedError),
        (404, "NOT_FOUND", NotFoundError),
        (409, "ALREADY_EXISTS", AlreadyExistsError),
        (400, "FAILED_PRECONDITION", FailedPreconditionError),
        (429, "RESOURCE_EXHAUSTED", ResourceExhaustedError),
        (500, "INTERNAL", InternalError),
        (503, "UNAVAILABLE", UnavailableError),
        (504, "DEADLINE_EXCEEDED", UnavailableError),
    ],
)
def test_status_bodies_map_to_error_classes(
    fake_time: FakeTime, code: int, status: str, expected: type[ApiError]
) -> None:
    with (
        client_answering(status_body(code, status, "went wrong"), fake_time) as client,
        pytest.raises(expected) as info,
    ):
        client.get_tuned_model("x")
    error = info.value
    assert type(error) is expected
    assert (error.code, error.status, error.api_message) == (code, status, "went wrong")
    assert str(error) == f"GET /v1beta/tunedModels/x: {code} {status}: went wrong"
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


@pytest.mark.parametrize(
    ("code", "expected"),
    [(404, NotFoundError), (502, UnavailableError), (418, ApiError), (599, InternalError)],
)
def test_non_json_bodies_map_by_http_code(
    fake_time: FakeTime, code: int, expected: type[ApiError]
) -> None:
    html = httpx.Response(code, text="<html><body><h1>Error</h1>\n<p>Not here</p></body></html>")
    with client_answering(html, fake_time) as client, pytest.raises(expected) as info:
        list(client.list_tuned_models())
    assert type(info.value) is expected
    assert info.value.code == code
    assert "response was not JSON" in str(info.value)
    assert str(info.value).startswith(f"GET /v1beta/tunedModels: {code}")


def test_message_never_carries_the_query_string(fake_time: FakeTime) -> None:
    with (
        client_answering(status_body(400, "INVALID_ARGUMENT", "bad"), fake_time) as client,
        pytest.raises(InvalidArgumentError) as info,
    ):
        list(client.list_tuned_models(filter="owner:me"))
    assert str(info.value) == "GET /v1beta/tunedModels: 400 INVALID_ARGUMENT: bad"


def test_details_and_hint_of_an_invalid_key(fake_time: FakeTime) -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }
    with (
        client_answering(httpx.Response(400, json=body), fake_time) as client,
        pytest.raises(InvalidArgumentError) as info,
    ):
        client.get_tuned_model("x")
    assert info.value.details[0]["reason"] == "API_KEY_INVALID"
    assert info.value.hint is not None and "API key" in info.value.hint


HTTPX_EXCEPTIONS = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("slow"),
    httpx.ReadTimeout("slow"),
    httpx.WriteTimeout("slow"),
    httpx.PoolTimeout("busy"),
    httpx.ReadError("reset"),
    httpx.WriteError("reset"),
    httpx.CloseError("reset"),
    httpx.RemoteProtocolError("dropped"),
    httpx.LocalProtocolError("bad"),
    httpx.ProxyError("proxy"),
    httpx.UnsupportedProtocol("gopher"),
    httpx.DecodingError("gzip"),
    httpx.TooManyRedirects("loop"),
    httpx.InvalidURL("bad url"),
    httpx.StreamConsumed(),
    httpx.ResponseNotRead(),
    httpx.RequestNotRead(),
    httpx.StreamClosed(),
]


@pytest.mark.parametrize("exc", HTTPX_EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_no_httpx_exception_escapes(fake_time: FakeTime, exc: Exception) -> None:
    with client_answering(exc, fake_time) as client:
        calls = [
            lambda: client.get_tuned_model("x"),
            lambda: list(client.list_tuned_models()),
            lambda: client.delete_tuned_model("x"),
            lambda: client.list_base_models(),
        ]
        for call in calls:
            with pytest.raises(ApiError) as info:
                call()
            assert not isinstance(info.value, httpx.HTTPError)
            assert info.value.__cause__ is exc
            assert str(info.value).startswith("GET " if call is not calls[2] else "DELETE ")


def test_timeouts_and_dropped_connections_are_transport_errors(fake_time: FakeTime) -> None:
    for exc in (httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("Server disconnected")):
        with client_answering(exc, fake_time) as client, pytest.raises(TransportError):
            client.get_tuned_model("x")


def test_a_success_that_is_not_json_is_an_api_error(fake_time: FakeTime) -> None:
    with (
        client_answering(httpx.Response(200, text="<html>login</html>"), fake_time) as client,
        pytest.raises(ApiError, match="the answer was not JSON"),
    ):
        client.get_tuned_model("x")


def test_a_loopback_endpoint_that_refuses_connections_fails_at_once_naming_it(
    fake_time: FakeTime,
) -> None:
    port = free_port()  # nothing listens there: an emulator that is not running
    client = GeminiClient(
        endpoint=f"http://user:secret@127.0.0.1:{port}",
        credentials=Credentials(api_key=API_KEY),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    with client, pytest.raises(TransportError) as info:
        list(client.list_tuned_models())

    assert client.request_count == 1  # not retried
    assert f"cannot connect to http://127.0.0.1:{port}" in info.value.message
    assert "secret" not in info.value.message
    assert info.value.hint is not None and "reconciler emulator serve" in info.value.hint


def test_a_refused_connection_after_the_endpoint_answered_is_retried(
    fake_time: FakeTime,
) -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(200, json={"tunedModels": []}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"tunedModels": []}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = GeminiClient(
        endpoint="http://127.0.0.1:1",
        credentials=Credentials(api_key=API_KEY),
        transport=httpx.MockTransport(handler),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        rng=random.Random(1),
    )
    with client:
        assert list(client.list_tuned_models()) == []
        assert list(client.list_tuned_models()) == []  # an emulator restarting: retried
    assert client.request_count == 3
