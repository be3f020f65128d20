"""``make bench``: run every benchmark script and print their figures.

    python -m bench              # all of them
    python -m bench plan apply   # only bench/plan_bench.py and bench/apply_bench.py

Each ``bench/<name>_bench.py`` is a standalone script that starts what it needs
(an emulator on a free port, ...), prints its figures next to the floor or the
peer it is judged against, and stops what it started. Output is also written
to ``artifacts/bench-latest.txt`` with the date and the machine, for the README.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("*_bench.py"))
    if argv:
        wanted = {f"{name.removesuffix('_bench')}_bench.py" for name in argv}
        scripts = [s for s in scripts if s.name in wanted]
        missing = wanted - {s.name for s in scripts}
        if missing:
            print(f"no such benchmark: {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    header = f"reconciler benchmarks, {datetime.date.today().isoformat()}, {machine()}"
    out_lines = [header, "=" * len(header)]
    print(header, flush=True)
    failed = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for script in scripts:
        title = f"\n## {script.stem}"
        print(title, flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            failed.append(script.stem)
            print(proc.stderr[-4000:], file=sys.stderr)
        print(f"({script.stem}: {elapsed:.1f} s, exit {proc.returncode})", flush=True)
        out_lines += [title, proc.stdout.rstrip(), f"({elapsed:.1f} s, exit {proc.returncode})"]
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "bench-latest.txt").write_text("\n".join(out_lines) + "\n", encoding="utf-8")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
