"""Inventory of a large project: wall time and list requests, next to the raw-paging floor.

    python bench/inventory_bench.py [--models N] [--managed FRACTION]

Starts an emulator on a free port (tuning completes at once), creates N models
with concurrent POSTs, writes a state file that manages a share of them (so the
drift check runs), then measures:

* ``collect_inventory`` in process (one client, one paginated list, classify);
* ``reconciler inventory --format json`` as a user runs it (process start-up,
  state read, list, classify, render);
* the floor: a bare httpx loop paging through the same list.

List requests are read from ``/emulator/stats``; N models must cost
ceil(N/1000) of them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from reconciler.api import Credentials  # noqa: E402
from reconciler.api.client import GeminiClient  # noqa: E402
from reconciler.applied import ModelRecord, StateDocument  # noqa: E402
from reconciler.inventory import collect_inventory  # noqa: E402
from reconciler.render.inventory import render_json  # noqa: E402
from reconciler.spec import AppliedSpec, DatasetRef, Hyperparameters  # noqa: E402
from tests.support.servers import serve_emulator  # noqa: E402

BASE = "models/gemini-1.5-flash-001-tuning"
LIST_ROUTE = "GET /v1beta/tunedModels"


def _body(i: int) -> dict[str, object]:
    return {
        "baseModel": BASE,
        "displayName": f"Bench {i}",
        "tuningTask": {
            "trainingData": {"examples": {"examples": [{"textInput": str(i), "output": "x"}] * 4}},
            "hyperparameters": {"epochCount": 1, "batchSize": 4, "learningRate": 0.001},
        },
    }


def _create_all(url: str, count: int) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=32)) as http:

        def create(i: int) -> None:
            http.post(
                "/v1beta/tunedModels", params={"tunedModelId": f"bench-{i:05d}"}, json=_body(i)
            ).raise_for_status()

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(create, range(count)))
    return time.perf_counter() - started


def _state(count: int, managed_fraction: float) -> StateDocument:
    spec = AppliedSpec(
        baseModel=BASE,
        hyperparameters=Hyperparameters(epochCount=1, batchSize=4, learningRate=0.001),
        dataset=DatasetRef(name="bench", hash="sha256:" + "0" * 64, examples=4),
    )
    managed = int(count * managed_fraction)
    records = {
        f"bench-{i:05d}": ModelRecord(
            name=f"tunedModels/bench-{i:05d}",
            applied=spec.model_copy(update={"displayName": f"Bench {i}"}),
        )
        for i in range(managed)
    }
    return StateDocument(models=records)


def _list_requests(url: str) -> int:
    requests = httpx.get(f"{url}/emulator/stats", timeout=30).json()["requests"]
    return int(requests.get(LIST_ROUTE, 0))


def _measure(url: str, action: object) -> tuple[float, int, object]:
    assert callable(action)
    before = _list_requests(url)
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    return elapsed, _list_requests(url) - before, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--managed", type=float, default=0.5, help="share of models in the state")
    args = parser.parse_args(argv)
    count: int = args.models
    expected = math.ceil(count / 1000)

    with (
        serve_emulator("--step-seconds", "0", "--seed", "1") as emulator,
        tempfile.TemporaryDirectory() as tmp,
    ):
        url = emulator.url
        load_seconds = _create_all(url, count)
        state = _state(count, args.managed)
        state_path = Path(tmp) / "state.json"
        state_path.write_text(state.model_dump_json(), encoding="utf-8")

        def floor() -> int:
            seen, token = 0, ""
            with httpx.Client(base_url=url, timeout=60) as http:
                while True:
                    params = {"pageSize": 1000, **({"pageToken": token} if token else {})}
                    page = http.get("/v1beta/tunedModels", params=params).json()
                    seen += len(page.get("tunedModels", []))
                    token = page.get("nextPageToken", "")
                    if not token:
                        return seen

        def in_process() -> int:
            credentials = Credentials.resolve(
                api_key=None, access_token=None, user_project=None, endpoint=url
            )
            with GeminiClient(endpoint=url, credentials=credentials) as client:
                inventory = collect_inventory(client=client, state=state)
            render_json(inventory)
            return inventory.total

        def cli() -> int:
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("RECONCILER_", "GEMINI_", "GOOGLE_"))
            }
            env["PYTHONPATH"] = str(REPO_ROOT)
            out = subprocess.run(
                [sys.executable, "-m", "reconciler", "--endpoint", url, "--state", str(state_path),
                 "inventory", "--format", "json"],
                capture_output=True, text=True, check=True, env=env, cwd=tmp,
            ).stdout  # fmt: skip
            return int(json.loads(out)["totals"]["total"])

        floor()  # warm the emulator's caches and connection paths once
        rows = []
        for label, action in (
            ("floor: raw httpx paging", floor),
            ("collect_inventory + render (in process)", in_process),
            ("reconciler inventory --format json (CLI)", cli),
        ):
            seconds, requests, total = _measure(url, action)
            assert total == count, f"{label}: saw {total} models, expected {count}"
            rows.append((label, seconds, requests))

    floor_seconds = rows[0][1]
    print(f"inventory of {count:,} models ({int(count * args.managed):,} managed); "
          f"created in {load_seconds:.1f}s with 16 concurrent POSTs")  # fmt: skip
    print(f"{'case':<44} {'wall s':>8} {'list requests':>14} {'expected':>9} {'x floor':>8}")
    for label, seconds, requests in rows:
        print(
            f"{label:<44} {seconds:>8.2f} {requests:>14} {expected:>9} {seconds / floor_seconds:>8.2f}"
        )
    if any(requests != expected for _, _, requests in rows):
        raise SystemExit("list requests differ from ceil(N/1000)")


if __name__ == "__main__":
    main()
