"""``reconciler eval`` results as text, JSON, markdown and JUnit XML. Styling only.

Every text here may come from a model's answer or a data file, so it is
escaped for where it goes: control and bidirectional-formatting characters
become visible escapes on a terminal and in markdown, and characters XML 1.0
cannot carry are replaced in JUnit output (ElementTree escapes the rest).
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from typing import Any

from reconciler.jsontext import pretty
from reconciler.scoring import EvaluationReport, ModelEvaluation, ScoredExample, worst_failing

EVAL_FORMAT_VERSION = 1
WORST_EXAMPLES = 5  # failing examples shown per model
SHOWN_CHARS = 200  # of each input, expected output and answer in text and markdown
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def terminal_safe(text: str, *, limit: int = SHOWN_CHARS) -> str:
    """``text`` on one line, with every control or format character escaped, clipped."""
    out: list[str] = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _quoted(text: str) -> str:
    return '"' + terminal_safe(text).replace('"', '\\"') + '"'


def _metric_name(metric_type: str, pattern: str | None) -> str:
    return f"{metric_type} /{pattern}/" if pattern is not None else metric_type


def _failed_scores(run: ModelEvaluation, example: ScoredExample) -> str:
    metrics = run.target.evaluation.metrics
    parts = [
        f"{m.type} {s:.2f}"
        for m, s in zip(metrics, example.scores, strict=True)
        if m.type in example.failed
    ]
    return ", ".join(parts)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _cache_note(run: ModelEvaluation) -> str:
    sent = plural(run.sent, "request") + " sent"
    return f"{sent}, {run.cached} cached" if run.cached else sent


def render_text(report: EvaluationReport, *, color: bool = False) -> str:
    """A score table, then the worst failing examples of each model below a threshold."""

    def mark(passed: bool) -> str:
        word = "pass" if passed else "FAIL"
        if not color:
            return word
        return f"\x1b[{'32' if passed else '31'}m{word}\x1b[0m"

    rows: list[tuple[str, ...]] = [("MODEL", "EVALUATION", "METRIC", "SCORE", "THRESHOLD", "")]
    marks: list[str] = [""]
    for run in report.runs:
        if run.record is None:
            continue
        for metric in run.record.metrics:
            rows.append(
                (
                    run.target.model,
                    terminal_safe(run.target.evaluation.name, limit=40),
                    terminal_safe(_metric_name(metric.type, metric.pattern), limit=40),
                    f"{metric.score:.2f}",
                    f"{metric.threshold:.2f}",
                    "",
                )
            )
            marks.append(mark(metric.passed))
    lines: list[str] = []
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row, shown in zip(rows, marks, strict=True):
            cells = [row[i].ljust(widths[i]) for i in range(5)]
            lines.append("  ".join([*cells, shown]).rstrip())
    for run in report.runs:
        if run.record is not None:
            gate = "" if run.record.gate else " (gate: false, reported only)"
            lines.append(
                f"{run.target.model}: {plural(run.record.examples, 'example')} asked of "
                f"{run.target.live_name} ({_cache_note(run)}){gate}"
            )
    for run in report.errors:
        lines.append(f"{run.target.model}: error: {terminal_safe(run.error or '')}")
    for model, reason in report.skipped:
        lines.append(f"{model}: skipped: {reason}")
    for run in report.below_threshold:
        worst = worst_failing(run.examples, WORST_EXAMPLES)
        failing = sum(1 for e in run.examples if e.failed)
        lines.append("")
        lines.append(
            f"Worst failing examples of {run.target.model} "
            f"({failing} of {len(run.examples)} failed):"
        )
        for example in worst:
            lines.append(f"  #{example.index + 1} ({_failed_scores(run, example)})")
            lines.append(f"    input:    {_quoted(example.text_input)}")
            lines.append(f"    expected: {_quoted(example.expected)}")
            lines.append(f"    answer:   {_quoted(example.answer)}")
    lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def summary_line(report: EvaluationReport) -> str:
    passed = sum(1 for run in report.runs if run.passed)
    parts = [
        f"{passed} passed",
        f"{len(report.below_threshold)} below a threshold",
        f"{len(report.errors)} failed to run",
    ]
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    return f"Evaluated {plural(len(report.runs), 'model')}: " + ", ".join(parts) + "."


def report_json(report: EvaluationReport) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for run in report.runs:
        record = run.record
        item: dict[str, Any] = {
            "model": run.target.model,
            "name": run.target.live_name,
            "evaluation": run.target.evaluation.name,
            "evaluationHash": run.target.evaluation.hash,
            "datasetHash": run.target.evaluation.dataset.hash,
            "examples": len(run.target.dataset.examples),
            "requestsSent": run.sent,
            "answersCached": run.cached,
            "gate": run.target.evaluation.gate,
            "passed": run.passed,
            "error": run.error,
            "metrics": [m.model_dump(exclude_none=True) for m in record.metrics] if record else [],
            "failingExamples": [
                {
                    "index": e.index,
                    "textInput": e.text_input,
                    "expected": e.expected,
                    "answer": e.answer,
                    "failed": list(e.failed),
                    "scores": list(e.scores),
                }
                for e in worst_failing(run.examples, WORST_EXAMPLES)
            ],
        }
        results.append(item)
    return {
        "formatVersion": EVAL_FORMAT_VERSION,
        "results": results,
        "skipped": [{"model": m, "reason": r} for m, r in report.skipped],
        "exitCode": report.exit_code,
    }


def render_json(report: EvaluationReport) -> str:
    return pretty(report_json(report)) + "\n"


def _md_cell(text: str) -> str:
    """Text for a markdown table cell or list item: escaped, no markup of its own."""
    safe = terminal_safe(text)
    out = []
    for char in safe:
        out.append("\\" + char if char in "`*_|<>[]#" else char)
    return "".join(out)


def render_markdown(report: EvaluationReport) -> str:
    lines = ["### Evaluation", "", "| model | evaluation | metric | score | threshold | result |"]
    lines.append("|---|---|---|---:|---:|---|")
    for run in report.runs:
        for metric in run.record.metrics if run.record else ():
            lines.append(
                f"| {_md_cell(run.target.model)} | {_md_cell(run.target.evaluation.name)} "
                f"| {_md_cell(_metric_name(metric.type, metric.pattern))} | {metric.score:.2f} "
                f"| {metric.threshold:.2f} | {'✅ pass' if metric.passed else '❌ fail'} |"
            )
    for run in report.errors:
        lines.append(f"\n**{_md_cell(run.target.model)}**: error: {_md_cell(run.error or '')}")
    for model, reason in report.skipped:
        lines.append(f"\n**{_md_cell(model)}**: skipped: {_md_cell(reason)}")
    for run in report.below_threshold:
        lines.append("")
        lines.append(
            f"<details><summary>Worst failing examples of {_md_cell(run.target.model)}</summary>"
        )
        lines.append("")
        lines.append("| # | input | expected | answer | below threshold |")
        lines.append("|---:|---|---|---|---|")
        for e in worst_failing(run.examples, WORST_EXAMPLES):
            lines.append(
                f"| {e.index + 1} | {_md_cell(e.text_input)} | {_md_cell(e.expected)} "
                f"| {_md_cell(e.answer)} | {_md_cell(_failed_scores(run, e))} |"
            )
        lines.append("")
        lines.append("</details>")
    lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _x(text: str) -> str:
    """Text XML 1.0 can carry: characters it forbids become visible escapes."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def render_junit(report: EvaluationReport) -> str:
    """JUnit XML: a testsuite per model, a testcase per metric (its threshold as the assertion)."""
    root = ET.Element("testsuites", name="reconciler eval")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for run in report.runs:
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.SubElement(root, "testsuite", name=_x(f"TunedModel/{run.target.model}"))
        properties = ET.SubElement(suite, "properties")
        for key, value in (
            ("model", run.target.live_name),
            ("evaluation", run.target.evaluation.name),
            ("datasetHash", run.target.evaluation.dataset.hash or ""),
            ("gate", str(run.target.evaluation.gate).lower()),
        ):
            ET.SubElement(properties, "property", name=key, value=_x(value))
        classname = _x(f"{run.target.model}.{run.target.evaluation.name}")
        if run.error is not None or run.record is None:
            case = ET.SubElement(
                suite, "testcase", classname=classname, name="evaluation", time="0"
            )
            error = ET.SubElement(case, "error", message=_x(run.error or "no result"), type="error")
            error.text = _x(run.error or "")
            counts["tests"] += 1
            counts["errors"] += 1
        else:
            worst = worst_failing(run.examples, WORST_EXAMPLES)
            for metric in run.record.metrics:
                name = f"{_metric_name(metric.type, metric.pattern)} >= {metric.threshold:.2f}"
                case = ET.SubElement(
                    suite, "testcase", classname=classname, name=_x(name), time="0"
                )
                counts["tests"] += 1
                if metric.passed:
                    continue
                counts["failures"] += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=_x(f"{metric.type} {metric.score:.2f} < {metric.threshold:.2f}"),
                    type="threshold",
                )
                failure.text = _x(
                    "\n".join(
                        f"#{e.index + 1} input: {e.text_input!r} expected: {e.expected!r} "
                        f"answer: {e.answer!r}"
                        for e in worst
                        if metric.type in e.failed
                    )
                )
        for key, count in counts.items():
            suite.set(key, str(count))
            totals[key] += count
    for model, reason in report.skipped:
        suite = ET.SubElement(
            root, "testsuite", name=_x(f"TunedModel/{model}"), tests="1", failures="0", errors="0"
        )
        suite.set("skipped", "1")
        case = ET.SubElement(suite, "testcase", classname=_x(model), name="evaluation", time="0")
        ET.SubElement(case, "skipped", message=_x(reason))
        totals["tests"] += 1
        totals["skipped"] += 1
    for key, total in totals.items():
        root.set(key, str(total))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
