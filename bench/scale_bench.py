"""``reconciler apply`` at scale: does a state write cost the same at 1,000 and 10,000 models?

    python bench/scale_bench.py [--sizes 1000,10000] [--backends file,postgres] [--code DIR]

Creates N models with ``reconciler apply --auto-approve --no-wait --parallelism
32`` against an emulator answering at once (``--latency-ms 0``,
``--step-seconds 0``), on the file backend and on PostgreSQL, and prints the
creates per second next to the emulator's own create rate (one keep-alive
client posting creates, no reconciler in between). Bytes per create is what
the state costs: for the file backend the bytes the apply process wrote to
disk (``write_bytes`` of /proc/PID/io), for PostgreSQL the WAL the server
wrote during the run. ``--code DIR`` runs the reconciler from another checkout
(``git archive REV | tar -x -C DIR``) to compare before and after.

Targets: creates/s at 10,000 at least 0.8x the rate at 1,000 (a write does not
grow with the state) and at least half the emulator's own rate. PostgreSQL here
runs with ``fsync=off`` (the test server), so its figures leave out the disk.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.apply_bench import API_KEY, emulator, reset, stats, write_manifests  # noqa: E402
from bench.emulator_bench import _body  # noqa: E402

# Reads its own /proc/self/io at exit: the bytes this process caused to be written to disk.
IO_WRAPPER = (
    "import atexit, runpy, sys\n"
    "def report():\n"
    "    for line in open('/proc/self/io'):\n"
    "        if line.startswith('write_bytes:'):\n"
    "            sys.stderr.write('BENCH-IO ' + line.split()[1] + '\\n')\n"
    "atexit.register(report)\n"
    "sys.argv = ['reconciler', *sys.argv[1:]]\n"
    "runpy.run_module('reconciler', run_name='__main__', alter_sys=True)\n"
)


def emulator_create_rate(url: str, creates: int) -> float:
    reset(url)
    with httpx.Client(base_url=url, timeout=30, headers={"x-goog-api-key": API_KEY}) as http:
        started = time.perf_counter()
        for i in range(creates):
            http.post(f"/v1beta/tunedModels?tunedModelId=e-{i}", json=_body(i)).raise_for_status()
        return creates / (time.perf_counter() - started)


def apply(root: Path, url: str, state: str, code: Path) -> tuple[float, int]:
    """Wall seconds of the apply and the bytes it wrote to disk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GEMINI_"))}
    env.update(GEMINI_API_KEY=API_KEY, NO_COLOR="1", PYTHONPATH=str(code))
    command = [sys.executable, "-c", IO_WRAPPER, "--endpoint", url, "--state", state]
    command += ["apply", "--auto-approve", "--no-wait", "--parallelism", "32"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"apply failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    written = [
        int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("BENCH-IO ")
    ]
    return seconds, written[-1] if written else 0


@contextmanager
def postgres() -> Iterator[tuple[str, object]]:
    from tests.support.postgres import postgres_server

    with postgres_server() as server:
        yield server.uri(), server


def wal_bytes(uri: str) -> int:
    import psycopg

    conninfo = (
        uri.split("?")[0]
        + "?"
        + "&".join(
            p for p in uri.split("?")[1].split("&") if not p.startswith(("schema=", "workspace="))
        )
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").fetchone()
    assert row is not None
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--backends", default="file,postgres")
    parser.add_argument("--code", type=Path, default=REPO_ROOT)
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    backends = options.backends.split(",")
    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    rows: list[tuple[str, int, float, float]] = []
    try:
        with (
            contextlib.ExitStack() as stack,
            emulator("--latency-ms", "0", "--step-seconds", "0") as url,
        ):
            own_rate = emulator_create_rate(url, 2000)
            pg_uri = None
            if "postgres" in backends:
                pg_uri, _server = stack.enter_context(postgres())
            for backend in backends:
                for n in sizes:
                    reset(url)
                    root = work / f"{backend}-{n}"
                    write_manifests(root, n)
                    if backend == "file":
                        state = str(root / ".reconciler" / "state.json")
                        seconds, written = apply(root, url, state, options.code)
                    else:
                        assert pg_uri is not None
                        state = f"{pg_uri}&schema=s{n}"
                        before = wal_bytes(state)
                        seconds, _ = apply(root, url, state, options.code)
                        written = wal_bytes(state) - before
                    made = stats(url)["creates"]
                    assert len(made) == n and set(made.values()) == {1}, len(made)
                    rows.append((backend, n, seconds, written / n))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"apply --no-wait --parallelism 32, emulator latency 0 ms; code: {options.code}")
    print(f"emulator alone, 1 client: {own_rate:.0f} creates/s")
    print(
        f"{'backend':<10} {'creates':>8} {'wall s':>8} {'creates/s':>10} {'vs emulator':>12} {'state bytes/create':>19}"
    )
    for backend, n, seconds, per in rows:
        rate = n / seconds
        print(
            f"{backend:<10} {n:>8} {seconds:>8.2f} {rate:>10.0f} {rate / own_rate:>11.2f}x {per:>19.0f}"
        )
    for backend in backends:
        rates = {n: n / s for b, n, s, _ in rows if b == backend}
        if len(rates) > 1:
            low, high = min(rates), max(rates)
            print(
                f"{backend}: creates/s at {high} = {rates[high] / rates[low]:.2f}x creates/s at {low}"
            )
    print(json.dumps({"emulator": own_rate, "rows": rows}))


if __name__ == "__main__":
    main()
