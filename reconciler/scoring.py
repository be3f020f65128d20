"""Scoring a model's answers against an evaluation's metrics. Pure: no clock, network or files.

Each metric scores one answer in [0, 1]; an evaluation passes a metric when
the mean score over its dataset reaches the threshold.

* ``exactMatch``: 1 when the answer equals the expected output.
* ``contains``: 1 when the answer contains the expected output.
* ``regex``: 1 when the metric's ``pattern`` is found in the answer.
* ``similarity``: rapidfuzz's normalised Indel similarity of answer and
  expected output (``fuzz.ratio`` / 100: 1 for equal texts, 0 for texts
  with no character in common), a well-tested C implementation rather than
  a hand-written edit distance.

``ignoreCase`` compares case-folded text; ``ignoreWhitespace`` ignores
leading and trailing whitespace and the amount of whitespace between words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

from reconciler.applied import EvaluationRecord, MetricResult
from reconciler.spec import DesiredEvaluation, LoadedDataset, MetricCheck

# Mean scores are compared with this slack, so 9 of 10 meets a 0.9 threshold
# although 9/10 is 0.8999999999999999 in binary floating point.
THRESHOLD_EPSILON = 1e-9
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ScoredExample:
    """One example of a run: what was asked, expected and answered, and each metric's score."""

    index: int  # position in the dataset, from 0
    text_input: str
    expected: str
    answer: str
    scores: tuple[float, ...]  # one per metric, in the evaluation's order
    failed: tuple[str, ...]  # metric types this example scored below the threshold on

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 1.0


@dataclass(frozen=True)
class EvaluationTarget:
    """One live model to evaluate: its manifest name, live name and version, evaluation, data."""

    model: str  # manifest name
    live_name: str  # tunedModels/<id> (a generation's)
    update_time: str | None  # the live model's; None: its answers are not cached
    evaluation: DesiredEvaluation
    dataset: LoadedDataset


@dataclass
class ModelEvaluation:
    """What one model's run produced: its record, every scored example, or the error."""

    target: EvaluationTarget
    record: EvaluationRecord | None = None
    examples: list[ScoredExample] = field(default_factory=list)
    error: str | None = None
    sent: int = 0  # generateContent requests this run made
    cached: int = 0  # answers taken from the cache

    @property
    def passed(self) -> bool:
        return self.error is None and self.record is not None and self.record.passed


@dataclass
class EvaluationReport:
    """A whole ``reconciler eval``: each model's run, and the models left out with why."""

    runs: list[ModelEvaluation] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (manifest name, reason)

    @property
    def errors(self) -> list[ModelEvaluation]:
        return [run for run in self.runs if run.error is not None]

    @property
    def below_threshold(self) -> list[ModelEvaluation]:
        return [run for run in self.runs if run.record is not None and not run.record.passed]

    @property
    def exit_code(self) -> int:
        """0 every threshold met, 2 one missed, 1 an evaluation could not run."""
        if self.errors:
            return 1
        return 2 if self.below_threshold else 0


def normalise(text: str, metric: MetricCheck) -> str:
    if metric.ignore_whitespace:
        text = _SPACE.sub(" ", text).strip()
    if metric.ignore_case:
        text = text.casefold()
    return text


@lru_cache(maxsize=64)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


def score(metric: MetricCheck, *, expected: str, answer: str) -> float:
    """One answer's score on one metric, in [0, 1]."""
    got = normalise(answer, metric)
    if metric.type == "regex":
        assert metric.pattern is not None  # a regex metric without one does not load
        return 1.0 if _compiled(metric.pattern, metric.ignore_case).search(got) else 0.0
    want = normalise(expected, metric)
    if metric.type == "exactMatch":
        return 1.0 if got == want else 0.0
    if metric.type == "contains":
        return 1.0 if want in got else 0.0
    if metric.type == "similarity":
        return float(fuzz.ratio(got, want)) / 100.0
    raise ValueError(f"unknown metric type {metric.type!r}")


def score_example(
    evaluation: DesiredEvaluation, *, index: int, text_input: str, expected: str, answer: str
) -> ScoredExample:
    scores = tuple(score(m, expected=expected, answer=answer) for m in evaluation.metrics)
    failed = tuple(
        m.type for m, s in zip(evaluation.metrics, scores, strict=True) if s < m.threshold
    )
    return ScoredExample(index, text_input, expected, answer, scores, failed)


def summarise(
    evaluation: DesiredEvaluation,
    examples: Sequence[ScoredExample],
    *,
    model_update_time: str | None,
    time: str,
) -> EvaluationRecord:
    """The record of a run: each metric's mean score against its threshold."""
    results: list[MetricResult] = []
    for position, metric in enumerate(evaluation.metrics):
        values = [e.scores[position] for e in examples]
        mean = sum(values) / len(values) if values else 0.0
        results.append(
            MetricResult(
                type=metric.type,
                threshold=metric.threshold,
                score=round(mean, 6),
                passed=mean + THRESHOLD_EPSILON >= metric.threshold,
                pattern=metric.pattern,
            )
        )
    return EvaluationRecord(
        evaluation=evaluation.name,
        evaluationHash=evaluation.hash,
        datasetHash=evaluation.dataset.hash or "",
        examples=len(examples),
        modelUpdateTime=model_update_time,
        metrics=tuple(results),
        gate=evaluation.gate,
        passed=all(r.passed for r in results),
        time=time,
    )


def worst_failing(examples: Sequence[ScoredExample], limit: int) -> list[ScoredExample]:
    """The failing examples with the lowest mean score first (dataset order among equals)."""
    failing = [e for e in examples if e.failed]
    return sorted(failing, key=lambda e: (e.mean, e.index))[:limit]


def describe_failure(record: EvaluationRecord) -> str:
    """``exactMatch 0.50 < 0.90, similarity 0.61 < 0.80``: the metrics a run missed."""
    return ", ".join(f"{m.type} {m.score:.2f} < {m.threshold:.2f}" for m in record.failed_metrics)
