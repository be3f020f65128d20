"""The inventory table in a real colour terminal fits its width: no cell wraps.

Piped output keeps every column; a terminal narrows the table (drops and
clips columns) and colours the statuses. The coloured table must be fitted
exactly as the plain one is (it once was laid out by a separate path whose
cells wrapped over three or four lines at 100 and 120 columns).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.servers import ServedEmulator
from tests.support.terminal import run_in_terminal, visible

NAMES = ("french-words-translator", "batch-summariser-nightly", "support-ticket-triage")


def _create(url: str, name: str) -> None:
    body = {
        "baseModel": "models/gemini-1.5-flash-001-tuning",
        "displayName": f"A long display name for {name}"[:40],
        "tuningTask": {
            "trainingData": {"examples": {"examples": [{"textInput": "a", "output": "b"}] * 4}},
            "hyperparameters": {"epochCount": 1, "batchSize": 4, "learningRate": 0.001},
        },
    }
    response = httpx.post(
        f"{url}/v1beta/tunedModels", params={"tunedModelId": name}, json=body, timeout=10
    )
    response.raise_for_status()


@pytest.fixture
def live_models(emulator: ServedEmulator) -> ServedEmulator:
    for name in NAMES:
        _create(emulator.url, name)
    return emulator


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_colour_table_fits_the_terminal(
    live_models: ServedEmulator, tmp_path: Path, columns: int
) -> None:
    code, output = run_in_terminal(
        "--state",
        str(tmp_path / "state.json"),
        "inventory",
        columns=columns,
        env={"RECONCILER_ENDPOINT": live_models.url},
        cwd=tmp_path,
    )
    assert code == 0, output
    assert "\x1b[" in output  # the coloured path, as a user's terminal gets it
    table = visible(output).split("\n\n")[0].splitlines()
    assert max(len(line) for line in table) <= columns
    assert table[0].split()[:2] == ["NAME", "STATUS"]
    # One line per model, each starting with its whole name: nothing wrapped.
    assert [line.split()[:2] for line in table[1:]] == [
        [f"tunedModels/{name}", "unmanaged"] for name in sorted(NAMES)
    ]
    assert visible(output).rstrip().endswith("3 models: 3 unmanaged")
