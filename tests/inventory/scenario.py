"""A project with one model of every inventory status, made on a served emulator.

Built the way it happens in real life: models created through the API, a
state document as an apply would have written it, then changes made behind
the reconciler's back with plain API calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.applied import ModelRecord
from tests.inventory import api
from tests.support.servers import ServedEmulator

# The in-flight model: 240 examples x 5 epochs / batch 4 = 300 steps of an hour
# each; the emulator's clock is moved one step on, so it has reported a step and
# stays CREATING however long the tests take.
SLOW_EXAMPLES = 240
SLOW_TOTAL_STEPS = 300
SLOW_STEP_SECONDS = 3600.0
FAILED_ERROR = "tuning failed: loss diverged (code 13)"

EXPECTED_STATUS = {
    "tunedModels/steady": "managed",
    "tunedModels/renamed": "drifted",
    "tunedModels/slow": "in-flight",
    "tunedModels/broken": "failed",
    "tunedModels/stranger": "unmanaged",
    "tunedModels/gone": "missing",
}


@dataclass(frozen=True)
class Project:
    emulator: ServedEmulator
    state_path: Path

    def cli_args(self, *args: str) -> list[str]:
        return ["--endpoint", self.emulator.url, "--state", str(self.state_path), *args]


def build_project(emulator: ServedEmulator, state_path: Path) -> Project:
    url = emulator.url
    emulator.reset()
    emulator.configure(latencyMs=0, faultRate=0.0, stepSeconds=0.0, tuningFailRate=0.0)
    for model_id, display in (
        ("steady", "Steady"),
        ("renamed", "Renamed"),
        ("gone", "Gone"),
        ("stranger", "Stranger"),
    ):
        api.create_model(url, model_id, display_name=display)
    emulator.configure(tuningFailRate=1.0)
    broken_op = api.create_model(url, "broken", display_name="Broken")
    emulator.configure(tuningFailRate=0.0, stepSeconds=SLOW_STEP_SECONDS)
    slow_op = api.create_model(url, "slow", display_name="Slow", examples=SLOW_EXAMPLES)
    emulator.configure(stepSeconds=0.0)

    records = {
        name: ModelRecord(name=f"tunedModels/{name}", applied=api.applied_spec(display))
        for name, display in (("steady", "Steady"), ("renamed", "Renamed"), ("gone", "Gone"))
    }
    records["broken"] = ModelRecord(
        name="tunedModels/broken",
        applied=api.applied_spec("Broken"),
        operation=str(broken_op["name"]),
        lastError=FAILED_ERROR,
    )
    records["slow"] = ModelRecord(
        name="tunedModels/slow",
        applied=api.applied_spec("Slow", examples=SLOW_EXAMPLES),
        operation=str(slow_op["name"]),
    )
    api.write_state(state_path, records)

    # Behind the reconciler's back:
    api.patch_display_name(url, "renamed", "Renamed by hand")
    api.delete_model(url, "gone")
    emulator.advance(SLOW_STEP_SECONDS)
    task = api.get_model(url, "slow")["tuningTask"]
    assert isinstance(task, dict) and len(task["snapshots"]) == 1
    return Project(emulator=emulator, state_path=state_path)
