"""How answers score: each metric, its normalisation options, thresholds and the summary."""

from __future__ import annotations

import pytest

from reconciler.scoring import (
    describe_failure,
    score,
    score_example,
    summarise,
    worst_failing,
)
from reconciler.spec import DatasetRef, DesiredEvaluation, MetricCheck


def metric(kind: str, **options: object) -> MetricCheck:
    return MetricCheck(type=kind, threshold=float(options.pop("threshold", 1.0)), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("check", "expected", "answer", "result"),
    [
        (metric("exactMatch"), "HELLO!", "HELLO!", 1.0),
        (metric("exactMatch"), "HELLO!", "hello!", 0.0),
        (metric("exactMatch", ignore_case=True), "HELLO!", "hello!", 1.0),
        (metric("exactMatch"), "a b", " a  b\n", 0.0),
        (metric("exactMatch", ignore_whitespace=True), "a b", " a \t b\n", 1.0),
        (metric("exactMatch", ignore_whitespace=True), "a b", "ab", 0.0),
        (metric("contains"), "42", "The answer is 42.", 1.0),
        (metric("contains"), "Paris", "paris", 0.0),
        (metric("contains", ignore_case=True), "Paris", "it is PARIS", 1.0),
        (metric("regex", pattern=r"^\d+$"), "", "1234", 1.0),
        (metric("regex", pattern=r"^\d+$"), "", "12a", 0.0),
        (metric("regex", pattern="yes", ignore_case=True), "", "YES", 1.0),
        (metric("similarity"), "kitten", "kitten", 1.0),
        (metric("similarity"), "abc", "xyz", 0.0),
    ],
)
def test_metric_scores(check: MetricCheck, expected: str, answer: str, result: float) -> None:
    assert score(check, expected=expected, answer=answer) == result


def test_similarity_is_rapidfuzz_normalised_indel_ratio() -> None:
    # "kitten" vs "sitting": 13 characters, an Indel distance of 5 -> 1 - 5/13.
    value = score(metric("similarity"), expected="kitten", answer="sitting")
    assert value == pytest.approx(1 - 5 / 13)
    relaxed = metric("similarity", ignore_case=True, ignore_whitespace=True)
    assert score(relaxed, expected="Good  Morning", answer="good morning ") == 1.0


def evaluation(*metrics: MetricCheck, gate: bool = True) -> DesiredEvaluation:
    return DesiredEvaluation(
        name="check",
        dataset=DatasetRef(name="holdout", hash="sha256:ab", examples=10),
        metrics=metrics,
        gate=gate,
    )


def test_nine_of_ten_meets_a_threshold_of_0_9_and_eight_does_not() -> None:
    check = evaluation(metric("exactMatch", threshold=0.9))
    answers = ["yes"] * 9 + ["no"]
    scored = [
        score_example(check, index=i, text_input=str(i), expected="yes", answer=a)
        for i, a in enumerate(answers)
    ]

    record = summarise(check, scored, model_update_time="t1", time="2026-01-01T00:00:00Z")

    assert record.passed and record.metrics[0].score == 0.9
    assert record.datasetHash == "sha256:ab" and record.examples == 10
    assert record.evaluationHash == check.hash and record.modelUpdateTime == "t1"
    scored[8] = score_example(check, index=8, text_input="8", expected="yes", answer="no")
    failed = summarise(check, scored, model_update_time="t1", time="")
    assert not failed.passed
    assert describe_failure(failed) == "exactMatch 0.80 < 0.90"


def test_worst_failing_examples_come_lowest_score_first() -> None:
    check = evaluation(metric("exactMatch"), metric("similarity", threshold=0.5))
    scored = [
        score_example(check, index=0, text_input="a", expected="HELLO", answer="HELLO"),
        score_example(check, index=1, text_input="b", expected="HELLO", answer="HELL"),
        score_example(check, index=2, text_input="c", expected="HELLO", answer="zzz"),
    ]

    worst = worst_failing(scored, 5)

    assert [e.index for e in worst] == [2, 1]
    assert worst[0].failed == ("exactMatch", "similarity") and worst[1].failed == ("exactMatch",)


def test_an_evaluations_identity_covers_what_decides_a_score() -> None:
    base = evaluation(metric("exactMatch", threshold=0.9))
    same = evaluation(metric("exactMatch", threshold=0.9))
    assert base.hash == same.hash
    assert evaluation(metric("exactMatch", threshold=0.8)).hash != base.hash
    assert evaluation(metric("exactMatch", threshold=0.9), gate=False).hash != base.hash
    assert evaluation(metric("contains", threshold=0.9)).hash != base.hash
