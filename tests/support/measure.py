"""Run a command in a child process and report what it cost: exit status, output, CPU time, peak RSS.

An intermediate Python process runs the command and reads its own
``RUSAGE_CHILDREN``, so the figures are the command's alone (the test
process's other children never count), and CPU time rather than wall-clock
time is what a test bounds: it does not grow when the machine is busy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_RUNNER = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
    "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss,
}))
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float
    peak_rss_mib: float


def measure(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> Measured:
    """Run ``argv``; ``subprocess.TimeoutExpired`` if it takes longer than ``timeout`` (wall).

    On a timeout the command and its runner are killed together (their own
    process group), so nothing is left running.
    """
    with subprocess.Popen(
        [sys.executable, "-c", _RUNNER, *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as runner:
        try:
            out, err = runner.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.communicate()
            raise
    assert runner.returncode == 0, err
    report = json.loads(out)
    return Measured(
        returncode=report["returncode"],
        stdout=report["stdout"],
        stderr=report["stderr"],
        cpu_seconds=report["cpu"],
        peak_rss_mib=report["maxrss_kib"] / 1024,  # Linux reports KiB
    )
