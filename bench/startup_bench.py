"""Start-up: `reconciler --help` and a shell completion, next to a bare Python start.

    python bench/startup_bench.py [--runs N]

Shell completion runs the program on every TAB, so the commands are listed from
a table in reconciler/cli/__init__.py instead of importing their modules
(pydantic, httpx, rich, ...). The budget is 0.15 s (median of N runs, the
console script as installed); the floor is `python -c pass` with the same
interpreter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET_SECONDS = 0.15
SCRIPT = Path(sys.executable).parent / "reconciler"


def _median(command: list[str], *, runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    program = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "reconciler"]
    complete = dict(
        os.environ, _RECONCILER_COMPLETE="bash_complete", COMP_WORDS="reconciler ", COMP_CWORD="1"
    )
    floor = _median([sys.executable, "-c", "pass"], runs=args.runs)
    figures = {
        "reconciler --help": _median([*program, "--help"], runs=args.runs),
        "completion of a command name": _median(program, runs=args.runs, env=complete),
    }
    print(f"python -c pass (floor)          {floor * 1000:6.0f} ms  median of {args.runs}")
    over = []
    for name, seconds in figures.items():
        verdict = "ok" if seconds <= BUDGET_SECONDS else "OVER"
        print(
            f"{name:<32}{seconds * 1000:6.0f} ms  budget {BUDGET_SECONDS * 1000:.0f} ms: {verdict}"
        )
        if seconds > BUDGET_SECONDS:
            over.append(name)
    if over:
        print(
            f"over budget: {', '.join(over)} (compare with the floor: a loaded machine slows all)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
