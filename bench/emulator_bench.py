"""Emulator throughput over real HTTP: list pages of 1000 models (10,000 loaded), gets, generateContent.

    python bench/emulator_bench.py [--models N] [--seconds S]

Starts ``reconciler emulator serve --port 0`` in a subprocess, loads the models
through the API, then measures requests per second from one keep-alive client.
The generateContent figures tell an evaluation run (which asks a tuned model
every example of a held-out set) whether the emulator could be its bottleneck.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
BASE = "models/gemini-1.5-flash-001-tuning"

Report = Callable[[str, float, str], None]


def _body(i: int) -> dict[str, object]:
    return {
        "displayName": f"Bench model {i}",
        "baseModel": BASE,
        "tuningTask": {
            "trainingData": {
                "examples": {"examples": [{"textInput": f"{i}", "output": f"{i + 1}"}] * 4}
            },
            "hyperparameters": {"epochCount": 5, "batchSize": 4, "learningRate": 0.001},
        },
    }


def _rate(seconds: float, request: Callable[[], None]) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        request()
        count += 1
    return count / elapsed


def run(report: Report, *, models: int = 10_000, seconds: float = 3.0) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = [
        sys.executable,
        "-m",
        "reconciler",
        "emulator",
        "serve",
        "--port",
        "0",
        "--step-seconds",
        "0",
        "--seed",
        "1",
    ]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, cwd=REPO_ROOT, env=env)
    try:
        assert proc.stderr is not None
        url = proc.stderr.readline().decode().split(" on ")[1].split()[0]
        with httpx.Client(base_url=url, timeout=30) as http:
            started = time.perf_counter()
            for i in range(models):
                http.post(
                    f"/v1beta/tunedModels?tunedModelId=bench-{i}", json=_body(i)
                ).raise_for_status()
            report("create (load)", models / (time.perf_counter() - started), "req/s")

            def list_page() -> None:
                page = http.get("/v1beta/tunedModels", params={"pageSize": 1000}).json()
                assert len(page["tunedModels"]) == min(1000, models)

            def list_all() -> None:
                token = ""
                while True:
                    page = http.get(
                        "/v1beta/tunedModels", params={"pageSize": 1000, "pageToken": token}
                    ).json()
                    token = page.get("nextPageToken", "")
                    if not token:
                        return

            def get_one() -> None:
                http.get(f"/v1beta/tunedModels/bench-{models // 2}").raise_for_status()

            prompt = {"contents": [{"role": "user", "parts": [{"text": "3"}]}]}

            def generate_tuned() -> None:
                http.post(
                    f"/v1beta/tunedModels/bench-{models // 2}:generateContent", json=prompt
                ).raise_for_status()

            json_mode = {
                **prompt,
                "generationConfig": {"responseMimeType": "application/json", "responseSchema": {
                    "type": "OBJECT",
                    "properties": {"answer": {"type": "STRING"}, "score": {"type": "INTEGER"}},
                    "required": ["answer"],
                }},
            }  # fmt: skip

            def generate_json() -> None:
                http.post(f"/v1beta/{BASE}:generateContent", json=json_mode).raise_for_status()

            report("list page of 1000", _rate(seconds, list_page), "req/s")
            report(f"list all {models} (pages of 1000)", _rate(seconds, list_all), "walks/s")
            report("get", _rate(seconds, get_one), "req/s")
            report("generateContent (tuned model)", _rate(seconds, generate_tuned), "req/s")
            report("generateContent (JSON schema)", _rate(seconds, generate_json), "req/s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    options = parser.parse_args()
    rows: list[tuple[str, float, str]] = []
    run(
        lambda name, value, unit: rows.append((name, value, unit)),
        models=options.models,
        seconds=options.seconds,
    )
    print(f"{'emulator (real HTTP, 1 client)':<36} {'rate':>10}")
    for name, value, unit in rows:
        print(f"{name:<36} {value:>10.1f} {unit}")


if __name__ == "__main__":
    main()
