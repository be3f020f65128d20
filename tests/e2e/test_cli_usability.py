"""Small things a user meets: destroy without manifests, suggestions for typos, help texts."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import run_cli


def test_destroy_needs_no_manifests_directory(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"), tuned_model("beta"))
    assert ws.apply().returncode == 0
    shutil.rmtree(ws.root / "manifests")

    result = ws.cli("destroy", "--auto-approve")

    assert result.returncode == 0, result.stderr
    assert "2 deleted" in result.stdout
    assert ws.live() == {}
    assert ws.state_doc()["models"] == {}


def test_destroy_keeps_the_protection_of_manifests_given(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("keeper", prevent_destroy=True))
    assert ws.apply().returncode == 0
    result = ws.cli("destroy", "--auto-approve")
    assert result.returncode == 1
    assert "lifecycle.preventDestroy forbids destroying keeper" in result.stderr
    assert set(ws.live()) == {"keeper"}


def test_a_mistyped_command_gets_a_suggestion() -> None:
    result = run_cli("inventroy")
    assert result.returncode == 2
    assert "Error: No such command 'inventroy'. Did you mean 'inventory'?" in result.stderr
    unknown = run_cli("frobnicate")
    assert "Error: No such command 'frobnicate'." in unknown.stderr
    assert "Did you mean" not in unknown.stderr


def test_show_suggests_a_managed_model_for_a_typo(ws: Workspace) -> None:
    ws.write(dataset("numbers", NUMBERS), tuned_model("increment"))
    assert ws.apply().returncode == 0

    result = ws.cli("show", "incremnt")

    assert result.returncode == 1
    assert "hint: did you mean `increment`?" in result.stderr


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("apply", ("--target", "--replace")),
        ("destroy", ("--target",)),
        ("plan", ("--target", "--replace")),
    ],
)
def test_target_and_replace_are_explained_in_help(command: str, options: tuple[str, ...]) -> None:
    text = run_cli(command, "--help").stdout
    for option in options:
        line = next(line for line in text.splitlines() if line.strip().startswith(option))
        assert len(line.split(maxsplit=2)) == 3, f"{command} {option} has no help: {line!r}"
