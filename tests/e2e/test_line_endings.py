"""A Windows checkout (git's autocrlf) must not re-tune a model: line endings inside values are canonical."""

from __future__ import annotations

import json

from tests.e2e.workspace import Workspace, tuned_model

CSV = 'textInput,output\n"Dear team,\nthanks for the report",Short reply\nping,"pong\nand more"\n'


def test_crlf_in_a_multiline_csv_field_plans_no_replace(ws: Workspace) -> None:
    data = ws.root / "manifests" / "data"
    data.mkdir()
    (data / "notes.csv").write_bytes(CSV.encode())
    dataset = {
        "apiVersion": "gemini.tuning/v1",
        "kind": "Dataset",
        "metadata": {"name": "notes"},
        "spec": {"file": "data/notes.csv"},
    }
    ws.write(dataset, tuned_model("notes", data="notes"))
    assert ws.apply().returncode == 0

    # What a checkout with core.autocrlf=true writes: CRLF everywhere,
    # including inside the quoted multi-line fields.
    (data / "notes.csv").write_bytes(CSV.replace("\n", "\r\n").encode())

    assert ws.kinds() == {"notes": "noop"}
    result = ws.cli("validate", "--format", "json")
    stats = json.loads(result.stdout)["summary"]["datasetStats"]
    assert [s["hash"] for s in stats] == [
        ws.state_doc()["models"]["notes"]["applied"]["dataset"]["hash"]
    ]
