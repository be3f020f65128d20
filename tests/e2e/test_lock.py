"""Two applies at once: one works, the other fails fast naming the holder, or waits with
--lock-timeout. An apply that only follows tuning leaves the state free for other commands."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.convergence import read_state, start_apply
from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.postgres import (
    PostgresServer,
    serve_postgres,
)
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
    # One create at a time: the lock is held while requests are being sent (an
    # apply gives it up once only tuning is left to follow).
    first = start_apply(ws, first_log, "--parallelism", "1")
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


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    yield from serve_postgres()


def wait_for_text(log: Path, text: bytes, apply: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while text not in log.read_bytes():
        assert apply.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.01)


@pytest.mark.parametrize("backend", ["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_while_an_apply_follows_tuning_plans_and_other_writers_use_the_state(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    state = ""
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        state = server.unique_uri(workspace="default")
    with serve_emulator("--step-seconds", "0") as emulator:
        ws = Workspace(root=tmp_path, emulator=emulator, state=state)
        ws.write(dataset("numbers", NUMBERS), tuned_model("beta"))
        assert ws.apply().returncode == 0
        emulator.configure(stepSeconds=3600)  # alpha: 6 steps; the clock moves only when told
        ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", epochs=4), tuned_model("beta"))
        log = tmp_path / "apply.log"
        apply = start_apply(ws, log)
        try:
            wait_for_text(log, b"TunedModel/alpha: tuning", apply)
            # Both wait for the lock if it is still held: they only get it while
            # alpha tunes if the apply gave it up.
            during_plan = ws.cli("plan", "--format", "json", "--lock-timeout", "20s")
            during_rm = ws.cli("state", "rm", "beta", "--lock-timeout", "20s")
            still_tuning = apply.poll() is None
            emulator.advance(6 * 3600)  # now alpha finishes
            code = apply.wait(timeout=60)
        finally:
            apply.kill()

        assert still_tuning, "alpha finished tuning before the other commands ran"
        assert during_plan.returncode == 0, during_plan.stderr
        kinds = {a["name"]: a["action"] for a in json.loads(during_plan.stdout)["actions"]}
        assert kinds == {"tunedModels/alpha": "wait", "tunedModels/beta": "noop"}
        assert during_rm.returncode == 0, during_rm.stderr
        assert code == 0, log.read_text()
        assert "TunedModel/alpha: create succeeded (ACTIVE)" in log.read_text()
        models = read_state(ws)["models"]
        assert isinstance(models, dict)
        # beta's removal, written while alpha was tuning, is kept; alpha's outcome is recorded.
        assert sorted(models) == ["alpha"]
        assert models["alpha"]["operation"] is None
        assert models["alpha"]["createTime"] == ws.live()["alpha"]["createTime"]
        assert ws.creates() == {"alpha": 1, "beta": 1}
        ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", epochs=4))  # beta unmanaged now
        assert ws.kinds() == {"alpha": "noop"}
        second = ws.apply()  # nothing left locked behind
        assert second.returncode == 0, second.stderr


def test_a_record_removed_while_its_tuning_is_followed_is_not_written_back(
    tmp_path: Path,
) -> None:
    with serve_emulator("--step-seconds", "3600") as emulator:  # alpha: 6 steps, when told
        ws = Workspace(root=tmp_path, emulator=emulator)
        ws.write(dataset("numbers", NUMBERS), tuned_model("alpha", epochs=4))
        log = tmp_path / "apply.log"
        apply = start_apply(ws, log)
        try:
            wait_for_text(log, b"TunedModel/alpha: tuning", apply)
            removed = ws.cli("state", "rm", "alpha", "--lock-timeout", "20s")
            emulator.advance(6 * 3600)  # now alpha finishes
            code = apply.wait(timeout=60)
        finally:
            apply.kill()

        assert removed.returncode == 0, removed.stderr
        assert code == 0, log.read_text()
        assert "changed by another command meanwhile and is kept as is" in log.read_text()
        assert read_state(ws)["models"] == {}  # the removal stands
        assert ws.live()["alpha"]["state"] == "ACTIVE"
