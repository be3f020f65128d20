"""`reconciler eval` as a user runs it against a served emulator: scores, exit codes, the cache."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from typing import Any

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model

GENERATE = "POST /v1beta/tunedModels/{id}:generateContent"


def evaluation(
    name: str, examples: list[tuple[str, str]], *, gate: bool = True, **metric: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "gemini.tuning/v1",
        "kind": "Evaluation",
        "metadata": {"name": name},
        "spec": {
            "dataset": {"examples": [{"textInput": i, "output": o} for i, o in examples]},
            "generationConfig": {"temperature": 0, "maxOutputTokens": 64},
            "metrics": [{"type": "exactMatch", "threshold": 0.9, **metric}],
            "gate": gate,
        },
    }


def forget_answers(ws: Workspace) -> None:
    """Empty the answer cache (apply's gate filled it)."""
    shutil.rmtree(ws.root / ".reconciler" / "cache")


def with_evaluation(model: dict[str, Any], name: str) -> dict[str, Any]:
    model["spec"]["evaluation"] = name
    return model


def check_junit(text: str) -> ET.Element:
    """Parse JUnit XML and check the structure CI tools read (counts agree with the cases)."""
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = suite.findall("testcase")
        assert [c.tag for c in suite if c.tag != "properties"] == ["testcase"] * len(cases)
        counted = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        for key, value in counted.items():
            assert int(suite.get(key, "0")) == value
            totals[key] += value
        for case in cases:
            assert case.get("name") and case.get("classname") is not None
            for outcome in case:
                assert outcome.tag in ("failure", "error", "skipped")
                assert outcome.get("message")
    for key, value in totals.items():
        assert int(root.get(key, "-1")) == value
    return root


def test_eval_twice_sends_nothing_the_second_time_and_writes_junit(ws: Workspace) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        with_evaluation(tuned_model("increment"), "increment-check"),
        evaluation("increment-check", NUMBERS),
    )
    applied = ws.apply()
    assert applied.returncode == 0
    assert ws.requests(GENERATE) == 3  # the gate evaluated the new model
    assert (
        "TunedModel/increment: create succeeded (ACTIVE, evaluation increment-check passed)"
        in applied.stdout
    )
    forget_answers(ws)

    first = ws.cli("eval", "--format", "json")
    sent = ws.requests(GENERATE)
    second = ws.cli("eval")

    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    [result] = report["results"]
    assert result["passed"] and result["requestsSent"] == 3 and result["answersCached"] == 0
    assert result["metrics"] == [
        {"type": "exactMatch", "threshold": 0.9, "score": 1.0, "passed": True}
    ]
    assert sent == 6
    assert second.returncode == 0, second.stderr
    assert ws.requests(GENERATE) == 6  # the rerun was answered from .reconciler/cache/
    assert "increment  increment-check  exactMatch  1.00   0.90       pass" in second.stdout
    assert "(0 requests sent, 3 cached)" in second.stdout

    junit = ws.cli("eval", "--format", "junit")
    assert junit.returncode == 0
    root = check_junit(junit.stdout)
    assert root.get("tests") == "1" and root.get("failures") == "0"


def test_a_missed_threshold_exits_2_and_shows_the_worst_examples(ws: Workspace) -> None:
    holdout = [("1", "2"), ("seven", "eight"), ("nine", "ten"), ("41", "\x1b[2Jforty-two")]
    ws.write(
        dataset("numbers", NUMBERS),
        with_evaluation(tuned_model("increment"), "increment-check"),
        evaluation("increment-check", holdout, gate=False),
    )
    applied = ws.apply()
    assert applied.returncode == 0  # gate: false only reports
    assert (
        "create succeeded (ACTIVE, evaluation increment-check below a threshold"
        " (gate: false, reported only))" in applied.stdout
    )

    result = ws.cli("eval")
    junit = ws.cli("eval", "--format", "junit")

    assert result.returncode == 2, result.stderr
    assert "exactMatch  0.50   0.90       FAIL" in result.stdout
    assert "Worst failing examples of increment (2 of 4 failed):" in result.stdout
    assert 'expected: "\\x1b[2Jforty-two"' in result.stdout  # escaped, not sent to the terminal
    assert "\x1b" not in result.stdout
    assert junit.returncode == 2
    root = check_junit(junit.stdout)
    [failure] = root.iter("failure")
    assert failure.get("message") == "exactMatch 0.50 < 0.90"


def test_answers_of_one_model_are_never_reported_as_anothers(ws: Workspace) -> None:
    # Both models answer the same prompts; their training differs, so do their answers.
    shared = [("1", "2"), ("seven", "eight")]
    ws.write(
        dataset("numbers", NUMBERS),
        dataset("doubles", [("1", "2"), ("seven", "fourteen")]),
        with_evaluation(tuned_model("increment"), "check"),
        with_evaluation(tuned_model("doubler", data="doubles"), "check"),
        evaluation("check", shared, gate=False),
    )
    assert ws.apply().returncode == 0
    forget_answers(ws)
    assert ws.cli("eval", "increment").returncode == 0

    doubler = ws.cli("eval", "doubler", "--format", "json")

    [result] = json.loads(doubler.stdout)["results"]
    assert result["requestsSent"] == 2 and result["answersCached"] == 0
    assert [e["answer"] for e in result["failingExamples"]] == ["fourteen"]
    assert doubler.returncode == 2


