"""SIGKILL ``reconciler apply`` at random moments: no model lost, none created twice.

Ten models (two tuned from others) against an emulator with 80 ms latency, so
kills land before, during and after create requests and state writes. Each
round starts from nothing, kills several runs, then applies until a run exits
0 and checks the result; rounds repeat until at least 20 runs were killed.
A third test aims its kills at the state file's journal: while entries are
appended, and while a compaction rewrites the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.convergence import (
    CrashLog,
    apply_with_journal_kills,
    apply_with_kills,
)
from tests.e2e.convergence import crash_rounds as shared_crash_rounds
from tests.e2e.workspace import Workspace
from tests.support.postgres import (
    PostgresServer,
    serve_postgres,
)
from tests.support.servers import ServedEmulator, serve_emulator

MIN_KILLS = 20
KILLS_PER_ROUND = 8


@pytest.fixture
def slow_emulator() -> Iterator[ServedEmulator]:
    with serve_emulator("--step-seconds", "0", "--latency-ms", "80", "--seed", "11") as server:
        yield server


def crash_rounds(
    *,
    emulator: ServedEmulator,
    make_workspace: Callable[[int], Workspace],
    seed: int,
    drive: Callable[..., None] = apply_with_kills,
) -> CrashLog:
    log, rounds = shared_crash_rounds(
        emulator=emulator,
        make_workspace=make_workspace,
        seed=seed,
        min_kills=MIN_KILLS,
        kills_per_round=KILLS_PER_ROUND,
        drive=drive,
    )
    print(f"{log.kills} kills, {rounds} rounds, {log.stale_lock_takeovers} stale-lock takeovers")
    return log


def test_killed_applies_on_file_state_converge_without_duplicates(
    tmp_path: Path, slow_emulator: ServedEmulator
) -> None:
    def workspace(round_: int) -> Workspace:
        return Workspace(root=tmp_path / f"round-{round_}", emulator=slow_emulator)

    log = crash_rounds(emulator=slow_emulator, make_workspace=workspace, seed=20240607)

    assert log.kills >= MIN_KILLS
    assert min(log.delays_ms) < 100 < max(log.delays_ms)
    # A killed holder leaves its lock record behind: later runs took it over, saying so.
    assert log.stale_lock_takeovers >= 1
    for round_dir in tmp_path.glob("round-*"):
        backup = round_dir / ".reconciler" / "state.json.backup"
        assert backup.read_text(encoding="utf-8").lstrip().startswith("{")


def test_kills_during_journal_appends_and_compaction_converge(
    tmp_path: Path, slow_emulator: ServedEmulator
) -> None:
    def workspace(round_: int) -> Workspace:
        return Workspace(root=tmp_path / f"round-{round_}", emulator=slow_emulator)

    log = crash_rounds(
        emulator=slow_emulator,
        make_workspace=workspace,
        seed=20261130,
        drive=apply_with_journal_kills,
    )

    assert log.kills >= MIN_KILLS
    # Both aims were hit: runs of journal appends, and a snapshot half-rewritten.
    assert -1 in log.delays_ms and any(d >= 0 for d in log.delays_ms)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    yield from serve_postgres()


@pytest.mark.postgres
def test_killed_applies_on_postgres_state_converge_without_duplicates(
    tmp_path: Path, slow_emulator: ServedEmulator, postgres: PostgresServer
) -> None:
    def workspace(round_: int) -> Workspace:
        return Workspace(
            root=tmp_path / f"round-{round_}",
            emulator=slow_emulator,
            state=postgres.unique_uri(workspace="default"),
        )

    log = crash_rounds(emulator=slow_emulator, make_workspace=workspace, seed=99)

    assert log.kills >= MIN_KILLS
    assert min(log.delays_ms) < 100 < max(log.delays_ms)
