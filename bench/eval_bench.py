"""Evaluating a model: ``reconciler``'s evaluation runner against a sequential official client.

    python bench/eval_bench.py [--examples 1000] [--latency-ms 50] [--parallelism 16]

Starts an emulator on a free port whose every request takes ``--latency-ms``
(a stand-in for the real service's answer time), tunes one model, then times
evaluating it on ``--examples`` examples (one exactMatch metric):

* the evaluation runner at parallelism 1 and at ``--parallelism`` (no cache);
* a plain sequential loop of the official client (google-genai
  ``models.generate_content``), scoring nothing: the floor of a hand-written
  evaluation script;
* the runner again with a warm answer cache (what a rerun costs).

Stops the emulator at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.api import Credentials  # noqa: E402
from reconciler.api.client import GeminiClient  # noqa: E402
from reconciler.apply.answer_cache import open_answer_cache  # noqa: E402
from reconciler.apply.evaluating import run_evaluations  # noqa: E402
from reconciler.datasets import build_dataset  # noqa: E402
from reconciler.errors import SourceLocation  # noqa: E402
from reconciler.scoring import EvaluationTarget  # noqa: E402
from reconciler.spec import (  # noqa: E402
    AppliedSpec,
    DatasetRef,
    DesiredEvaluation,
    Example,
    Hyperparameters,
    MetricCheck,
)
from tests.support.servers import serve_emulator  # noqa: E402

TRAINING = [Example(text_input=f"say {i}", output=f"SAID {i}") for i in range(20)]
SPEC = AppliedSpec(
    baseModel="models/gemini-1.5-flash-001-tuning",
    hyperparameters=Hyperparameters(epochCount=1, batchSize=4),
    dataset=DatasetRef(name="train", hash="sha256:0", examples=len(TRAINING)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--parallelism", type=int, default=16)
    args = parser.parse_args()

    from google import genai
    from google.genai import types

    examples = [
        Example(text_input=f"say {i % 20} please {i}", output=f"SAID {i % 20}")
        for i in range(args.examples)
    ]
    data = build_dataset(name="holdout", examples=examples, location=SourceLocation("bench"))
    evaluation = DesiredEvaluation(
        name="bench-check",
        dataset=DatasetRef(name="holdout", hash=data.hash, examples=len(examples)),
        metrics=(MetricCheck(type="exactMatch", threshold=0.9),),
        generation_config=(("temperature", 0.0),),
    )
    with serve_emulator("--step-seconds", "0", "--latency-ms", str(args.latency_ms)) as emu:
        credentials = Credentials(api_key="bench-key")
        with GeminiClient(endpoint=emu.url, credentials=credentials, max_connections=64) as client:
            client.create_tuned_model(model_id="bench", spec=SPEC, examples=TRAINING)
            live = client.wait_for_models(["tunedModels/bench"], timeout=60)["tunedModels/bench"]
            target = EvaluationTarget(
                model="bench",
                live_name=live.name,
                update_time=live.update_time,
                evaluation=evaluation,
                dataset=data,
            )
            print(
                f"{args.examples} examples, one model, {args.latency_ms} ms emulator latency "
                "per request"
            )
            figures: dict[str, float] = {}
            for parallelism in (1, args.parallelism):
                started = time.perf_counter()
                [run] = run_evaluations(
                    client=client, targets=[target], cache=None, parallelism=parallelism
                )
                figures[f"reconciler eval, parallelism {parallelism}"] = (
                    time.perf_counter() - started
                )
                assert run.record is not None and run.sent == args.examples, run.error
                assert run.record.passed, run.record
            official = genai.Client(
                api_key="bench-key",
                http_options=types.HttpOptions(base_url=emu.url, api_version="v1beta"),
            )
            config = types.GenerateContentConfig(temperature=0.0)
            started = time.perf_counter()
            for example in examples:
                official.models.generate_content(
                    model="tunedModels/bench", contents=example.text_input, config=config
                )
            figures["google-genai, sequential loop"] = time.perf_counter() - started
            with tempfile.TemporaryDirectory() as scratch:
                cache = open_answer_cache(Path(scratch))
                run_evaluations(
                    client=client, targets=[target], cache=cache, parallelism=args.parallelism
                )
                started = time.perf_counter()
                [rerun] = run_evaluations(
                    client=client, targets=[target], cache=cache, parallelism=args.parallelism
                )
                figures["reconciler eval, rerun (answers cached)"] = time.perf_counter() - started
                assert rerun.sent == 0
    floor = figures["google-genai, sequential loop"]
    for label, seconds in figures.items():
        rate = args.examples / seconds if seconds else float("inf")
        print(f"  {label:<42} {seconds:7.2f} s  {rate:8.0f} examples/s  {floor / seconds:6.1f}x")
    print("  (x: speed-up over the official client's sequential loop)")


if __name__ == "__main__":
    main()