def test_naming_a_model_that_cannot_be_evaluated_is_an_error(ws: Workspace) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        tuned_model("plain"),
        with_evaluation(tuned_model("increment"), "increment-check"),
        evaluation("increment-check", NUMBERS),
    )

    not_created = ws.cli("eval", "increment")
    no_evaluation = ws.cli("eval", "plain")

    assert not_created.returncode == 1
    assert "TunedModel/increment cannot be evaluated: not created yet" in not_created.stderr
    assert no_evaluation.returncode == 1
    assert "Error: TunedModel/plain has no evaluation" in no_evaluation.stderr
    assert ws.requests(GENERATE) == 0


HOLDOUT_HALF_RIGHT = [("1", "2"), ("seven", "eight"), ("nine", "ten"), ("forty", "forty-one")]


def test_a_model_below_its_gate_is_marked_and_nothing_is_tuned_from_it(ws: Workspace) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        with_evaluation(tuned_model("increment"), "increment-check"),
        tuned_model("child", source="increment"),
        evaluation("increment-check", HOLDOUT_HALF_RIGHT),
    )

    first = ws.apply()

    assert first.returncode == 1
    assert (
        "TunedModel/increment: failed: evaluation increment-check below threshold: "
        "exactMatch 0.50 < 0.90" in first.stderr
    )
    assert "TunedModel/child: skipped: increment failed" in first.stderr
    assert ws.live()["increment"]["state"] == "ACTIVE" and "child" not in ws.live()
    record = ws.state_doc()["models"]["increment"]
    [(live_name, result)] = record["evaluations"].items()
    assert live_name == "tunedModels/increment"
    assert result["passed"] is False and result["examples"] == 4 and result["time"]
    assert result["metrics"] == [
        {"type": "exactMatch", "threshold": 0.9, "score": 0.5, "passed": False, "pattern": None}
    ]
    assert record["lastError"] == (
        "evaluation increment-check below threshold: exactMatch 0.50 < 0.90"
    )

    # show, inventory (a column) and the HTML report show it.
    shown = ws.cli("show", "increment")
    assert re.search(r"\n  result +below a threshold\n", shown.stdout)
    assert re.search(r"\n  exactMatch +0\.50 \(threshold 0\.90\) FAIL\n", shown.stdout)
    table = ws.cli("inventory").stdout
    assert "EVALUATION" in table and "below: exactMatch 0.50 < 0.90" in table
    html = ws.cli("inventory", "--format", "html").stdout
    assert '<td class="evaluation">below: exactMatch 0.50 &lt; 0.90</td>' in html

    # The evaluation is recorded: the next plan does not run it again, and the
    # model tuned from it is still not created.
    assert ws.kinds() == {"increment": "noop", "child": "create"}
    again = ws.apply()
    assert again.returncode == 1
    assert "source model increment is below a threshold of its evaluation" in again.stderr
    assert ws.creates() == {"increment": 1}

    # A changed evaluation is an action of its own; passing it lets the rest go on.
    ws.write(
        dataset("numbers", NUMBERS),
        with_evaluation(tuned_model("increment"), "increment-check"),
        tuned_model("child", source="increment"),
        evaluation("increment-check", HOLDOUT_HALF_RIGHT, threshold=0.5),
    )
    assert ws.kinds() == {"increment": "evaluate", "child": "create"}
    sent = ws.requests(GENERATE)
    third = ws.apply()
    assert third.returncode == 0, third.stderr
    assert "1 created, 0 updated, 0 replaced, 0 deleted, 1 evaluated" in third.stdout
    assert ws.requests(GENERATE) == sent  # the answers were cached: only the threshold changed
    assert ws.state_doc()["models"]["increment"]["lastError"] is None
    assert ws.creates() == {"increment": 1, "child": 1}
    assert ws.kinds() == {"increment": "noop", "child": "noop"}


def test_wait_gates_a_model_that_finishes_tuning_like_apply(ws: Workspace) -> None:
    ws.write(
        dataset("numbers", NUMBERS),
        with_evaluation(tuned_model("increment"), "increment-check"),
        evaluation("increment-check", HOLDOUT_HALF_RIGHT),
    )
    assert ws.apply("--no-wait").returncode == 0

    waited = ws.cli("wait", "--poll-interval", "0.05s")

    assert waited.returncode == 1
    assert (
        "TunedModel/increment: evaluation increment-check below threshold: exactMatch 0.50 < 0.90"
        in waited.stdout
    )
    record = ws.state_doc()["models"]["increment"]
    assert record["operation"] is None
    assert record["evaluations"]["tunedModels/increment"]["passed"] is False


def test_an_apply_that_evaluates_a_model_whose_tuning_ended_unfollowed_records_it_done(
    ws: Workspace,
) -> None:
    # A run that ended (--no-wait, or was killed) while the model tuned left its
    # operation in the state; the next apply finds the model ACTIVE and evaluates it.
    ws.write(
        dataset("numbers", NUMBERS),
        with_evaluation(tuned_model("increment"), "increment-check"),
        evaluation("increment-check", NUMBERS),
    )
    assert ws.apply("--no-wait").returncode == 0
    assert ws.state_doc()["models"]["increment"]["operation"] is not None
    assert ws.kinds() == {"increment": "evaluate"}

    result = ws.apply()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "evaluate succeeded" in result.stdout
    record = ws.state_doc()["models"]["increment"]
    assert record["operation"] is None
    listed = ws.cli("state", "list")
    assert "creating" not in listed.stdout, listed.stdout
    assert ws.kinds() == {"increment": "noop"}
