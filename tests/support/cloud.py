"""A served emulator for Vertex AI and Cloud Storage tests: real HTTP, a clock the test moves.

Fixtures ``module_served``, ``served`` and ``trained``; conftest files import them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from reconciler.emulator import EmulatorConfig, create_app
from reconciler.emulator.state import Emulator
from tests.emulator.conftest import START, FakeClock
from tests.support.threaded import serve_in_thread

PROJECT = "my-project"
LOCATION = "us-central1"
BUCKET = "tuning-data"
JOBS = f"/v1/projects/{PROJECT}/locations/{LOCATION}/tuningJobs"


@dataclass
class Served:
    url: str
    clock: FakeClock
    emulator: Emulator
    http: httpx.Client

    def upload(self, name: str, data: bytes | str, *, bucket: str = BUCKET) -> dict[str, Any]:
        response = self.http.post(
            f"/upload/storage/v1/b/{bucket}/o",
            params={"uploadType": "media", "name": name},
            content=data.encode() if isinstance(data, str) else data,
            headers={"content-type": "application/jsonl"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def create_job(self, **fields: Any) -> dict[str, Any]:
        response = self.http.post(JOBS, json=job_body(**fields))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def jsonl(pairs: list[tuple[str, str]]) -> str:
    return "".join(
        json.dumps(
            {
                "contents": [
                    {"role": "user", "parts": [{"text": prompt}]},
                    {"role": "model", "parts": [{"text": reply}]},
                ]
            }
        )
        + "\n"
        for prompt, reply in pairs
    )


# 16 examples, 2 epochs, batch 8 -> 4 tuning steps
EXAMPLES = [(f"what is {i} plus one", str(i + 1)) for i in range(16)]


def job_body(
    *,
    dataset: str = "train.jsonl",
    epochs: int = 2,
    base_model: str = "gemini-2.5-flash",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "baseModel": base_model,
        "supervisedTuningSpec": {
            "trainingDatasetUri": f"gs://{BUCKET}/{dataset}",
            "hyperParameters": {"epochCount": epochs, "adapterSize": "ADAPTER_SIZE_FOUR"},
        },
    }
    body.update(extra)
    return body


@pytest.fixture(scope="module")
def module_served() -> Iterator[Served]:
    clock = FakeClock()
    app = create_app(EmulatorConfig(seed=5, step_seconds=1.0), clock=clock)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield Served(url=url, clock=clock, emulator=app.state.emulator, http=http)


@pytest.fixture
def served(module_served: Served) -> Served:
    """No jobs, objects or counts; the clock at START; one tuning step per second."""
    em = module_served.emulator
    em.reset()
    em.config.step_seconds = 1.0
    em.config.fault_rate = 0.0
    em.config.tuning_fail_rate = 0.0
    em.config.operation_seconds = 0.0
    em.config.tuning_expire_rate = 0.0
    em.config.latency_ms = 0.0
    em.config.api_key = None
    module_served.clock.now = START
    return module_served


@pytest.fixture
def trained(served: Served) -> Served:
    """``gs://tuning-data/train.jsonl`` holds EXAMPLES."""
    served.upload("train.jsonl", jsonl(EXAMPLES))
    return served
