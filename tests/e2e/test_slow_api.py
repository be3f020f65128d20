"""An API that answers slowly, never, or not at all: the state lock is free meanwhile,
every request ends by its deadline, and what is waited on or retried is said on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.workspace import API_KEY, NUMBERS, Workspace, dataset, tuned_model
from tests.support.misbehaving_server import misbehaving_server
from tests.support.servers import REPO_ROOT, run_cli


def _start_cli(ws: Workspace, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GEMINI_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=ws.root,
        env={**clean, "NO_COLOR": "1", "PYTHONPATH": str(REPO_ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_plan_waiting_on_the_api_leaves_the_lock_free_and_ends_at_its_deadline(
    ws: Workspace, mode: str
) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    lock_file = Path(ws.state + ".lock")
    with misbehaving_server(mode, watched=lock_file) as server:
        planning = _start_cli(
            ws,
            "--endpoint",
            server.url,
            "--state",
            ws.state,
            "plan",
            env={"RECONCILER_REQUEST_TIMEOUT": "3s"},
        )
        try:
            server.wait_for_requests(1)
            # While plan waits on the API, an apply (against a working API) takes the lock.
            applied = ws.apply()
            out, err = planning.communicate(timeout=120)
        finally:
            planning.kill()
            planning.wait()

    assert server.watched_existed[0] is False, "plan held the state lock while it waited"
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete: 1 created" in applied.stdout
    assert planning.returncode == 1, out
    assert (
        f"Error: GET /v1beta/tunedModels: no complete answer from {server.url} within 3 s, "
        "the deadline of one request" in err
    )
    assert "--request-timeout (RECONCILER_REQUEST_TIMEOUT)" in err
    assert f"Still waiting for GET /v1beta/tunedModels from {server.url}" in err
    assert not lock_file.exists()


def test_a_retry_is_said_as_it_happens(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    with misbehaving_server("flaky") as server:
        result = run_cli("--endpoint", server.url, "inventory", "--format", "json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert server.requests == 2
    retry_lines = [line for line in result.stderr.splitlines() if line.startswith("Retrying")]
    assert len(retry_lines) == 1, result.stderr
    assert retry_lines[0].startswith("Retrying GET /v1beta/tunedModels in ")
    assert "(attempt 2 of 8): 503" in retry_lines[0]


def test_a_host_that_does_not_resolve_is_named_at_once_without_retrying(tmp_path: Path) -> None:
    # `.invalid` never resolves (RFC 6761): no request can reach any server.
    (tmp_path / "manifests").mkdir()
    result = run_cli(
        "--endpoint",
        "https://nonexistent.invalid",
        "plan",
        cwd=tmp_path,
        env={"GEMINI_API_KEY": API_KEY},
        timeout=60,
    )

    assert result.returncode == 1
    assert "Retrying" not in result.stderr
    assert (
        "Error: GET /v1beta/tunedModels: cannot connect to https://nonexistent.invalid: "
        "the host name cannot be resolved" in result.stderr
    )
    assert "hint: check --endpoint (RECONCILER_ENDPOINT), the network" in result.stderr
    assert API_KEY not in result.stderr


def test_request_timeout_must_be_a_positive_duration(tmp_path: Path) -> None:
    result = run_cli("--request-timeout", "0s", "plan", cwd=tmp_path)

    assert result.returncode == 2
    assert "'0s' is not a positive duration" in result.stderr
