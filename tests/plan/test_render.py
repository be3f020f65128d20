"""The three renderings of a plan: Terraform-like text, PRODUCT.md JSON, pull-request markdown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.plan import Plan, make_plan
from reconciler.render.plan import render_plan_json, render_plan_markdown, render_plan_text
from tests.plan.cases import CASES_DIR, case_inputs, load_case

REPRESENTATIVE: dict[str, Any] = {
    "manifests": [
        {"name": "new-a"},
        {"name": "b-recreated"},
        {"name": "increment", "displayName": "Increment"},
        {"name": "steady"},
    ],
    "live": [
        {"id": "increment", "display_name": "Old"},
        {"id": "steady"},
        {"id": "removed"},
    ],
    "state": {
        "lineage": "3f1c0d2e-0000-4000-8000-00000000abcd",
        "serial": 7,
        "models": {
            "b-recreated": {"applied": {}},
            "increment": {"applied": {}},
            "steady": {"applied": {}},
            "removed": {"applied": {}},
        },
    },
}

EXPECTED_TEXT = """\
The reconciler will perform the following actions:

  - delete TunedModel/removed
      # removed from the manifests

  + recreate TunedModel/b-recreated
      # deleted outside the reconciler
      base model: models/gemini-1.5-flash-001-tuning
      hyperparameters: service defaults
      training data: b-recreated-data, 10 examples
      estimated tuning steps: 13

  ~ update in-place TunedModel/increment
      displayName: "Old" -> "Increment"
      # updateMask: displayName

  + create TunedModel/new-a
      # new in the manifests
      base model: models/gemini-1.5-flash-001-tuning
      hyperparameters: service defaults
      training data: new-a-data, 10 examples
      estimated tuning steps: 13

1 unchanged model not shown (--show-unchanged lists them)

