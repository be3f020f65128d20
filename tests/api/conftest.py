"""Fixtures for the client tests: a behaving fake API and a client with fake time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from reconciler.api import Credentials, RetryPolicy
from reconciler.api.client import GeminiClient
from tests.api.fake_api import FakeGeminiApi

API_KEY = "AIzaSyFAKE-secret-key-0123456789abcdef"
ENDPOINT = "https://generativelanguage.googleapis.com"


@dataclass
class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_api() -> FakeGeminiApi:
    return FakeGeminiApi()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_client(
    api: FakeGeminiApi,
    time: FakeTime,
    *,
    retry: RetryPolicy | None = None,
    endpoint: str = ENDPOINT,
    credentials: Credentials | None = None,
) -> GeminiClient:
    return GeminiClient(
        endpoint=endpoint,
        credentials=credentials or Credentials(api_key=API_KEY),
        transport=api.transport(),
        retry=retry or RetryPolicy(),
        sleep=time.sleep,
        clock=time.clock,
        rng=random.Random(7),
    )


@pytest.fixture
def client(fake_api: FakeGeminiApi, fake_time: FakeTime) -> Iterator[GeminiClient]:
    with make_client(fake_api, fake_time) as c:
        yield c
