"""`reconciler inventory` against a served emulator, with changes made out of band."""

from __future__ import annotations

import csv
import io
import json

from tests.inventory.scenario import (
    EXPECTED_STATUS,
    FAILED_ERROR,
    SLOW_TOTAL_STEPS,
    Project,
)
from tests.support.servers import run_cli


def _inventory(project: Project, *args: str) -> str:
    result = run_cli(*project.cli_args("inventory", *args))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_json_classifies_every_model(project: Project) -> None:
    document = json.loads(_inventory(project, "--format", "json"))

    assert document["formatVersion"] == 1
    assert document["filter"] is None
    by_name = {m["name"]: m for m in document["models"]}
    assert {name: m["status"] for name, m in by_name.items()} == EXPECTED_STATUS
    assert [m["name"] for m in document["models"]] == sorted(EXPECTED_STATUS)

    assert by_name["tunedModels/steady"]["address"] == "TunedModel/steady"
    assert by_name["tunedModels/steady"]["drift"] == []
    assert by_name["tunedModels/steady"]["source"] == "models/gemini-1.5-flash-001-tuning"
    assert by_name["tunedModels/steady"]["state"] == "ACTIVE"
    assert by_name["tunedModels/steady"]["snapshotCount"] == 19  # ceil(15 x 5 / 4)

    renamed = by_name["tunedModels/renamed"]
    assert renamed["drift"] == ["displayName"]
    assert renamed["displayName"] == "Renamed by hand"

    slow = by_name["tunedModels/slow"]
    assert slow["state"] == "CREATING"
    assert slow["progress"]["totalSteps"] == SLOW_TOTAL_STEPS
    assert 1 <= slow["progress"]["completedSteps"] < SLOW_TOTAL_STEPS
    expected = round(100 * slow["progress"]["completedSteps"] / SLOW_TOTAL_STEPS, 1)
    assert slow["progress"]["percent"] == expected

    assert by_name["tunedModels/broken"]["state"] == "FAILED"
    assert by_name["tunedModels/broken"]["error"] == FAILED_ERROR

    assert by_name["tunedModels/stranger"]["address"] is None
    gone = by_name["tunedModels/gone"]
    assert gone["state"] is None
    assert gone["address"] == "TunedModel/gone"
    assert gone["displayName"] == "Gone"

    assert document["totals"] == {
        "managed": 1,
        "drifted": 1,
        "in-flight": 1,
        "failed": 1,
        "unmanaged": 1,
        "missing": 1,
        "total": 6,
    }


def test_inventory_lists_the_project_in_one_request(project: Project) -> None:
    before = project.emulator.stats()["requests"]
    _inventory(project, "--format", "json")
    after = project.emulator.stats()["requests"]
    assert isinstance(before, dict) and isinstance(after, dict)
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert grown == {"GET /v1beta/tunedModels": 1}


def test_csv_has_a_stable_header_and_one_row_per_model(project: Project) -> None:
    text = _inventory(project, "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "name",
        "status",
        "address",
        "source",
        "state",
        "createTime",
        "updateTime",
        "displayName",
        "drift",
        "completedSteps",
        "totalSteps",
        "percent",
        "error",
        "evaluation",
    ]
    records = {r["name"]: r for r in csv.DictReader(io.StringIO(text))}
    assert {name: r["status"] for name, r in records.items()} == EXPECTED_STATUS
    assert records["tunedModels/renamed"]["drift"] == "displayName"
    assert records["tunedModels/slow"]["totalSteps"] == str(SLOW_TOTAL_STEPS)
    assert records["tunedModels/broken"]["error"] == FAILED_ERROR
    assert records["tunedModels/gone"]["state"] == ""


def test_markdown_table_with_totals(project: Project) -> None:
    lines = _inventory(project, "--format", "markdown").splitlines()
    assert lines[0].startswith("| Name | Status | Address |")
    assert set(lines[1]) <= {"|", "-"}
    body = [line for line in lines[2:] if line.startswith("| `tunedModels/")]
    assert len(body) == 6
    assert any("`tunedModels/renamed`" in line and "**drifted**" in line for line in body)
    assert any("drift: displayName" in line for line in body)
    assert lines[-1] == (
        "**Totals:** 6 models: 1 managed, 1 drifted, 1 in-flight, 1 failed, 1 unmanaged, 1 missing"
    )


