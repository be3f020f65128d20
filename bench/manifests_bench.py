"""Manifest loading speed: ``python bench/manifests_bench.py`` prints documents/second.

Scenarios (targets on a 2-core machine):

* 10,000 TunedModel documents in 100 files, cold (no cache): under 3 s
* the same, warm (nothing changed since the last run, parse cache hit): under 1 s
* a repository of 100 models (the common case), cold and warm
* the same 10,000 documents through the pure-Python YAML parser, for the ratio
  that justifies the ruamel.yaml.clib dependency (skipped with --quick)
* a 62 MB manifest of one list of 31 million ones, refused (the limit on
  values per file applies while parsing): under 5 s and 500 MB peak memory
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.manifests import (
    CACHE_DIR,
    _yaml,
    load_manifests,
)

SHARED = """apiVersion: gemini.tuning/v1
kind: Dataset
metadata:
  name: shared-examples
spec:
  examples:
    - {textInput: "1", output: "2"}
    - {textInput: "2", output: "3"}
---
apiVersion: gemini.tuning/v1
kind: Hyperparameters
metadata:
  name: small
spec:
  epochCount: 5
  batchSize: 4
  learningRate: 0.001
"""


def model(number: int) -> str:
    return f"""apiVersion: gemini.tuning/v1
kind: TunedModel
metadata:
  name: model-{number:05d}
spec:
  displayName: Model {number}
  description: Tuned model number {number} of the benchmark
  baseModel: models/gemini-1.5-flash-001-tuning
  temperature: 0.2
  topP: 0.9
  topK: 40
  readerProjectNumbers: ["123456789012"]
  tuningTask:
    trainingData: shared-examples
    hyperparameters: small
  lifecycle:
    ignoreChanges: [description]
"""


def make_repository(root: Path, *, files: int, per_file: int) -> int:
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "shared.yaml").write_text(SHARED)
    number = 0
    for index in range(files):
        docs = []
        for _ in range(per_file):
            number += 1
            docs.append(model(number))
        (manifests / f"models-{index:03d}.yaml").write_text("---\n".join(docs))
    return number


def timed(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def scenario(label: str, *, files: int, per_file: int, repeat: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        count = make_repository(root, files=files, per_file=per_file)
        paths = [root / "manifests"]

        def cold() -> object:
            shutil.rmtree(root / CACHE_DIR, ignore_errors=True)
            return load_manifests(paths, root=root)

        def warm() -> object:
            return load_manifests(paths, root=root)

        cold_s = timed(cold, repeat)
        load_manifests(paths, root=root)  # fill the cache
        warm_s = timed(warm, repeat)
        result = load_manifests(paths, root=root)
        assert result.models == count, result.diagnostics[:3]
    print(
        f"{label:<44} cold {cold_s:6.3f} s ({count / cold_s:>8,.0f} docs/s)   "
        f"warm {warm_s:6.3f} s ({count / warm_s:>8,.0f} docs/s)"
    )
    return cold_s, warm_s, count


def pure_python(*, files: int, per_file: int) -> float:
    loader = _yaml._LOADER
    _yaml._LOADER = _yaml._PureLoader
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            count = make_repository(root, files=files, per_file=per_file)
            seconds = timed(
                lambda: load_manifests([root / "manifests"], root=root, use_cache=False), 1
            )
    finally:
        _yaml._LOADER = loader
    print(
        f"{'10,000 models, pure-Python YAML parser':<44} cold {seconds:6.3f} s ({count / seconds:>8,.0f} docs/s)"
    )
    return seconds


def big_list() -> bool:
    """`reconciler validate` on a 62 MB one-list manifest, in a child process: time and peak RSS."""
    import resource
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_bytes(b"a: [" + b"1," * (31_000_000 - 1) + b"1]\n")
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "validate", str(path)],
            capture_output=True,
            text=True,
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    refused = done.returncode == 1 and "values in this file" in done.stdout
    print(
        f"{'62 MB one-list manifest, refused':<44} {seconds:6.3f} s, peak {peak_mib:,.0f} MiB "
        f"(targets < 5 s, < 500 MiB){'' if refused else ' NOT REFUSED'}"
    )
    return refused and seconds < 5 and peak_mib < 500


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the slow pure-Python comparison")
    args = parser.parse_args()
    print(f"YAML parser: {'libyaml (ruamel.yaml.clib)' if _yaml.C_PARSER else 'pure Python'}")
    scenario("100 models in 10 files", files=10, per_file=10, repeat=5)
    cold, warm, _ = scenario("10,000 models in 100 files", files=100, per_file=100, repeat=3)
    ok = cold < 3.0 and warm < 1.0
    ok = big_list() and ok
    if _yaml.C_PARSER and not args.quick:
        pure = pure_python(files=100, per_file=100)
        print(
            f"ratio pure-Python / libyaml (cold): {pure / cold:.1f}x; cold / warm: {cold / warm:.1f}x"
        )
    print(f"targets (cold < 3 s, warm < 1 s, big manifest refused): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
