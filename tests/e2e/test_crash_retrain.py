"""SIGKILL a createBeforeDestroy retrain at random moments: every name keeps serving.

Five models retrained with createBeforeDestroy against an emulator with 80 ms
latency, so kills land before and after the generation is recorded, the
create is sent, the candidate is promoted and the old generation deleted.
A watcher polls the API throughout: each name has an ACTIVE generation at
every poll. Each round then applies until a run exits 0 and checks that every
generation was created once, nothing is left over, and the next plan is empty.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.convergence import CrashLog, apply_with_kills, read_state
from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import ServedEmulator, serve_emulator

MIN_KILLS = 20
KILLS_PER_ROUND = 8
NAMES = [f"retrain-{i}" for i in range(5)]


@pytest.fixture
def slow_emulator() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--latency-ms", "80", "--seed", "5") as server:
        yield server


def write_models(ws: Workspace, *, epochs: int) -> None:
    docs: list[dict[str, Any]] = []
    for name in NAMES:
        doc = tuned_model(name, epochs=epochs)
        doc["spec"]["lifecycle"] = {"replacement": "createBeforeDestroy"}
        docs.append(doc)
    ws.write(dataset("numbers", NUMBERS), *docs)


class Watcher:
    """Polls the API from another thread: which names had no ACTIVE generation at a poll."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.polls = 0
        self.gaps: list[tuple[str, list[str]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            live = self.ws.live()
            self.polls += 1
            for name in NAMES:
                active = [
                    model_id
                    for model_id, model in live.items()
                    if model_id == name
                    or (model_id.startswith(f"{name}-") and model["state"] == "ACTIVE")
                ]
                if not active:
                    self.gaps.append((name, sorted(live)))
            self.stop.wait(0.02)

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_killed_create_before_destroy_retrains_converge_and_always_serve(
    tmp_path: Path, slow_emulator: ServedEmulator
) -> None:
    rng = random.Random(20261130)
    log = CrashLog()
    round_ = 0
    while log.kills < MIN_KILLS:
        assert round_ < 10, f"only {log.kills} kills in {round_} rounds"
        slow_emulator.reset()
        ws = Workspace(root=tmp_path / f"round-{round_}", emulator=slow_emulator)
        write_models(ws, epochs=1)
        first = ws.apply("--parallelism", "5")
        assert first.returncode == 0, first.stdout + first.stderr
        write_models(ws, epochs=2)
        with Watcher(ws) as watcher:
            apply_with_kills(ws, rng=rng, kills=KILLS_PER_ROUND, log=log)

        assert watcher.polls > 10
        assert watcher.gaps == []
        live = ws.live()
        assert {m: model["state"] for m, model in live.items()} == {
            f"{name}-2": "ACTIVE" for name in NAMES
        }
        assert ws.creates() == {
            **dict.fromkeys(NAMES, 1),
            **dict.fromkeys((f"{name}-2" for name in NAMES), 1),
        }
        records = read_state(ws)["models"]
        assert isinstance(records, dict)
        for name in NAMES:
            record = records[name]
            assert record["name"] == f"tunedModels/{name}-2"
            assert (record["generation"], record["candidate"], record["retired"]) == (2, None, [])
            assert record["operation"] is None and record["pendingCreate"] is None
            assert record["applied"]["hyperparameters"]["epochCount"] == 2
        final = ws.cli("plan", "--detailed-exitcode")
        assert final.returncode == 0, final.stdout + final.stderr
        round_ += 1
    assert log.kills >= MIN_KILLS
