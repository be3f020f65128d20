"""Real servers for end-to-end tests: free ports, wait until ready, always stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServedEmulator:
    url: str
    process: subprocess.Popen[bytes]
    api_key: str | None = None

    def _headers(self) -> dict[str, str]:
        """Changes to an emulator started with --api-key need the key, as API calls do."""
        return {"x-goog-api-key": self.api_key} if self.api_key else {}

    def stats(self) -> dict[str, object]:
        data = httpx.get(f"{self.url}/emulator/stats", timeout=10).json()
        assert isinstance(data, dict)
        return data

    def reset(self) -> None:
        httpx.post(
            f"{self.url}/emulator/reset", headers=self._headers(), timeout=10
        ).raise_for_status()

    def configure(self, **config: object) -> None:
        httpx.put(
            f"{self.url}/emulator/config", json=config, headers=self._headers(), timeout=10
        ).raise_for_status()

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward: tuning progresses with no real waiting."""
        httpx.post(
            f"{self.url}/emulator/clock",
            json={"advanceSeconds": seconds},
            headers=self._headers(),
            timeout=10,
        ).raise_for_status()


@contextmanager
def serve_emulator(
    *extra_args: str, api_key: str | None = None, startup_timeout: float = 30.0
) -> Iterator[ServedEmulator]:
    """Run ``reconciler emulator serve`` on a free loopback port until the block ends."""
    port = free_port()
    args = [sys.executable, "-m", "reconciler", "emulator", "serve", "--host", "127.0.0.1"]
    args += ["--port", str(port), *extra_args]
    env = {k: v for k, v in os.environ.items() if k != "RECONCILER_EMULATOR_API_KEY"}
    if api_key:
        env["RECONCILER_EMULATOR_API_KEY"] = api_key  # not in argv, where ps shows it
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {proc.returncode} before it was ready")
            try:
                if httpx.get(f"{url}/emulator/stats", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("emulator did not become ready")
            time.sleep(0.05)
        yield ServedEmulator(url=url, process=proc, api_key=api_key)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def run_cli(
    *args: str,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m reconciler ARGS`` as a user would, capturing output."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RECONCILER_", "GEMINI_", "GOOGLE_"))
    }
    full_env["NO_COLOR"] = "1"
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
