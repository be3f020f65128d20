"""`reconciler show` against a served emulator: text, JSON, and plotted loss curves."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.inventory.scenario import SLOW_TOTAL_STEPS, Project
from tests.support.servers import run_cli

SVG = "{http://www.w3.org/2000/svg}"


def _show(project: Project, *args: str) -> str:
    result = run_cli(*project.cli_args("show", *args))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_text_has_fields_hyperparameters_operation_snapshots_and_a_chart(project: Project) -> None:
    text = _show(project, "steady")
    assert text.startswith("tunedModels/steady  (TunedModel/steady)\n")
    for line in (
        "  status            managed",
        "  state             ACTIVE",
        "  display name      Steady",
        "  base model        models/gemini-1.5-flash-001-tuning",
        "  epochCount    5",
        "  batchSize     4",
        "  progress  done, 19/19 steps (100%)",
        "Tuning snapshots (19)",
    ):
        assert line in text.splitlines(), line
    lines = text.splitlines()
    table_start = lines.index("Tuning snapshots (19)") + 1
    assert lines[table_start].split() == ["STEP", "EPOCH", "MEAN", "LOSS", "COMPUTE", "TIME"]
    snapshot_rows = [row.split() for row in lines[table_start + 1 : table_start + 20]]
    assert [int(r[0]) for r in snapshot_rows] == list(range(1, 20))
    assert [int(r[1]) for r in snapshot_rows][:6] == [1, 1, 1, 1, 2, 2]
    chart = text[text.index("Loss curve") :]
    assert "mean loss" in chart and "step" in chart
    assert "┴" in chart  # epoch boundaries marked on the x axis
    assert "epoch 2 at step 5" in chart  # 15 examples / batch 4: epoch 2 starts at step 5
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in chart)  # the braille line itself


def test_in_flight_model_shows_its_recorded_operation(project: Project) -> None:
    text = _show(project, "tunedModels/slow")
    assert "  state             CREATING" in text
    progress = next(line for line in text.splitlines() if line.startswith("  progress"))
    assert progress.startswith("  progress  running, ")
    assert f"/{SLOW_TOTAL_STEPS} steps (" in progress


def test_unmanaged_model_by_id(project: Project) -> None:
    text = _show(project, "stranger")
    assert text.startswith("tunedModels/stranger  (not managed)\n")
    assert "  status            unmanaged" in text


def test_drift_is_named(project: Project) -> None:
    assert "  status            drifted -- drift: displayName" in _show(project, "renamed")


def test_json_document(project: Project) -> None:
    document = json.loads(_show(project, "renamed", "--format", "json"))
    assert document["name"] == "tunedModels/renamed"
    assert document["address"] == "TunedModel/renamed"
    assert document["status"] == "drifted"
    assert document["drift"] == ["displayName"]
    assert document["model"]["displayName"] == "Renamed by hand"
    assert document["model"]["tuningTask"]["hyperparameters"]["epochCount"] == 5
    assert document["operation"]["done"] is True
    assert document["operation"]["totalSteps"] == 19
    assert [s["step"] for s in document["snapshots"]] == list(range(1, 20))
    assert all(isinstance(s["meanLoss"], float) for s in document["snapshots"])


def test_failed_model_shows_the_operation_error(project: Project) -> None:
    document = json.loads(_show(project, "broken", "--format", "json"))
    assert document["status"] == "failed"
    assert document["model"]["state"] == "FAILED"
    assert document["operation"]["error"]["message"]


def test_plot_svg_is_a_drawn_chart(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "curve.svg"
    _show(project, "steady", "--plot", str(out))
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    paths = root.iter(f"{SVG}path")
    assert any(len(p.get("d", "")) > 50 for p in paths)  # the curve, not just a tick
    labels = {t.text for t in root.iter(f"{SVG}text")}
    assert {"step", "mean loss"} <= labels
    assert any(label and label.endswith("loss per step") for label in labels)  # the title


def test_plot_png(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "curve.png"
    _show(project, "steady", "--plot", str(out))
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_plot_of_an_unknown_type_fails_before_any_request(project: Project, tmp_path: Path) -> None:
    result = run_cli(*project.cli_args("show", "steady", "--plot", str(tmp_path / "c.jpg")))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: cannot plot to c.jpg: unknown image type .jpg",
        "hint: use a file name ending in .svg or .png",
    ]


def test_a_managed_model_deleted_out_of_band(project: Project) -> None:
    result = run_cli(*project.cli_args("show", "gone"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ") and "tunedModels/gone" in lines[0]
    assert lines[1] == (
        "hint: TunedModel/gone is in the state but was deleted outside the reconciler; "
        "`reconciler plan` will recreate it"
    )


def test_an_invalid_name_is_refused_before_any_request(project: Project) -> None:
    before = project.emulator.stats()["total"]
    result = run_cli(*project.cli_args("show", "Steady_"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: 'Steady_' is not a tuned model name",
        "hint: give a manifest name or tunedModels/ID, where the id is 1-40 lower-case letters, "
        "digits and '-' ([a-z]([a-z0-9-]{0,38}[a-z0-9])?); did you mean `steady`?",
    ]
    assert project.emulator.stats()["total"] == before


def test_an_invalid_live_id_is_refused_too(project: Project) -> None:
    result = run_cli(*project.cli_args("show", "tunedModels/9lives"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: 'tunedModels/9lives' is not a tuned model name\n")


def test_plot_into_a_missing_directory_creates_it_and_says_so(
    project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "plots" / "loss" / "curve.svg"
    result = run_cli(*project.cli_args("show", "steady", "--plot", str(out)))
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    assert result.stderr.splitlines()[-1] == (
        f"Wrote the loss curve to {out} (created {tmp_path / 'plots'})"
    )
    again = run_cli(*project.cli_args("show", "steady", "--plot", str(out)))
    assert again.stderr.splitlines()[-1] == f"Wrote the loss curve to {out}"
