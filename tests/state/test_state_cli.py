"""`reconciler state ...` and `reconciler force-unlock` as a user runs them, on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.spec import AppliedSpec, DatasetRef
from reconciler.state import open_backend
from tests.support.postgres import PostgresServer
from tests.support.servers import run_cli

SPEC = AppliedSpec(
    baseModel="models/gemini-1.5-flash-001-tuning",
    dataset=DatasetRef(name="increment-examples", hash="sha256:0a1b", examples=2),
)


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / ".reconciler" / "state.json")
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.unique_uri()


def seed(location: str) -> StateDocument:
    backend = open_backend(location)
    try:
        with backend.lock(command="apply"):
            doc = backend.read()
            models = {
                "increment": ModelRecord(name="tunedModels/increment", applied=SPEC),
                "decrement": ModelRecord(
                    name="tunedModels/decrement",
                    applied=SPEC,
                    operation="tunedModels/decrement/operations/op1",
                ),
                "double": ModelRecord(name="tunedModels/double", pendingCreate=SPEC),
                "legacy": ModelRecord(name="tunedModels/legacy-7", imported=True),
            }
            return backend.write(doc.model_copy(update={"models": models}))
    finally:
        backend.close()


def stored(location: str) -> StateDocument:
    backend = open_backend(location)
    try:
        return backend.read()
    finally:
        backend.close()


def cli(location: str, *args: str) -> Any:
    return run_cli("--state", location, *args)


def test_list_show_and_pull(location: str) -> None:
    empty = cli(location, "state", "list")
    assert empty.returncode == 0 and empty.stdout == "" and "No managed models" in empty.stderr
    nothing = cli(location, "state", "pull")  # e.g. a mistyped --state while moving a state
    assert nothing.returncode == 1 and nothing.stdout == ""
    assert nothing.stderr.startswith("Error: no state at ") and "nothing to pull" in nothing.stderr
    doc = seed(location)
    listed = cli(location, "state", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "decrement  tunedModels/decrement  creating (tunedModels/decrement/operations/op1)",
        "double     tunedModels/double     pending create",
        "increment  tunedModels/increment  applied",
        "legacy     tunedModels/legacy-7   imported",
    ]
    shown = cli(location, "state", "show", "increment")
    assert shown.returncode == 0
    record = json.loads(shown.stdout)
    assert record["name"] == "tunedModels/increment"
    assert record["applied"]["dataset"] == {
        "name": "increment-examples",
        "hash": "sha256:0a1b",
        "examples": 2,
    }
    missing = cli(location, "state", "show", "nope")
    assert missing.returncode == 1
    assert "Error: no model 'nope' in the state" in missing.stderr
    assert "hint: managed models: decrement, double, increment, legacy" in missing.stderr
    pulled = cli(location, "state", "pull")
    assert pulled.returncode == 0
    assert StateDocument.model_validate(json.loads(pulled.stdout)) == doc


def test_rm_forgets_a_model_and_says_the_live_one_stays(location: str) -> None:
    seed(location)
    removed = cli(location, "state", "rm", "legacy")
    assert removed.returncode == 0, removed.stderr
    assert "Removed legacy from the state (serial 2)" in removed.stdout
    assert "The live model tunedModels/legacy-7 was not deleted" in removed.stdout
    assert sorted(stored(location).models) == ["decrement", "double", "increment"]
    again = cli(location, "state", "rm", "legacy")
    assert again.returncode == 1 and "no model 'legacy'" in again.stderr


def test_push_moves_state_between_backends(location: str, tmp_path: Path) -> None:
    source = tmp_path / "exported.json"
    doc = seed(location)
    source.write_text(cli(location, "state", "pull").stdout)
    target = str(tmp_path / "other" / "state.json")
    pushed = run_cli("--state", target, "state", "push", str(source))
    assert pushed.returncode == 0, pushed.stderr
    assert f"(lineage {doc.lineage}, serial 1, 4 model(s))" in pushed.stdout
    refused = cli(location, "state", "push", str(source))
    assert refused.returncode == 1
    assert "Error: cannot push: serial 1 is not newer than the stored serial 1" in refused.stderr
    assert "--force" in refused.stderr
    forced = cli(location, "state", "push", str(source), "--force")
    assert forced.returncode == 0 and "serial 2" in forced.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    broken = cli(location, "state", "push", str(bad))
    assert (
        broken.returncode == 1
        and f"{bad} is not a reconciler state: is not valid JSON" in broken.stderr
    )
    assert stored(location).serial == 2


def test_locked_state_and_force_unlock(location: str, start_holder: Any) -> None:
    seed(location)
    not_locked = cli(location, "force-unlock")
    assert not_locked.returncode == 1 and "is not locked" in not_locked.stderr
    holder = start_holder(location, "apply")
    locked = cli(location, "state", "rm", "legacy", "--lock-timeout", "250ms")
    assert locked.returncode == 1
    assert (
        f"is locked by pid {holder.first['pid']}" in locked.stderr
        and "(waited 0.25s)" in locked.stderr
    )
    assert (
        "hint: " in locked.stderr and f"reconciler force-unlock {holder.lock_id}" in locked.stderr
    )
    wrong = cli(location, "force-unlock", "not-the-id")
    assert wrong.returncode == 1 and "lock id not-the-id does not match" in wrong.stderr
    assert (
        f"hint: run `reconciler force-unlock {holder.lock_id}` to remove that lock" in wrong.stderr
    )
    assert holder.process.poll() is None  # a wrong id ends nothing
    holder.process.kill()
    holder.process.wait(timeout=10)
    removed = cli(location, "state", "rm", "legacy")
    assert removed.returncode == 0, removed.stderr
    assert (
        "Warning: took over a stale state lock" in removed.stderr
        and holder.lock_id in removed.stderr
    )


def test_bad_lock_timeout_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(
        "--state", str(tmp_path / "s.json"), "state", "rm", "x", "--lock-timeout", "soon"
    )
    assert result.returncode == 2 and "'soon' is not a duration" in result.stderr


def test_rm_and_show_of_an_unknown_name_suggest_the_closest(location: str) -> None:
    seed(location)
    before = stored(location)
    for command in ("rm", "show"):
        result = cli(location, "state", command, "incremnt")
        assert result.returncode == 1
        assert f"Error: no model 'incremnt' in the state {location}" in result.stderr or (
            "Error: no model 'incremnt' in the state postgresql://" in result.stderr
        )
        assert (
            "hint: did you mean 'increment' or 'decrement'? managed models: decrement, double,"
            in result.stderr
        )
    far = cli(location, "state", "rm", "zzz")
    assert "did you mean" not in far.stderr and "managed models: decrement" in far.stderr
    assert stored(location).serial == before.serial


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("apiVersion: gemini.tuning/v1\nkind: Dataset\n", "is not valid JSON"),
        ('{"models": {}}', "has no valid formatVersion"),
        ('{"formatVersion": 1, "models": {}}', "has no lineage"),
        ('{"formatVersion": 1, "lineage": "x", "serial": "many"}', "is invalid at serial"),
    ],
)
def test_push_of_a_file_that_is_not_a_state_says_so(
    location: str, tmp_path: Path, content: str, reason: str
) -> None:
    seed(location)
    before = stored(location)
    bad = tmp_path / "models.yaml"
    bad.write_text(content)
    result = cli(location, "state", "push", str(bad))
    assert result.returncode == 1
    assert f"Error: {bad} is not a reconciler state: {reason}" in result.stderr
    assert "hint: push the output of `reconciler state pull`" in result.stderr
    assert ".backup" not in result.stderr  # the stored state is fine; the file was wrong
    assert stored(location) == before
