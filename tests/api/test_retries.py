"""Retries: which failures are retried, how long the client waits, and when it gives up."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from reconciler.api import RetryPolicy
from reconciler.api.client import GeminiClient
from reconciler.api.retry import parse_duration, parse_retry_after
from reconciler.errors import (
    InternalError,
    InvalidArgumentError,
    ResourceExhaustedError,
    TransportError,
    UnavailableError,
)
from tests.api.conftest import FakeTime, make_client
from tests.api.fake_api import FakeGeminiApi, Fault


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 0])
def test_transient_failures_are_retried(
    fake_api: FakeGeminiApi, client: GeminiClient, status: int
) -> None:
    fake_api.add_model("x")
    fake_api.fail_next(Fault(status=status), Fault(status=status))
    assert client.get_tuned_model("x").name == "tunedModels/x"
    assert client.request_count == 3
    assert client.retry_count == 2


def test_permanent_failures_are_not_retried(fake_api: FakeGeminiApi, client: GeminiClient) -> None:
    fake_api.fail_next(Fault(status=400))
    with pytest.raises(InvalidArgumentError):
        list(client.list_tuned_models())
    assert client.request_count == 1


def test_retry_after_header_is_a_floor_on_the_wait(
    fake_api: FakeGeminiApi, client: GeminiClient, fake_time: FakeTime
) -> None:
    fake_api.add_model("x")
    fake_api.fail_next(Fault(status=429, retry_after="7"))
    client.get_tuned_model("x")
    assert len(fake_time.sleeps) == 1
    assert fake_time.sleeps[0] >= 7.0


def test_the_larger_of_retry_after_and_retry_info_wins(
    fake_api: FakeGeminiApi, client: GeminiClient, fake_time: FakeTime
) -> None:
    fake_api.add_model("x")
    fake_api.fail_next(
        Fault(status=429, retry_after="2", retry_delay="15s"),
        Fault(status=429, retry_after="9", retry_delay="0.5s"),
    )
    client.get_tuned_model("x")
    assert fake_time.sleeps[0] >= 15.0
    assert 9.0 <= fake_time.sleeps[1] < 15.0


def test_jitter_stays_within_the_exponential_ceiling() -> None:
    policy = RetryPolicy(initial_delay=0.5, multiplier=2.0, max_delay=4.0)
    rng = random.Random(3)
    for retry_number in range(1, 10):
        ceiling = min(4.0, 0.5 * 2 ** (retry_number - 1))
        waits = [policy.backoff(retry_number=retry_number, rng=rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # full jitter spreads over the whole range


def test_a_call_gives_up_after_max_attempts(fake_api: FakeGeminiApi, fake_time: FakeTime) -> None:
    fake_api.fail_next(*[Fault(status=503) for _ in range(10)])
    with (
        make_client(fake_api, fake_time, retry=RetryPolicy(max_attempts=4)) as client,
        pytest.raises(UnavailableError) as info,
    ):
        client.get_tuned_model("x")
        assert client.request_count == 4
    assert info.value.temporary
    assert len(fake_time.sleeps) == 3


def test_a_call_gives_up_when_the_server_asks_for_too_long_a_wait(
    fake_api: FakeGeminiApi, fake_time: FakeTime
) -> None:
    fake_api.fail_next(Fault(status=429, retry_delay="3600s"))
    with (
        make_client(fake_api, fake_time, retry=RetryPolicy(max_total_delay=60)) as client,
        pytest.raises(ResourceExhaustedError) as info,
    ):
        client.get_tuned_model("x")
    assert info.value.retry_after == 3600.0
    assert fake_time.sleeps == []


def test_the_shared_budget_runs_out_across_calls(
    fake_api: FakeGeminiApi, fake_time: FakeTime
) -> None:
    fake_api.add_model("x")
    with make_client(fake_api, fake_time, retry=RetryPolicy(budget=3)) as client:
        fake_api.fail_next(Fault(status=500), Fault(status=500))
        client.get_tuned_model("x")  # 2 retries
        fake_api.fail_next(Fault(status=500), Fault(status=500), Fault(status=500))
        with pytest.raises(InternalError):
            client.get_tuned_model("x")  # 1 retry left, then the error surfaces
        assert client.retry_count == 3
        assert client.request_count == 5


def test_connection_errors_surface_as_transport_errors(
    fake_api: FakeGeminiApi, fake_time: FakeTime
) -> None:
    fake_api.fail_next(*[Fault(status=0) for _ in range(3)])
    with (
        make_client(fake_api, fake_time, retry=RetryPolicy(max_attempts=3)) as client,
        pytest.raises(TransportError) as info,
    ):
        client.get_tuned_model("x")
    assert str(info.value) == "GET /v1beta/tunedModels/x: connection failed (ReadError)"
    assert info.value.temporary


def test_durations_and_retry_after_forms() -> None:
    assert parse_duration("15s") == 15.0
    assert parse_duration("0.25s") == 0.25
    assert parse_duration("15") is None
    assert parse_retry_after("120") == 120.0
    now = datetime(2024, 3, 14, 15, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 14 Mar 2024 15:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon") is None
