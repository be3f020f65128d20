"""Drive ``reconciler apply`` through crashes and faults, then check nothing was lost or duplicated.

Shared by the SIGKILL tests (file and PostgreSQL state) and the fault-injection
tests: the same ten-model project, the same checks of the end result. What is
backend-specific (the manifests, how the live side is read) is a
``BackendDriver``: ``GEMINI`` here, ``VERTEX`` in ``vertex_convergence``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import REPO_ROOT, ServedEmulator

MODELS = [f"model-{i}" for i in range(10)]
# Two models are tuned from others, so crashes also land between dependent steps.
SOURCES = {"model-8": "model-0", "model-9": "model-1"}
STALE_LOCK_WARNING = "Warning: took over a stale state lock"


def write_ten_models(ws: Workspace) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        *(tuned_model(name, source=SOURCES.get(name)) for name in MODELS),
    )


@dataclass(frozen=True)
class BackendDriver:
    """The ten-model project of one backend and the checks of its end result."""

    write_models: Callable[[Workspace], None]
    check_converged: Callable[[Workspace], None]
    create_route: str  # the request a create sends, as ``/emulator/stats`` counts it
    # After a kill: the creates that reached the API whose answer the state lacks.
    lost_answers: Callable[[Workspace], set[str]] | None = None


@dataclass
class CrashLog:
    kills: int = 0
    completed_runs: int = 0
    delays_ms: list[int] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    # After each kill, what it left half done (a create made but its answer
    # unrecorded, a model half removed), found where a test can look.
    half_done: set[str] = field(default_factory=set)
    find_half_done: Callable[[Workspace], set[str]] | None = None

    @property
    def stale_lock_takeovers(self) -> int:
        return sum(text.count(STALE_LOCK_WARNING) for text in self.stderr)


def start_apply(ws: Workspace, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``reconciler apply`` as a background process, unbuffered output into ``out``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GEMINI_"))}
    env.update(ws.env(), NO_COLOR="1", PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO_ROOT))
    argv = ws.argv("apply", "--auto-approve", "--poll-interval", "0.05s", *extra)
    with out.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", *argv],
            cwd=ws.root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def _wait_for_text(proc: subprocess.Popen[bytes], out: Path, text: bytes, limit: float) -> None:
    """Until ``text`` is in the output, the process ends, or ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline:
        if text in out.read_bytes():
            return
        time.sleep(0.005)


# aim(proc, out) waits for the moment to kill and returns the delay it chose
# (in seconds, recorded in ``CrashLog.delays_ms``), or None to let the run be.
Aim = Callable[[subprocess.Popen[bytes], Path], float | None]


def _kill_until_converged(
    ws: Workspace, *, aim: Aim, kills: int, log: CrashLog, max_runs: int
) -> None:
    """Start applies, kill up to ``kills`` of them where ``aim`` says, until one exits 0.

    A run that finishes before its kill ends the round early; a run that fails
    on its own stops the killing, so the next ones can converge.
    """
    killed = 0
    for run in range(max_runs):
        out = ws.root / f"apply-{log.kills}-{run}.log"
        proc = start_apply(ws, out, "--parallelism", "4")
        if killed < kills:
            delay = aim(proc, out)
            if delay is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed += 1
                log.kills += 1
                log.delays_ms.append(round(delay * 1000))
                log.stderr.append(out.read_text(errors="replace"))
                if log.find_half_done is not None:
                    log.half_done |= log.find_half_done(ws)
                continue
        code = proc.wait(timeout=120)
        log.stderr.append(out.read_text(errors="replace"))
        if code == 0:
            log.completed_runs += 1
            return
        killed = kills  # a run failed on its own: stop killing and let it converge
    raise AssertionError(f"apply did not converge in {max_runs} runs:\n{log.stderr[-1]}")


def apply_with_kills(
    ws: Workspace,
    *,
    rng: random.Random,
    kills: int,
    log: CrashLog,
    max_runs: int = 60,
    max_delay: float = 0.4,
) -> None:
    """Kill up to ``kills`` applies at random moments, then apply until one exits 0.

    Most delays count from the moment the plan is printed (the run holds the
    lock and is about to write intents), so kills spread over intent writes,
    create requests, operation records and polling rather than interpreter
    start-up; some count from the start, landing while the state is read.
    Delays are up to ``max_delay`` seconds.
    """

    def aim(proc: subprocess.Popen[bytes], out: Path) -> float:
        return _random_moment(proc, out, rng=rng, max_delay=max_delay)

    _kill_until_converged(ws, aim=aim, kills=kills, log=log, max_runs=max_runs)


