"""A symbolic link where the state, its lock, its backup or its directory should be is refused.

A committed state directory lets a pull request add such links; following them
would overwrite files outside the repository (even ``plan`` takes the lock) or
replace a linked state with a regular file, orphaning the models it records.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.workspace import Workspace, dataset, tuned_model

NUMBERS = [("1", "2"), ("seven", "eight")]


def setup(ws: Workspace) -> Path:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    outside = ws.root.parent / f"{ws.root.name}-outside"
    outside.mkdir()
    return outside


def test_a_linked_lock_file_is_refused_and_its_target_untouched(ws: Workspace) -> None:
    outside = setup(ws)
    target = outside / "precious.txt"
    target.write_text("keep me\n")
    state_dir = Path(ws.state).parent
    state_dir.mkdir()
    os.symlink(target, state_dir / "state.json.lock")
    for command in (("plan",), ("apply", "--auto-approve")):
        result = ws.cli(*command)
        assert result.returncode != 0, command
        assert (
            f"state lock file {state_dir / 'state.json.lock'} is a symbolic link" in result.stderr
        )
        assert "Traceback" not in result.stderr
    assert target.read_text() == "keep me\n"
    assert (state_dir / "state.json.lock").is_symlink()
    assert ws.live() == {}


def test_a_linked_state_file_is_neither_followed_nor_replaced(ws: Workspace) -> None:
    outside = setup(ws)
    real = ws.root / "real-state"
    assert ws.apply().returncode == 0
    Path(ws.state).parent.rename(real)
    state_dir = Path(ws.state).parent
    state_dir.mkdir()
    os.symlink(outside / "state.json", state_dir / "state.json")
    (outside / "state.json").write_bytes((real / "state.json").read_bytes())
    before = (outside / "state.json").read_bytes()
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))
    for command in (("plan",), ("apply", "--auto-approve"), ("state", "list")):
        result = ws.cli(*command)
        assert result.returncode != 0, command
        assert f"state file {state_dir / 'state.json'} is a symbolic link" in result.stderr
    assert (state_dir / "state.json").is_symlink()
    assert (outside / "state.json").read_bytes() == before
    assert sorted(ws.live()) == ["alpha"]


def test_a_linked_backup_is_refused_before_any_change(ws: Workspace) -> None:
    outside = setup(ws)
    assert ws.apply().returncode == 0
    target = outside / "precious.txt"
    target.write_text("keep me\n")
    backup = Path(ws.state).with_name("state.json.backup")
    backup.unlink(missing_ok=True)
    os.symlink(target, backup)
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))
    result = ws.apply()
    assert result.returncode != 0
    assert f"state backup {backup} is a symbolic link" in result.stderr
    assert target.read_text() == "keep me\n" and backup.is_symlink()
    assert sorted(ws.live()) == ["alpha"]


def test_a_state_directory_linked_outside_is_refused_one_beside_it_is_used(ws: Workspace) -> None:
    outside = setup(ws)
    state_dir = Path(ws.state).parent
    os.symlink(outside, state_dir)
    result = ws.cli("plan")
    assert result.returncode != 0
    assert f"state directory {state_dir} is a symbolic link to {outside}" in result.stderr
    assert ws.apply().returncode != 0
    assert list(outside.iterdir()) == [] and ws.live() == {}
    state_dir.unlink()
    (ws.root / "state-store").mkdir()
    os.symlink("state-store", state_dir)
    assert ws.apply().returncode == 0
    assert (ws.root / "state-store" / "state.json").is_file()
    assert sorted(ws.live()) == ["alpha"]
