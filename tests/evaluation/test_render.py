"""Evaluation reports carry untrusted text (answers, data files): escaped for where it goes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reconciler.datasets import build_dataset
from reconciler.errors import SourceLocation
from reconciler.render.evaluation import (
    render_junit,
    render_markdown,
    render_text,
    terminal_safe,
)
from reconciler.scoring import (
    EvaluationReport,
    EvaluationTarget,
    ModelEvaluation,
    score_example,
    summarise,
)
from reconciler.spec import DatasetRef, DesiredEvaluation, Example, MetricCheck

HOSTILE = "ok\x00\x07\x1b]0;pwned\x07\u202egnp.exe | `x` <b>"


def report() -> EvaluationReport:
    examples = [Example("q1", "expected"), Example(HOSTILE, "expected")]
    data = build_dataset(name="holdout", examples=examples, location=SourceLocation("d.yaml"))
    evaluation = DesiredEvaluation(
        name="check",
        dataset=DatasetRef(name="holdout", hash=data.hash, examples=2),
        metrics=(MetricCheck(type="exactMatch", threshold=1.0),),
    )
    target = EvaluationTarget(
        model="m", live_name="tunedModels/m", update_time="t", evaluation=evaluation, dataset=data
    )
    scored = [
        score_example(evaluation, index=0, text_input="q1", expected="expected", answer="expected"),
        score_example(evaluation, index=1, text_input=HOSTILE, expected="expected", answer=HOSTILE),
    ]
    record = summarise(evaluation, scored, model_update_time="t", time="now")
    run = ModelEvaluation(target=target, record=record, examples=scored, sent=2)
    return EvaluationReport(runs=[run])


def test_terminal_output_shows_control_and_bidi_characters_as_escapes() -> None:
    text = render_text(report())
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
    assert "ok\\x00\\x07\\x1b]0;pwned\\x07\\u202egnp.exe" in text
    assert terminal_safe("a" * 500).endswith("…") and len(terminal_safe("a" * 500)) == 200


def test_junit_is_well_formed_even_with_characters_xml_cannot_carry() -> None:
    root = ET.fromstring(render_junit(report()))
    [failure] = root.iter("failure")
    assert failure.get("message") == "exactMatch 0.50 < 1.00"
    assert "pwned" in (failure.text or "")
    assert root.get("tests") == "1" and root.get("failures") == "1"


def test_markdown_cells_cannot_break_the_table_or_add_markup() -> None:
    lines = render_markdown(report()).splitlines()
    [row] = [line for line in lines if line.startswith("| 2 |")]
    assert row.count(" | ") == 4  # five cells: the pipe in the answer is escaped
    assert "\\`x\\`" in row and "\\<b\\>" in row
