"""Plan time and API requests for 100, 1,000 and 10,000 models, all ``noop``.

    python bench/plan_bench.py [--sizes 100,1000,10000] [--latencies 0,20]

For each size: writes N TunedModel manifests (100 per file) and one dataset,
creates the N live models in a served emulator, and records them in the state
as an apply does (through the file backend: one journal entry per 100
records, folded into the snapshot when the lock is given up), then times
``reconciler plan`` as a user runs it (a subprocess) at each emulator
latency, and counts its requests from ``/emulator/stats``. One more row per
size ("journal") plans with ``--lock=false`` while a journal of 1,000 record
writes is still beside the snapshot, as during an apply. Beside it:

Targets (issue "reconciler plan"): requests = ceil(N/1000) list pages and
nothing else; plan time within 1.3x of the floor at 10,000 models.
"""

from __future__ import annotations

import argparse
import compileall
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.api.client import LIST_FIELDS_WITHOUT_SNAPSHOTS  # noqa: E402
from reconciler.applied import ModelRecord  # noqa: E402
from reconciler.manifests import load_manifests  # noqa: E402
from reconciler.state.bound import ApiBoundBackend  # noqa: E402
from reconciler.state.file import FileBackend  # noqa: E402
from reconciler.state.journal_file import encode_entry  # noqa: E402
from tests.support.servers import ServedEmulator, serve_emulator  # noqa: E402

BASE = "models/gemini-1.5-flash-001-tuning"
PER_FILE = 100


def write_manifests(root: Path, count: int) -> None:
    folder = root / "manifests"
    folder.mkdir(parents=True)
    (folder / "shared.yaml").write_text(
        "apiVersion: gemini.tuning/v1\nkind: Dataset\nmetadata: {name: pairs}\nspec:\n"
        "  examples:\n"
        + "".join(f'    - {{textInput: "{i}", output: "{i + 1}"}}\n' for i in range(8))
        + "---\napiVersion: gemini.tuning/v1\nkind: Hyperparameters\nmetadata: {name: hp}\n"
        "spec: {epochCount: 5, batchSize: 4, learningRate: 0.001}\n"
    )
    for start in range(0, count, PER_FILE):
        docs = []
        for i in range(start, min(count, start + PER_FILE)):
            docs.append(
                "apiVersion: gemini.tuning/v1\nkind: TunedModel\n"
                f"metadata: {{name: model-{i:05d}}}\n"
                f"spec:\n  displayName: Model {i}\n  description: Benchmark model {i}\n"
                f"  baseModel: {BASE}\n  temperature: 0.2\n"
                "  tuningTask: {trainingData: pairs, hyperparameters: hp}\n"
            )
        (folder / f"models-{start // PER_FILE:03d}.yaml").write_text("---\n".join(docs))


def populate(url: str, root: Path) -> None:
    """Create the live models and record them in the state as an apply does."""
    desired = load_manifests([root / "manifests"], root=root).desired
    examples = [{"textInput": f"{i}", "output": f"{i + 1}"} for i in range(8)]

    def create(name: str) -> None:
        spec = desired.models[name].spec
        body = {
            "displayName": spec.displayName,
            "description": spec.description,
            "baseModel": spec.baseModel,
            "temperature": spec.temperature,
            "tuningTask": {
                "trainingData": {"examples": {"examples": examples}},
                "hyperparameters": {"epochCount": 5, "batchSize": 4, "learningRate": 0.001},
            },
        }
        reply = client.post(f"{url}/v1beta/tunedModels", params={"tunedModelId": name}, json=body)
        reply.raise_for_status()

    with (
        httpx.Client(timeout=60, limits=httpx.Limits(max_connections=16)) as client,
        ThreadPoolExecutor(16) as pool,
    ):
        list(pool.map(create, sorted(desired.models)))
    backend = ApiBoundBackend(inner=FileBackend(root / ".reconciler" / "state.json"), endpoint=url)
    names = sorted(desired.models)
    try:
        with backend.lock(command="apply"):
            doc = backend.read()
            for start in range(0, len(names), 100):
                changes = {
                    name: ModelRecord(
                        name=desired.models[name].model_name, applied=desired.models[name].spec
                    )
                    for name in names[start : start + 100]
                }
                serial = backend.write_records(doc, changes)
                doc = doc.model_copy(update={"models": {**doc.models, **changes}, "serial": serial})
    finally:
        backend.close()


def add_journal(root: Path, records: int) -> None:
    """Leave a journal of ``records`` record writes (100 per entry) beside the snapshot, as an
    apply under way does: the first ``records`` models seen live again (a new updateTime)."""
    path = root / ".reconciler" / "state.json"
    doc = FileBackend(path).read()
    entries = []
    names = sorted(doc.models)[:records]
    for start in range(0, len(names), 100):
        changes = {
            name: doc.models[name].model_copy(update={"updateTime": "2026-11-30T00:00:00Z"})
            for name in names[start : start + 100]
        }
        entries.append(encode_entry(doc=doc, changes=changes))
        doc = doc.model_copy(update={"models": {**doc.models, **changes}, "serial": doc.serial + 1})
    path.with_name("state.json.journal").write_bytes(b"".join(entries))


def cli(root: Path, url: str, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "RECONCILER_ENDPOINT": url}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, proc