def test_plain_table_without_a_terminal(project: Project) -> None:
    result = run_cli(*project.cli_args("inventory"), env={"COLUMNS": ""})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "\x1b[" not in text  # no colour codes without a TTY
    header, *rest = text.splitlines()
    assert header.split() == [
        "NAME", "STATUS", "ADDRESS", "SOURCE", "STATE", "CREATED", "UPDATED", "DISPLAY", "NAME", "DETAIL"
    ]  # fmt: skip
    status_column = header.index("STATUS")
    rows = [line for line in rest if line.startswith("tunedModels/")]
    assert {line.split()[0]: line[status_column:].split()[0] for line in rows} == EXPECTED_STATUS
    assert any("drift: displayName" in line for line in rows)
    assert any(line.startswith("tunedModels/slow") and "% (step " in line for line in rows)
    assert (
        rest[-1] == "6 models: 1 managed, 1 drifted, 1 in-flight, 1 failed, 1 unmanaged, 1 missing"
    )


def test_plain_table_fits_the_width_columns_gives(project: Project) -> None:
    result = run_cli(*project.cli_args("inventory"), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    header, *rest = result.stdout.splitlines()
    table = [header] + [line for line in rest if line.startswith("tunedModels/")]
    assert max(len(line) for line in table) <= 80
    assert "UPDATED" not in header and "CREATED" not in header  # the first to go
    assert header.split()[:2] == ["NAME", "STATUS"]
    status_column = header.index("STATUS")
    assert {line.split()[0]: line[status_column:].split()[0] for line in table[1:]} == (
        EXPECTED_STATUS
    )
    assert any("\u2026" in line for line in table[1:])  # shortened cells say so


def test_piped_plain_table_without_columns_keeps_every_column_in_full(project: Project) -> None:
    result = run_cli(*project.cli_args("inventory"), env={"COLUMNS": ""})
    assert result.returncode == 0, result.stderr
    assert "UPDATED" in result.stdout.splitlines()[0]
    assert "models/gemini-1.5-flash-001-tuning" in result.stdout
    assert "\u2026" not in result.stdout


def test_filter_is_passed_to_the_api_and_hides_missing_models(project: Project) -> None:
    document = json.loads(_inventory(project, "--format", "json", "--filter", "Steady"))
    assert document["filter"] == "Steady"
    assert [(m["name"], m["status"]) for m in document["models"]] == [
        ("tunedModels/steady", "managed")
    ]
    assert document["totals"] == {
        "managed": 1, "drifted": 0, "in-flight": 0, "failed": 0, "unmanaged": 0, "missing": 0,
        "total": 1,
    }  # fmt: skip


def test_filtered_totals_line_names_only_the_statuses_present(project: Project) -> None:
    lines = _inventory(project, "--filter", "Steady").splitlines()
    assert lines[-1] == (
        "1 model: 1 managed (filter 'Steady'; missing models are not listed when filtering)"
    )
    markdown = _inventory(project, "--format", "markdown", "--filter", "Steady")
    assert markdown.splitlines()[-1].startswith("**Totals:** 1 model: 1 managed (filter")


def test_an_unreadable_state_is_one_error_line_and_exit_1(project: Project) -> None:
    broken = project.state_path.with_name("broken.json")
    broken.write_text("{not json", encoding="utf-8")
    result = run_cli(
        "--endpoint", project.emulator.url, "--state", str(broken), "inventory"
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "broken.json" in result.stderr


def test_filter_matches_model_ids_too(project: Project) -> None:
    """The API filters display names and descriptions; an id is matched as well."""
    document = json.loads(_inventory(project, "--format", "json", "--filter", "tunedModels/strang"))
    assert [(m["name"], m["status"]) for m in document["models"]] == [
        ("tunedModels/stranger", "unmanaged")
    ]
