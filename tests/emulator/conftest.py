"""In-process emulator fixtures: a starlette TestClient and a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from reconciler.emulator import EmulatorConfig, create_app

BASE = "models/gemini-1.5-flash-001-tuning"
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@dataclass
class FakeClock:
    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def create_body(
    *, examples: int = 4, epochs: int = 2, batch: int = 2, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "baseModel": BASE,
        "tuningTask": {
            "trainingData": {
                "examples": {
                    "examples": [
                        {"textInput": f"input {i}", "output": f"output {i}"}
                        for i in range(examples)
                    ]
                }
            },
            "hyperparameters": {"epochCount": epochs, "batchSize": batch, "learningRate": 0.001},
        },
    }
    body.update(fields)
    return body


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(**config: Any) -> TestClient:
        config.setdefault("seed", 7)
        config.setdefault("step_seconds", 1.0)
        client = TestClient(create_app(EmulatorConfig(**config), clock=clock))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    """One tuning step per simulated second."""
    return make_client()
