"""The API key never appears in a log line, an error, its causes, or a URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.client import GeminiClient
from reconciler.errors import ApiError, InvalidArgumentError, NotFoundError
from reconciler.spec import AppliedSpec
from tests.api.conftest import API_KEY, FakeTime, make_client
from tests.api.fake_api import FakeGeminiApi, Fault
from tests.support.servers import ServedEmulator, serve_emulator

SERVER_KEY = "emulator-accepts-only-this-key-42"
WRONG_KEY = "AIzaSy-wrong-key-that-must-stay-hidden-77"


class RecordingTransport(httpx.BaseTransport):
    """Real HTTP, remembering every URL the client produced."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.urls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def chain(error: BaseException) -> Iterator[BaseException]:
    current: BaseException | None = error
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def assert_hidden(secret: str, error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    for link in chain(error):
        assert secret not in str(link)
        assert secret not in repr(link)
        assert secret not in str(link.args)
    for record in caplog.records:
        assert secret not in record.getMessage()


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", api_key=SERVER_KEY) as server:
        yield server


def test_a_wrong_key_is_invalid_and_never_shown(
    keyed: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = RecordingTransport()
    credentials = Credentials.resolve(api_key=WRONG_KEY, access_token=None, endpoint=keyed.url)
    with GeminiClient(endpoint=keyed.url, credentials=credentials, transport=transport) as client:
        for call in (
            lambda: client.get_tuned_model("x"),
            lambda: list(client.list_tuned_models(filter="owner:me")),
            lambda: client.create_tuned_model(
                model_id="x",
                spec=AppliedSpec(baseModel="models/gemini-1.5-flash-001-tuning"),
                examples=[],
            ),
        ):
            with pytest.raises(InvalidArgumentError) as info:
                call()
            assert info.value.code == 400
            assert any(d.get("reason") == "API_KEY_INVALID" for d in info.value.details)
            assert_hidden(WRONG_KEY, info.value, caplog)
    assert transport.urls and not any(WRONG_KEY in url for url in transport.urls)
    assert not any("key=" in url for url in transport.urls)


def test_the_right_key_works_and_is_never_logged(
    keyed: ServedEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = RecordingTransport()
    credentials = Credentials.resolve(api_key=SERVER_KEY, access_token=None, endpoint=keyed.url)
    with GeminiClient(endpoint=keyed.url, credentials=credentials, transport=transport) as client:
        assert isinstance(list(client.list_tuned_models()), list)
        with pytest.raises(NotFoundError) as info:
            client.get_tuned_model("missing")
    assert_hidden(SERVER_KEY, info.value, caplog)
    assert any("GET /v1beta/tunedModels -> 200" in r.getMessage() for r in caplog.records)
    assert not any(SERVER_KEY in url for url in transport.urls)


def test_each_attempt_is_logged_at_info_without_secrets(
    fake_api: FakeGeminiApi, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_api.add_model("x")
    fake_api.fail_next(Fault(status=503))
    with make_client(fake_api, fake_time) as client:
        client.get_tuned_model("x")
        list(client.list_tuned_models(filter="owner:me"))
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "reconciler.api" and r.levelno == logging.INFO
    ]
    assert lines[0] == "GET /v1beta/tunedModels/x -> 503 in 0 ms (attempt 1)"
    assert lines[1].startswith("retrying GET /v1beta/tunedModels/x in ")
    assert lines[2] == "GET /v1beta/tunedModels/x -> 200 in 0 ms (attempt 2)"
    assert lines[3] == "GET /v1beta/tunedModels -> 200 in 0 ms (attempt 1)"  # no query string
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


def test_a_server_echoing_the_key_is_scrubbed(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def echo(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-goog-api-key"]
        body = {"error": {"code": 400, "message": f"bad key {key}", "status": "INVALID_ARGUMENT",
                          "details": [{"@type": "x", "key": key}]}}  # fmt: skip
        return httpx.Response(400, json=body)

    client = GeminiClient(
        endpoint="https://generativelanguage.googleapis.com",
        credentials=Credentials(api_key=API_KEY),
        transport=httpx.MockTransport(echo),
        retry=RetryPolicy(max_attempts=1),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    with client, pytest.raises(ApiError) as info:
        client.get_tuned_model("x")
    assert str(info.value) == "GET /v1beta/tunedModels/x: 400 INVALID_ARGUMENT: bad key ***"
    assert info.value.details == [{"@type": "x", "key": "***"}]
    logging.getLogger("httpx").warning("leak %s", API_KEY)  # a library quoting the key
    assert_hidden(API_KEY, info.value, caplog)


@pytest.mark.parametrize("json_body", [True, False], ids=["status-message", "non-json-body"])
def test_a_key_straddling_the_message_cut_is_scrubbed_whole(
    fake_time: FakeTime, json_body: bool
) -> None:
    # The cut is at 300 characters; the key starts just before it.
    text = "x" * 290 + API_KEY + "y" * 50

    def echo(request: httpx.Request) -> httpx.Response:
        if json_body:
            return httpx.Response(400, json={"error": {"code": 400, "message": text}})
        return httpx.Response(400, text=text)

    client = GeminiClient(
        endpoint="https://generativelanguage.googleapis.com",
        credentials=Credentials(api_key=API_KEY),
        transport=httpx.MockTransport(echo),
        retry=RetryPolicy(max_attempts=1),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    with client, pytest.raises(ApiError) as info:
        client.get_tuned_model("x")

    assert "x" * 290 + "***" in info.value.message
    for link in chain(info.value):
        assert API_KEY[:8] not in str(link)  # not even the part before the cut