Plan: 2 to create, 1 to update, 0 to replace, 1 to delete.
"""


@pytest.fixture
def plan() -> Plan:
    return make_plan(**case_inputs(REPRESENTATIVE))


def test_text_reads_like_terraform(plan: Plan) -> None:
    assert render_plan_text(plan, color=False) == EXPECTED_TEXT


def test_text_lists_unchanged_models_only_when_asked(plan: Plan) -> None:
    shown = render_plan_text(plan, color=False, show_unchanged=True)
    assert "    noop TunedModel/steady\n" in shown
    assert "unchanged model not shown" not in shown
    assert "noop" not in render_plan_text(plan, color=False)


def test_text_shows_what_a_create_will_create() -> None:
    case = {
        "manifests": [
            {
                "name": "child",
                "dependsOn": "parent",
                "displayName": "Child \x1b[31m",
                "hyperparameters": {"epochCount": 3, "learningRate": 0.0005},
            },
            {"name": "parent"},
        ],
    }
    text = render_plan_text(make_plan(**case_inputs(case)), color=False)
    assert (
        "  + create TunedModel/child\n"
        "      # new in the manifests\n"
        "      tuned from: tunedModels/parent\n"
        '      display name: "Child \\u001b[31m"\n'
        "      hyperparameters: epochCount 3, learningRate 0.0005\n"
    ) in text
    assert "      base model: models/gemini-1.5-flash-001-tuning\n" in text


def test_text_colours_only_when_asked(plan: Plan) -> None:
    coloured = render_plan_text(plan, color=True)
    assert "\x1b[32m+ create\x1b[0m TunedModel/new-a" in coloured
    assert "\x1b[31m- delete\x1b[0m TunedModel/removed" in coloured
    assert "\x1b" not in render_plan_text(plan, color=False)


def test_text_marks_what_forces_replacement_and_why() -> None:
    case = {
        "manifests": [
            {"name": "increment", "displayName": "New", "hyperparameters": {"epochCount": 20}}
        ],
        "live": [{"id": "increment", "display_name": "Old"}],
        "state": {"models": {"increment": {"applied": {"hyperparameters": {"epochCount": 5}}}}},
    }
    text = render_plan_text(make_plan(**case_inputs(case)), color=False)
    assert "  -/+ replace TunedModel/increment\n" in text
    assert "      tuningTask.hyperparameters.epochCount: 5 -> 20  # forces replacement\n" in text
    assert '      displayName: "Old" -> "New"\n' in text
    assert "      # replaced because: hyperparameter epochCount changed\n" in text
    assert "      estimated tuning steps: 50\n" in text
    assert text.endswith("Plan: 0 to create, 0 to update, 1 to replace, 0 to delete.\n")


def test_text_without_changes_says_so() -> None:
    case = {
        "manifests": [{"name": "steady"}],
        "live": [{"id": "steady"}],
        "state": {"models": {"steady": {"applied": {}}}},
    }
    text = render_plan_text(make_plan(**case_inputs(case)), color=False)
    assert text == (
        "1 unchanged model not shown (--show-unchanged lists them)\n\n"
        "No changes. Live models match the manifests.\n"
    )
    empty = render_plan_text(make_plan(**case_inputs({})), color=False)
    assert empty == "No changes. Live models match the manifests.\n"


def test_text_counts_waits_and_shows_notes() -> None:
    case = {
        "manifests": [{"name": "tuning"}],
        "live": [{"id": "tuning", "state": "CREATING"}],
        "state": {"models": {"tuning": {"applied": None, "pendingCreate": {}}}},
    }
    text = render_plan_text(make_plan(**case_inputs(case)), color=False)
    assert "  … wait TunedModel/tuning\n      # tuning in progress\n" in text
    assert "      note: adopting an interrupted create\n" in text
    assert text.endswith("Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 1 to wait.\n")


def test_text_refresh_only_reports_drift() -> None:
    case = {
        "manifests": [{"name": "gone"}],
        "state": {"models": {"gone": {"applied": {}}}},
        "options": {"refreshOnly": True},
    }
    text = render_plan_text(make_plan(**case_inputs(case)), color=False)
    assert text.startswith(
        "Changes outside the reconciler (refresh-only: nothing will be changed):\n"
    )
    assert text.endswith("Drift: 1 model changed outside the reconciler.\n")


def test_refresh_only_names_what_was_found_not_an_action() -> None:
    case = load_case(CASES_DIR / "refresh-only-reports-drift.yaml")
    plan = make_plan(**case_inputs(case))

    text = render_plan_text(plan, color=False)
    markdown = render_plan_markdown(plan)

    assert "  - deleted outside TunedModel/a-deleted\n" in text
    assert "  ! failed TunedModel/b-failed\n" in text
    assert "  ~ changed outside TunedModel/c-edited\n" in text
    assert "update in-place" not in text and "replace" not in text.split("Drift:")[0]
    assert "<code>~ changed outside</code> <b>TunedModel/c-edited</b>" in markdown
    assert "estimated tuning steps" not in text + markdown and "updateMask" not in markdown
    assert json.loads(render_plan_json(plan))["actions"][2]["action"] == "update"  # JSON unchanged


def test_json_has_the_product_shape(plan: Plan) -> None:
    doc = json.loads(render_plan_json(plan))
    assert set(doc) == {"formatVersion", "refreshOnly", "summary", "actions", "state", "backend"}
    assert doc["backend"] == {"type": "gemini", "target": ""}
    assert doc["formatVersion"] == 1
    assert doc["summary"] == {
        "create": 1,
        "update": 1,
        "replace": 0,
        "recreate": 1,
        "delete": 1,
        "wait": 0,
        "evaluate": 0,
        "noop": 1,
    }
    assert doc["state"] == {"lineage": "3f1c0d2e-0000-4000-8000-00000000abcd", "serial": 7}
    update = next(a for a in doc["actions"] if a["action"] == "update")
    assert update == {
        "address": "TunedModel/increment",
        "name": "tunedModels/increment",
        "action": "update",
        "updateMask": ["displayName"],
        "changes": [{"path": "displayName", "before": "Old", "after": "Increment"}],
        "reasons": ["displayName changed"],
    }
    assert [a["address"] for a in doc["actions"]] == [
        "TunedModel/removed",
        "TunedModel/b-recreated",
        "TunedModel/increment",
        "TunedModel/new-a",
        "TunedModel/steady",
    ]
    for action in doc["actions"]:
        assert {"address", "name", "action", "changes", "reasons"} <= set(action)
        assert ("updateMask" in action) == (action["action"] == "update")
    create = next(a for a in doc["actions"] if a["action"] == "create")
    assert create["estimatedSteps"] == 13


def test_json_round_trips(plan: Plan) -> None:
    text = render_plan_json(plan)
    assert json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n" == text


def test_markdown_puts_the_summary_first_and_details_per_model(plan: Plan) -> None:
    markdown = render_plan_markdown(plan)
    lines = markdown.splitlines()
    assert lines[0] == "### reconciler plan"
    assert lines[2] == "**Plan: 2 to create, 1 to update, 0 to replace, 1 to delete.**"
    assert markdown.index("| action | count |") < markdown.index("<details>")
    assert "| delete | 1 |" in markdown
    assert markdown.count("<details>") == 5  # four changing models + one block of unchanged ones
    assert markdown.count("</details>") == 5
    assert "- training data: new-a-data, 10 examples" in markdown  # as in the text form
    assert (
        "<summary><code>~ update in-place</code> <b>TunedModel/increment</b></summary>" in markdown
    )
    assert (
        "| <code>displayName</code> | <code>&quot;Old&quot;</code> | <code>&quot;Increment&quot;</code> |"
        in markdown
    )
    assert "<details><summary>1 unchanged</summary>" in markdown


def test_markdown_escapes_pipes_and_html() -> None:
    case = {
        "manifests": [{"name": "increment", "description": "a | b <script>"}],
        "live": [{"id": "increment", "description": "old"}],
        "state": {"models": {"increment": {"applied": {}}}},
    }
    markdown = render_plan_markdown(make_plan(**case_inputs(case)))
    assert "<script>" not in markdown
    assert "a &#124; b &lt;script&gt;" in markdown
