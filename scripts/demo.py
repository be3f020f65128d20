"""`make demo`: the whole lifecycle on both backends against a local emulator, in seconds.

Starts ``reconciler emulator serve`` on a free loopback port, then runs the real
CLI as a user would, echoing each command first:

1. the Gemini API, on a scratch copy of ``manifests/`` in ``demo-out/``:
   validate, plan, apply (with progress while the example models tune, and an
   evaluation gate that passes), inventory, eval, and show with a loss curve;
2. Vertex AI, on the same emulator (it serves the Vertex AI and Cloud Storage
   paths too), on a scratch copy of ``examples/vertex/`` in
   ``demo-out/vertex/manifests/`` with its own state: validate, plan (a new
   billed tuning job per create), apply (the dataset stored in the bucket, a
   tuning job, the evaluation gate on the tuned endpoint), inventory, and show
   of the job, model and endpoint.

Everything happens in ``demo-out/`` (gitignored), so the user's tree and state
stay untouched. The emulator is always stopped, also when a step fails or the
user presses Ctrl-C: the demo never leaves a server running.

Exit status: 0 when every step succeeded, otherwise the failing step's code.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKDIR = REPO_ROOT / "demo-out"
# The Vertex AI part runs in its own directory: the Backend document of
# examples/vertex/ in manifests/, and a state of its own.
VERTEX_WORKDIR = WORKDIR / "vertex"
# Ten emulated tuning steps a second: the examples (12 to 25 steps) tune in a
# few seconds, slowly enough to watch the progress.
STEP_SECONDS = "0.1"
# A cold start (imports, SQLite) takes about a second; a slow CI box more.
STARTUP_TIMEOUT_SECONDS = 30.0
PLOTTED_MODEL = "increment"
VERTEX_MODEL = "french-words"
# examples/vertex/backend.yaml's project and location, where the demo's jobs are listed.
VERTEX_PARENT = "projects/demo-project/locations/us-central1"


class DemoFailed(Exception):
    """A step exited non-zero; carries its exit status."""

    def __init__(self, step: str, code: int) -> None:
        super().__init__(f"`{step}` exited with {code}")
        self.code = code


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(endpoint: str) -> dict[str, str]:
    """The user's environment pointed at the emulator.

    A real API key is dropped so that it is never sent to a local server, and
    any RECONCILER_STATE so that the demo keeps its own state in demo-out/.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_OAUTH_ACCESS_TOKEN"}
        and not k.startswith("RECONCILER_")
    }
    env["RECONCILER_ENDPOINT"] = endpoint
    return env


