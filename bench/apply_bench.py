"""``reconciler apply`` throughput and polling cost, side by side with the official client.

    python bench/apply_bench.py [--models 200] [--latency-ms 50]

1. Creates: 200 models against an emulator answering every request after 50 ms
   (``--step-seconds 0``), by ``reconciler apply --auto-approve --no-wait`` at
   parallelism 1, 8 and 32 (wall time of the whole command, start-up, refresh
   and every write-ahead state write included), next to a sequential loop of
   ``google.generativeai.create_tuned_model(..., id=...)`` doing the same 200
   creates without waiting.
2. Polling: with 200 tunings in flight (slow tuning), what one poll costs:
   ``reconciler wait`` reads one list page per poll; checking each model with
   the official client is one GET per model.

Every emulator is started on a free port and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
BASE = "models/gemini-1.5-flash-001-tuning"
API_KEY = "bench-key"
EXAMPLES = [("1", "2"), ("seven", "eight"), ("41", "42"), ("99", "100")]


@contextmanager
def emulator(*args: str) -> Iterator[str]:
    """Serve an emulator on a free port (it announces the URL on stderr); yield its URL."""
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, cwd=REPO_ROOT, env=env)
    try:
        assert proc.stderr is not None
        url = proc.stderr.readline().decode().split(" on ")[1].split()[0]
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stats(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{url}/emulator/stats", timeout=30).json()
    return data


def reset(url: str) -> None:
    httpx.post(f"{url}/emulator/reset", timeout=30).raise_for_status()


def write_manifests(root: Path, models: int) -> None:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "gemini.tuning/v1",
            "kind": "Dataset",
            "metadata": {"name": "numbers"},
            "spec": {"examples": [{"textInput": i, "output": o} for i, o in EXAMPLES]},
        }
    ]
    for n in range(models):
        docs.append(
            {
                "apiVersion": "gemini.tuning/v1",
                "kind": "TunedModel",
                "metadata": {"name": f"bench-{n}"},
                "spec": {
                    "displayName": f"Bench {n}",
                    "baseModel": BASE,
                    "tuningTask": {
                        "trainingData": "numbers",
                        "hyperparameters": {"epochCount": 5, "batchSize": 2, "learningRate": 0.001},
                    },
                },
            }
        )
    (root / "manifests").mkdir(parents=True, exist_ok=True)
    text = "\n---\n".join(json.dumps(d) for d in docs) + "\n"
    (root / "manifests" / "models.yaml").write_text(text, encoding="utf-8")


def reconciler(root: Path, url: str, *args: str) -> float:
    """Run ``python -m reconciler ARGS`` in ``root``; its wall time in seconds (must exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GEMINI_"))}
    env.update(GEMINI_API_KEY=API_KEY, NO_COLOR="1", PYTHONPATH=str(REPO_ROOT))
    command = [sys.executable, "-m", "reconciler", "--endpoint", url, *args]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"reconciler {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def legacy_client(url: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import google.generativeai as genai

    genai.configure(api_key=API_KEY, transport="rest", client_options={"api_endpoint": url})
    return genai


def peer_creates(url: str, models: int) -> float:
    """The official client, one create after the other, not waiting for tuning."""
    genai = legacy_client(url)
    data = [{"text_input": i, "output": o} for i, o in EXAMPLES]
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in range(models):
            genai.create_tuned_model(
                source_model=BASE,
                training_data=data,
                id=f"bench-{n}",
                display_name=f"Bench {n}",
                epoch_count=5,
                batch_size=2,
                learning_rate=0.001,
            )
    return time.perf_counter() - started


def bench_creates(work: Path, *, models: int, latency_ms: int) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    with emulator("--latency-ms", str(latency_ms), "--step-seconds", "0") as url:
        for parallelism in (1, 8, 32):
            reset(url)
            root = work / f"apply-p{parallelism}"
            write_manifests(root, models)
            seconds = reconciler(
                root,
                url,
                "apply",
                "--auto-approve",
                "--no-wait",
                "--parallelism",
                str(parallelism),
            )
            made = stats(url)["creates"]
            assert len(made) == models and set(made.values()) == {1}, made
            rows.append((f"reconciler apply --parallelism {parallelism}", seconds))
        reset(url)
        seconds = peer_creates(url, models)
        assert len(stats(url)["creates"]) == models
        rows.append(("google-generativeai, sequential loop", seconds))
    return rows


def bench_polling(work: Path, *, models: int) -> tuple[dict[str, int], int, int]:
    """Requests by route during ``reconciler wait`` polls, its poll count, and the peer's per poll."""
    root = work / "polling"
    write_manifests(root, models)
    with emulator("--step-seconds", "600") as url:  # tuning takes hours: all stay in flight
        reconciler(root, url, "apply", "--auto-approve", "--no-wait", "--parallelism", "32")
        before = stats(url)["requests"]
        # wait exits 1 at its timeout; the requests it sent are what we measure.
        env = {**os.environ, "GEMINI_API_KEY": API_KEY, "PYTHONPATH": str(REPO_ROOT)}
        command = [sys.executable, "-m", "reconciler", "--endpoint", url, "wait"]
        command += ["--timeout", "2s", "--poll-interval", "0.25s"]
        subprocess.run(command, cwd=root, env=env, capture_output=True, check=False)
        after = stats(url)["requests"]
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        delta = {k: v for k, v in delta.items() if v}
        polls = delta.get("GET /v1beta/tunedModels", 0)
        genai = legacy_client(url)
        before_peer = stats(url)["total"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for n in range(models):
                genai.get_tuned_model(f"tunedModels/bench-{n}")
        peer = stats(url)["total"] - before_peer
    return delta, polls, peer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="apply-bench-"))
    try:
        rows = bench_creates(work, models=options.models, latency_ms=options.latency_ms)
        delta, polls, peer = bench_polling(work, models=options.models)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    peer_seconds = rows[-1][1]
    print(f"{options.models} creates, emulator latency {options.latency_ms} ms, --no-wait")
    print(f"{'':<40} {'wall s':>8} {'creates/s':>10} {'vs peer':>8}")
    for name, seconds in rows:
        rate = options.models / seconds
        print(f"{name:<40} {seconds:>8.2f} {rate:>10.1f} {peer_seconds / seconds:>7.2f}x")
    print()
    print(f"polling {options.models} in-flight tunings")
    sent = sum(delta.values())
    per_poll = sent / polls if polls else float("nan")
    routes = ", ".join(f"{k}: {v}" for k, v in sorted(delta.items()))
    print(f"{'reconciler wait':<40} {per_poll:>8.1f} requests/poll ({polls} polls; {routes})")
    print(f"{'google-generativeai get per model':<40} {peer:>8.1f} requests/poll")
    if per_poll:
        print(f"{'ratio (peer / reconciler)':<40} {peer / per_poll:>8.1f}x")


if __name__ == "__main__":
    main()
