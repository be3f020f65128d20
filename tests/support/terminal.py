"""Run the CLI in a real pseudo terminal of a given size, as a user's terminal would.

The program sees a TTY on stdout (so colour and the terminal's width apply)
with the window size set by ``TIOCSWINSZ``; the output is read until the
program exits and returned with ANSI styling intact.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

from tests.support.servers import REPO_ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def visible(text: str) -> str:
    """``text`` without its ANSI colour codes."""
    return ANSI.sub("", text)


def run_in_terminal(
    *args: str, columns: int, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> tuple[int, str]:
    """``python -m reconciler ARGS`` on a ``columns``-wide pseudo terminal: (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILER_", "GEMINI_", "GOOGLE_"))
        and k not in ("NO_COLOR", "COLUMNS", "LINES")
    }
    full_env.update(TERM="xterm-256color", PYTHONPATH=str(REPO_ROOT), **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=full_env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the program exited and closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The terminal turns each "\n" into "\r\n".
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