def stats_total(url: str) -> dict[str, int]:
    data = httpx.get(f"{url}/emulator/stats").json()
    return dict(data["requests"])


def list_floor(url: str, *, fields: str | None = None) -> tuple[float, int]:
    started, pages, token = time.perf_counter(), 0, None
    with httpx.Client(timeout=60) as client:
        while True:
            params: dict[str, str | int] = {"pageSize": 1000}
            if token:
                params["pageToken"] = token
            if fields:
                params["fields"] = fields
            data = client.get(f"{url}/v1beta/tunedModels", params=params).json()
            pages += 1
            token = data.get("nextPageToken")
            if not token:
                break
    return time.perf_counter() - started, pages


def per_model_gets(url: str, names: list[str]) -> float:
    started = time.perf_counter()
    with (
        httpx.Client(timeout=60, limits=httpx.Limits(max_connections=10)) as client,
        ThreadPoolExecutor(10) as pool,
    ):
        list(
            pool.map(
                lambda n: client.get(f"{url}/v1beta/tunedModels/{n}").raise_for_status(), names
            )
        )
    return time.perf_counter() - started


ROUNDS = 5  # each figure is the best of this many, taken in turns (plan, validate, lists)


def row(
    emu: ServedEmulator, root: Path, *, size: int, latency: int, layout: str, names: list[str]
) -> tuple[str, bool]:
    """One line of the table, and whether the plan was as expected."""
    emu.configure(latencyMs=latency)
    plan_args = ("plan", "--lock=false") if layout == "journal" else ("plan",)
    before = stats_total(emu.url)
    _, proc = cli(root, emu.url, *plan_args, "--format", "json")
    after = stats_total(emu.url)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    summary = json.loads(proc.stdout)["summary"]
    ok = summary["noop"] == size and sum(summary.values()) == size
    if not ok:
        print(f"unexpected plan summary {summary}", file=sys.stderr)
    requests = sum(after.values()) - sum(before.values())
    plans, validates, lists, stricts = [], [], [], []
    for _ in range(ROUNDS):
        plans.append(cli(root, emu.url, *plan_args)[0])
        validates.append(cli(root, emu.url, "validate")[0])
        lists.append(list_floor(emu.url)[0])
        stricts.append(list_floor(emu.url, fields=LIST_FIELDS_WITHOUT_SNAPSHOTS)[0])
    plan_s, validate_s, list_s, strict_s = map(min, (plans, validates, lists, stricts))
    want = math.ceil(size / 1000)
    floor = validate_s + list_s
    strict = validate_s + strict_s
    if layout == "journal":
        gets = f"{'-':>10} {'-':>8}"
    else:
        gets_s = per_model_gets(emu.url, names)
        gets = f"{gets_s:>10.2f} {gets_s / plan_s:>7.1f}x"
    line = (
        f"{size:>7} {latency:>6} {layout:>8} | {plan_s:>7.2f} {requests:>5} {want:>5} | "
        f"{validate_s:>10.2f} {list_s:>7.2f} {floor:>7.2f} {plan_s / floor:>9.2f}x | "
        f"{strict_s:>7.2f} {plan_s / strict:>10.2f}x | {gets}"
    )
    return line, ok and requests == want


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--latencies", default="0,20")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    latencies = [int(s) for s in args.latencies.split(",")]
    # Timed as an installed tool runs: with bytecode (PYTHONDONTWRITEBYTECODE, set
    # in some CI images, would otherwise recompile the package in every command).
    compileall.compile_dir(ROOT / "reconciler", quiet=1)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        f"{'models':>7} {'lat ms':>6} {'state':>8} | {'plan s':>7} {'reqs':>5} {'want':>5} | "
        f"{'validate s':>10} {'list s':>7} {'floor s':>7} {'plan/floor':>10} | "
        f"{'list* s':>7} {'plan/floor*':>11} | "
        f"{'GET-each s':>10} {'GET/plan':>8}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp, serve_emulator("--step-seconds", "0") as emu:
            root = Path(tmp)
            write_manifests(root, size)
            populate(emu.url, root)
            names = [f"model-{i:05d}" for i in range(size)]
            cli(root, emu.url, "validate")  # warm the manifest cache, as a repeated CI run would
            for latency in latencies:
                line, good = row(
                    emu, root, size=size, latency=latency, layout="snapshot", names=names
                )
                print(line, flush=True)
                ok = ok and good
            add_journal(root, min(1000, size))
            line, good = row(emu, root, size=size, latency=0, layout="journal", names=names)
            print(line, flush=True)
            ok = ok and good
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"\nplan s: `reconciler plan` wall time (process start included); reqs: its API requests; "
        "want: ceil(N/1000).\nfloor: `reconciler validate` + raw httpx list pages (target "
        "plan/floor <= 1.3 at 10,000). list*/floor*: the list pages with plan's own `fields` "
        "selector (no snapshots).\nEach figure is the best of "
        f"{ROUNDS}, the commands taken in turns. state: snapshot = the state file as an apply "
        "leaves it; journal = with 1,000 record writes still in its journal (`plan --lock=false` "
        "during an apply).\nGET-each: raw httpx per-model GETs at concurrency 10 (Terraform-style "
        "refresh)."
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
