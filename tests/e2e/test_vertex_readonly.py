"""inventory and show on a Vertex AI state: pointed at another backend they refuse it
rather than call every managed model deleted."""

from __future__ import annotations

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