def _random_moment(
    proc: subprocess.Popen[bytes], out: Path, *, rng: random.Random, max_delay: float
) -> float:
    if rng.random() >= 0.15:
        _wait_for_text(proc, out, b"Plan:", 30)
    delay = rng.uniform(0.0, max_delay)
    time.sleep(delay)
    return delay


def _wait_for_path(proc: subprocess.Popen[bytes], found: Callable[[], bool], limit: float) -> bool:
    """Poll until ``found()`` (True), the process ends or ``limit`` seconds pass (False)."""
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline:
        if found():
            return True
        time.sleep(0.001)
    return False


def apply_with_journal_kills(
    ws: Workspace, *, rng: random.Random, kills: int, log: CrashLog, max_runs: int = 60
) -> None:
    """Like ``apply_with_kills``, on the file backend, aiming at the journal.

    Half the kills come a few milliseconds after the journal appears (runs of
    appends), half the moment a compaction has its new snapshot half-made (a
    ``.state.json.*.tmp`` file exists: at the end of a run, or when a run folds
    in the journal a killed one left). ``log.delays_ms`` gets -1 for the latter.
    """
    directory = Path(ws.state).parent
    journal = directory / "state.json.journal"

    def compacting() -> bool:
        return any(directory.glob(".state.json.*.tmp"))

    def aim(proc: subprocess.Popen[bytes], out: Path) -> float | None:
        if rng.random() < 0.5:
            hit = _wait_for_path(proc, journal.exists, 30)
            delay = rng.uniform(0.0, 0.03)
            time.sleep(delay)
        else:
            hit = _wait_for_path(proc, compacting, 30)
            delay = -0.001
        return delay if hit else None

    _kill_until_converged(ws, aim=aim, kills=kills, log=log, max_runs=max_runs)


def read_state(ws: Workspace) -> dict[str, object]:
    """The stored state as JSON text, through ``reconciler state pull`` (either backend)."""
    pulled = ws.cli("state", "pull")
    assert pulled.returncode == 0, pulled.stderr
    data: dict[str, object] = json.loads(pulled.stdout)
    return data


def assert_converged(ws: Workspace, *, models: list[str] = MODELS) -> None:
    """Exactly ``models`` live and ACTIVE, each created once, state == live, plan is empty."""
    live = ws.live()
    assert {name: m["state"] for name, m in live.items()} == dict.fromkeys(models, "ACTIVE")
    assert ws.creates() == dict.fromkeys(models, 1)
    state = read_state(ws)
    assert state["formatVersion"] == 1
    assert isinstance(state["lineage"], str) and len(state["lineage"]) == 36
    assert isinstance(state["serial"], int) and state["serial"] > 0
    records = state["models"]
    assert isinstance(records, dict)
    assert sorted(records) == sorted(models)
    for name, record in records.items():
        assert record["name"] == f"tunedModels/{name}"
        assert record["applied"] is not None, name
        assert record["pendingCreate"] is None, name
        assert record["operation"] is None, name
        assert record["applied"]["displayName"] == live[name]["displayName"]
        assert record["applied"]["dataset"]["hash"].startswith("sha256:")
    final = ws.cli("plan", "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr


GEMINI = BackendDriver(
    write_models=write_ten_models,
    check_converged=assert_converged,
    create_route="POST /v1beta/tunedModels",
)


def crash_rounds(
    *,
    emulator: ServedEmulator,
    make_workspace: Callable[[int], Workspace],
    seed: int,
    min_kills: int,
    kills_per_round: int,
    driver: BackendDriver = GEMINI,
    drive: Callable[..., None] = apply_with_kills,
) -> tuple[CrashLog, int]:
    """Rounds of (fresh project, killed applies, a run that exits 0, checks) until ``min_kills``.

    Returns the log and the number of rounds.
    """
    rng = random.Random(seed)
    log = CrashLog(find_half_done=driver.lost_answers)
    round_ = 0
    while log.kills < min_kills:
        assert round_ < 15, f"only {log.kills} kills in {round_} rounds"
        emulator.reset()
        ws = make_workspace(round_)
        driver.write_models(ws)
        drive(ws, rng=rng, kills=kills_per_round, log=log)
        driver.check_converged(ws)
        round_ += 1
    return log, round_


def apply_until_done(ws: Workspace, *, max_runs: int) -> list[int]:
    """Run apply until one exits 0 (or ``max_runs`` ran); the exit codes, in order."""
    codes: list[int] = []
    for run in range(max_runs):
        proc = start_apply(ws, ws.root / f"apply-{run}.log", "--parallelism", "4")
        codes.append(proc.wait(timeout=120))
        if codes[-1] == 0:
            break
    return codes
