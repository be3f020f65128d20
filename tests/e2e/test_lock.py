"""Two applies at once: one works, the other fails fast naming the holder, or waits with --lock-timeout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.convergence import start_apply
from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import ServedEmulator, serve_emulator

MODELS = ("alpha", "beta", "gamma")


@pytest.fixture
def slow_emulator() -> Iterator[ServedEmulator]:
    """Every request takes 500 ms, so an apply holds the lock for a couple of seconds."""
    with serve_emulator("--step-seconds", "0", "--latency-ms", "500") as server:
        yield server


def wait_for_plan(log: Path) -> None:
    """The first apply prints its plan while holding the lock."""
    deadline = time.monotonic() + 30
    while b"Plan:" not in log.read_bytes():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.01)


def test_a_second_apply_fails_fast_naming_the_holder_or_waits_with_lock_timeout(
    tmp_path: Path, slow_emulator: ServedEmulator
) -> None:
    ws = Workspace(root=tmp_path, emulator=slow_emulator)
    ws.write(dataset("numbers", NUMBERS), *(tuned_model(n) for n in MODELS))
    first_log = tmp_path / "first.log"
    first = start_apply(ws, first_log)
    try:
        wait_for_plan(first_log)
        started = time.monotonic()
        second = ws.apply()
        elapsed = time.monotonic() - started
        still_running = first.poll() is None
    finally:
        first_code = first.wait(timeout=60)

    assert still_running, "the first apply finished before the second tried the lock"
    assert second.returncode == 1
    assert elapsed < 10
    message = second.stderr
    assert message.startswith("Error: ")
    assert f"pid {first.pid}" in message
    assert socket.gethostname() in message
    assert "(reconciler apply), lock id" in message
    assert "--lock-timeout" in message
    assert first_code == 0, first_log.read_text()
    assert ws.creates() == dict.fromkeys(MODELS, 1)
    records = ws.state_doc()["models"]
    assert sorted(records) == sorted(MODELS)
    assert all(r["applied"] and not r["operation"] for r in records.values())

    ws.write(dataset("numbers", NUMBERS), *(tuned_model(n, display_name="Renamed") for n in MODELS))
    third_log = tmp_path / "third.log"
    third = start_apply(ws, third_log)
    try:
        wait_for_plan(third_log)
        waiting = ws.apply("--lock-timeout", "30s")
    finally:
        third_code = third.wait(timeout=60)

    assert third_code == 0, third_log.read_text()
    assert waiting.returncode == 0, waiting.stderr
    assert "No changes" in waiting.stdout
    assert {m["displayName"] for m in ws.live().values()} == {"Renamed"}
    assert ws.requests("PATCH /v1beta/tunedModels/{id}") == 3
    assert ws.kinds() == dict.fromkeys(MODELS, "noop")
