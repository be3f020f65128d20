"""inventory and show on a Vertex AI state: pointed at another backend they refuse it
rather than call every managed model deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.vertex_workspace import VertexWorkspace, vertex_model
from tests.e2e.workspace import NUMBERS, dataset
from tests.support.servers import ServedEmulator


@pytest.fixture
def vws(tmp_path: Path, emulator: ServedEmulator) -> VertexWorkspace:
    return VertexWorkspace(root=tmp_path, emulator=emulator)


def test_inventory_and_show_refuse_a_vertex_state_when_pointed_at_the_gemini_api(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))
    assert vws.apply().returncode == 0

    # Without the Backend document (another directory, a forgotten variable)
    # the models would all look deleted: refused, naming both targets.
    for command in (("inventory",), ("show", "alpha")):
        result = vws.cli("--backend", "gemini", *command)
        assert result.returncode == 1, result.stdout
        assert "records models of the vertex API, not gemini" in result.stderr
        assert "missing" not in result.stdout
    assert vws.cli("inventory").returncode == 0


def test_show_of_a_managed_job_by_its_resource_name_is_the_managed_model(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))
    assert vws.apply().returncode == 0
    job = vws.job_of("alpha")

    result = vws.cli("show", job["name"], "--format", "json")

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["name"] == vws.state_doc()["models"]["alpha"]["name"]
    assert shown["status"] == "managed"
    assert shown["address"] == "TunedModel/alpha"


def test_show_of_a_vertex_model_has_its_job_times_and_no_gemini_only_fields(
    vws: VertexWorkspace,
) -> None:
    vws.write(dataset("numbers", NUMBERS), vertex_model("alpha"))
    assert vws.apply().returncode == 0
    job = vws.job_of("alpha")

    result = vws.cli("show", "alpha")

    assert result.returncode == 0, result.stderr
    fields = {
        line.split(None, 2)[0] + " " + line.split(None, 2)[1]: line
        for line in result.stdout.splitlines()
        if line.startswith("  tuning ")
    }
    assert fields["tuning started"].split()[-1] != "-", result.stdout
    assert fields["tuning completed"].split()[-1] != "-", result.stdout
    assert f"job       {job['name']}" in result.stdout
    assert f"endpoint  {job['tunedModel']['endpoint']}" in result.stdout
    for gemini_only in ("temperature", "topP", "topK", "readers"):
        assert f"  {gemini_only} " not in result.stdout
    assert "none on a Vertex AI tuning job" in result.stdout