def start_emulator(*, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the emulator and return once ``GET /emulator/stats`` answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "reconciler", "emulator", "serve", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--step-seconds", STEP_SECONDS]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=WORKDIR)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the emulator exited with {proc.returncode} before it was ready; see {log_path}"
            )
        try:
            if httpx.get(f"{url}/emulator/stats", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"the emulator did not answer within {STARTUP_TIMEOUT_SECONDS:.0f}s")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the emulator, and kill it if it does not stop in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(*args: str, env: dict[str, str], cwd: Path = WORKDIR) -> None:
    """Echo ``$ reconciler ARGS`` and run it, its output going straight to the terminal."""
    shown = " ".join(["reconciler", *args])
    print(f"\n$ {shown}", flush=True)
    code = subprocess.call([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env)
    if code != 0:
        raise DemoFailed(shown, code)


def active_models(url: str) -> list[str]:
    """The ids of the ACTIVE tuned models the emulator holds, for the summary."""
    body = httpx.get(f"{url}/v1beta/tunedModels", params={"pageSize": 100}, timeout=10).json()
    return [
        m["name"].removeprefix("tunedModels/")
        for m in body.get("tunedModels", [])
        if m.get("state") == "ACTIVE"
    ]


def succeeded_jobs(url: str) -> list[str]:
    """The display names of the Vertex AI tuning jobs that succeeded, for the summary."""
    body = httpx.get(
        f"{url}/v1/{VERTEX_PARENT}/tuningJobs", params={"pageSize": 100}, timeout=10
    ).json()
    return [
        str(job.get("tunedModelDisplayName") or job["name"].rsplit("/", 1)[-1])
        for job in body.get("tuningJobs", [])
        if job.get("state") == "JOB_STATE_SUCCEEDED"
    ]


def prepare_workdir() -> None:
    """Fresh scratch copies of manifests/ and examples/vertex/ in demo-out/, without an
    older run's state."""
    WORKDIR.mkdir(exist_ok=True)
    for stale in ("manifests", ".reconciler", "vertex"):
        shutil.rmtree(WORKDIR / stale, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "manifests", WORKDIR / "manifests")
    shutil.copytree(REPO_ROOT / "examples" / "vertex", VERTEX_WORKDIR / "manifests")


def summary(*, url: str) -> None:
    active = active_models(url)
    jobs = succeeded_jobs(url)
    plot = WORKDIR / f"{PLOTTED_MODEL}-loss.svg"
    state = WORKDIR / ".reconciler" / "state.json"
    vertex_state = VERTEX_WORKDIR / ".reconciler" / "state.json"
    print(
        f"""
Demo complete.
  Gemini API models ACTIVE:    {len(active)} ({", ".join(sorted(active))})
  loss curve:                  {plot.relative_to(REPO_ROOT)}
  state:                       {state.relative_to(REPO_ROOT)}
  Vertex AI jobs SUCCEEDED:    {len(jobs)} ({", ".join(sorted(jobs))})
  Vertex AI state:             {vertex_state.relative_to(REPO_ROOT)}

Try next: the README's 5-minute tutorial (changes, replacements, drift). The
demo's emulator has been stopped; the tutorial starts its own:
  . .venv/bin/activate
  reconciler emulator serve --port 8765 --step-seconds 1 &
  export RECONCILER_ENDPOINT=http://127.0.0.1:8765
  # then README "A 5-minute tutorial on the emulator", from step 1
For a real Google Cloud project, see the README, "Using Vertex AI".""",
        flush=True,
    )


def vertex_part(env: dict[str, str]) -> None:
    """The same lifecycle on Vertex AI: the Backend document in examples/vertex/ chooses it."""
    print(
        "\n--- Vertex AI, on the same emulator "
        "(its tuningJobs and Cloud Storage paths, on the same port) ---",
        flush=True,
    )
    print(
        "\n$ cd vertex    # a scratch copy of examples/vertex/ in manifests/, with its own state",
        flush=True,
    )
    run("validate", env=env, cwd=VERTEX_WORKDIR)
    run("plan", env=env, cwd=VERTEX_WORKDIR)
    run("apply", "--auto-approve", env=env, cwd=VERTEX_WORKDIR)
    run("inventory", env=env, cwd=VERTEX_WORKDIR)
    run("show", VERTEX_MODEL, env=env, cwd=VERTEX_WORKDIR)


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt so that the emulator is stopped on the way out."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    prepare_workdir()
    workdir = WORKDIR.relative_to(REPO_ROOT)
    print(f"Starting the emulator: Gemini API, Vertex AI and Cloud Storage (in {workdir}/) ...")
    proc, url = start_emulator(log_path=WORKDIR / "emulator.log")
    try:
        print(f"Emulator ready at {url}; RECONCILER_ENDPOINT={url}", flush=True)
        env = child_env(url)
        print("\n$ cd demo-out    # holds a scratch copy of manifests/", flush=True)
        run("validate", env=env)
        run("plan", env=env)
        run("apply", "--auto-approve", env=env)
        run("inventory", env=env)
        run("eval", env=env)
        run("show", PLOTTED_MODEL, "--plot", f"{PLOTTED_MODEL}-loss.svg", env=env)
        vertex_part(env)
        summary(url=url)
        return 0
    except DemoFailed as failed:
        print(f"\nDemo failed: {failed}", file=sys.stderr)
        return failed.code
    except KeyboardInterrupt:
        print("\nDemo interrupted.", file=sys.stderr)
        return 130
    finally:
        stop(proc)
        print("Emulator stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
