"""Run evaluations: ask live models every example through generateContent, score the answers.

Used by ``reconciler eval``, by apply's ``evaluate`` action and by the gate
after a tuning. All examples of all models share one thread pool of
``parallelism`` workers over the client (which retries 429s, honouring the
server's retry delay, 5xx and lost connections). Answers come from the
``AnswerCache`` when it has them; only the missing ones are asked for, and
they are stored once the model's run ends (also when it failed part way).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from reconciler.api.convert import generate_body
from reconciler.apply.answer_cache import AnswerCache, body_key
from reconciler.errors import ReconcilerError
from reconciler.providers import TuningProvider
from reconciler.scoring import EvaluationTarget, ModelEvaluation, score_example, summarise
from reconciler.spec import Example

# Answers are untrusted text of any length; scoring and reports see at most this
# much of each (the service's own output limit is 8,192 tokens, ~32 KiB).
MAX_ANSWER_CHARS = 32_768


class EvaluationProgress:
    """Receives one call per answered example (from worker threads); the default shows nothing."""

    def start(self, total: int) -> None:
        pass

    def advance(self, model: str) -> None:
        pass

    def close(self) -> None:
        pass


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _ModelRun:
    """One model's answers as they arrive; thread-safe."""

    def __init__(self, target: EvaluationTarget, cached: Mapping[str, str]) -> None:
        self.target = target
        self.cached = dict(cached)
        self.fresh: dict[str, str] = {}
        self.answers: dict[int, str] = {}
        self.error: str | None = None
        self.sent = 0
        self.from_cache = 0
        self.lock = threading.Lock()


def run_evaluations(
    *,
    client: TuningProvider,
    targets: Sequence[EvaluationTarget],
    cache: AnswerCache | None,
    parallelism: int,
    progress: EvaluationProgress | None = None,
    now: Callable[[], str] = utc_now,
) -> list[ModelEvaluation]:
    """Evaluate every target; a failed request fails only its own model's run."""
    shown = progress or EvaluationProgress()
    runs: list[_ModelRun] = []
    for target in targets:
        cached = (
            cache.load(
                endpoint=client.endpoint, model=target.live_name, update_time=target.update_time
            )
            if cache is not None
            else {}
        )
        runs.append(_ModelRun(target, cached))
    jobs = [
        (run, index, example)
        for run in runs
        for index, example in enumerate(run.target.dataset.examples)
    ]
    shown.start(len(jobs))
    pool = ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="evaluate")
    try:
        futures = [pool.submit(_answer, client, shown, *job) for job in jobs]
        for future in futures:
            future.result()
        pool.shutdown()
    except BaseException:
        # Ctrl-C (or a bug): send nothing more; the answers so far are still cached.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        shown.close()
        if cache is not None:
            for run in runs:
                if run.fresh:
                    cache.save(
                        endpoint=client.endpoint,
                        model=run.target.live_name,
                        update_time=run.target.update_time,
                        answers={**run.cached, **run.fresh},
                    )
    return [_conclude(run, now) for run in runs]


def _answer(
    client: TuningProvider,
    progress: EvaluationProgress,
    run: _ModelRun,
    index: int,
    example: Example,
) -> None:
    target = run.target
    body = generate_body(prompt=example.text_input, generation_config=target.evaluation.config)
    key = body_key(body)
    answer = run.cached.get(key)
    if answer is not None:
        with run.lock:
            run.from_cache += 1
    else:
        with run.lock:
            if run.error is not None:
                return  # this model's run already failed: send nothing more for it
            answer = run.fresh.get(key)
        if answer is None:
            try:
                result = client.generate_content(
                    target.live_name,
                    prompt=example.text_input,
                    generation_config=target.evaluation.config,
                )
            except ReconcilerError as exc:
                with run.lock:
                    run.sent += 1
                    if run.error is None:
                        run.error = f"example {index + 1}: {exc.message}"
                return
            answer = result.text[:MAX_ANSWER_CHARS]
            with run.lock:
                run.sent += 1
                run.fresh[key] = answer
    with run.lock:
        run.answers[index] = answer
    progress.advance(target.model)


def _conclude(run: _ModelRun, now: Callable[[], str]) -> ModelEvaluation:
    target = run.target
    outcome = ModelEvaluation(target=target, error=run.error, sent=run.sent, cached=run.from_cache)
    if run.error is not None:
        return outcome
    evaluation = target.evaluation
    outcome.examples = [
        score_example(
            evaluation,
            index=index,
            text_input=example.text_input,
            expected=example.output,
            answer=run.answers[index],
        )
        for index, example in enumerate(target.dataset.examples)
    ]
    outcome.record = summarise(
        evaluation, outcome.examples, model_update_time=target.update_time, time=now()
    )
    return outcome


class EvaluationBar(EvaluationProgress):
    """One rich progress bar over every example of the run, on stderr (stdout stays the report)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self._bar = Progress(
            "[bold]evaluating",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task("evaluating", total=0)
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        self._bar.update(self._task, total=total)
        self._bar.start()

    def advance(self, model: str) -> None:
        with self._lock:
            self._bar.advance(self._task)

    def close(self) -> None:
        self._bar.stop()
