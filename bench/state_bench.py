"""Reading and writing a state file of 100, 1,000 and 10,000 models.

    python bench/state_bench.py [--sizes 100,1000,10000]

Every apply writes the state at least twice per change (the intent before a
request, the result after), each write under the lock, checked against the
stored serial, with the previous version kept as a backup. Beside each figure:

* read floor: ``json.loads`` of the same file (decoding alone, no checking);
* write floor: the standard library's fastest serialising (compact, C encoder)
  of the same document, written durably once (temp file, fsync, rename), with
  no serial check and no backup;
* write peer: the readable form written the obvious way, ``json.dumps(...,
  indent=2, sort_keys=True)`` (pure-Python encoder), written durably once.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.applied import ModelRecord, StateDocument  # noqa: E402
from reconciler.cli import GC_THRESHOLDS  # noqa: E402
from reconciler.spec import AppliedSpec, DatasetRef, Hyperparameters  # noqa: E402
from reconciler.state.file import FileBackend  # noqa: E402
from reconciler.state.files import atomic_write  # noqa: E402

REPEATS = 5


def document(count: int) -> StateDocument:
    doc = StateDocument()
    for i in range(count):
        name = f"model-{i:05d}"
        doc.models[name] = ModelRecord(
            name=f"tunedModels/{name}",
            applied=AppliedSpec(
                baseModel="models/gemini-1.5-flash-001-tuning",
                displayName=f"Model {i}",
                description=f"Benchmark model {i}",
                temperature=0.2,
                hyperparameters=Hyperparameters(epochCount=5, batchSize=4, learningRate=0.001),
                dataset=DatasetRef(name="pairs", hash="sha256:" + "ab" * 32, examples=8),
            ),
            createTime="2026-11-21T10:00:00.000000Z",
            updateTime="2026-11-21T10:00:00.000000Z",
        )
    return doc


def best(action: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(size: int) -> str:
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        path = Path(tmp) / "state.json"
        backend = FileBackend(path)
        with backend.lock(command="bench"):
            stored = backend.write(document(size))

            def write() -> None:
                nonlocal stored
                stored = backend.write(stored)

            write_s = best(write)
            name = next(iter(stored.models))
            record = stored.models[name]

            def change() -> None:
                nonlocal stored
                serial = backend.write_records(stored, {name: record})
                stored = stored.model_copy(update={"serial": serial})

            change_s = best(change)
        other = Path(tmp) / "other.json"
        plain = stored.model_dump(mode="json")
        floor_write_s = best(lambda: atomic_write(other, json.dumps(plain).encode()))
        peer_write_s = best(
            lambda: atomic_write(other, json.dumps(plain, indent=2, sort_keys=True).encode())
        )
        read_s = best(lambda: FileBackend(path).read())
        floor_read_s = best(lambda: json.loads(path.read_bytes()))
        size_mb = path.stat().st_size / 1e6
    return (
        f"{size:>7} {size_mb:>8.1f} | {read_s * 1e3:>8.1f} {floor_read_s * 1e3:>9.1f} "
        f"{read_s / floor_read_s:>5.1f}x | {write_s * 1e3:>9.1f} {floor_write_s * 1e3:>9.1f} "
        f"{write_s / floor_write_s:>5.1f}x | {peer_write_s * 1e3:>8.1f} "
        f"{peer_write_s / write_s:>9.1f}x | {change_s * 1e3:>9.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    gc.set_threshold(*GC_THRESHOLDS)  # as the CLI runs
    header = (
        f"{'models':>7} {'file MB':>8} | {'read ms':>8} {'floor ms':>9} {'ratio':>6} | "
        f"{'write ms':>9} {'floor ms':>9} {'ratio':>6} | {'peer ms':>8} {'peer/ours':>10} | "
        f"{'change ms':>9}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        print(measure(size), flush=True)
    print(
        f"\nbest of {REPEATS}. read: FileBackend.read (parse + validate every record); "
        "write: FileBackend.write (serial check, backup, serialise, durable replace);\n"
        "change: FileBackend.write_records of one model record, as apply records each step\n"
        "(one durable journal append, whatever the number of models)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
