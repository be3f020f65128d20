"""`plan --lock=false` plans while a writer holds the lock (as Terraform's -lock=false)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import ServedEmulator


def test_plan_with_lock_false_does_not_wait_for_a_held_lock(
    tmp_path: Path, emulator: ServedEmulator, start_holder: Any
) -> None:
    ws = Workspace(root=tmp_path, emulator=emulator)
    ws.write(dataset("numbers", NUMBERS), tuned_model("adder"))
    holder = start_holder(ws.state, "apply")  # e.g. an apply waiting at its prompt
    try:
        locked = ws.cli("plan")
        assert locked.returncode == 1
        assert "locked by pid" in locked.stderr

        unlocked = ws.cli("plan", "--lock=false")
        assert unlocked.returncode == 0, unlocked.stderr
        assert "+ create TunedModel/adder" in unlocked.stdout
        assert ws.cli("plan", "--lock", "false").returncode == 0
        assert holder.send("check") == {"held": True}  # the writer's lock is untouched
    finally:
        assert holder.finish() == 0
