"""The local state file: atomic writes, backup, serial/lineage rules, refusal of bad files, locking."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.applied import ModelRecord, StateDocument
from reconciler.errors import StateConflictError, StateCorruptError, StateError, StateLockedError
from reconciler.spec import AppliedSpec, DatasetRef
from reconciler.state import open_backend
from reconciler.state.file import FileBackend
from tests.state.conftest import FakeClock
from tests.support.servers import REPO_ROOT, run_cli


def with_model(doc: StateDocument, name: str) -> StateDocument:
    spec = AppliedSpec(
        baseModel="models/gemini-1.5-flash-001-tuning",
        dataset=DatasetRef(name="d", hash="sha256:ab", examples=2),
    )
    models = dict(doc.models)
    models[name] = ModelRecord(name=f"tunedModels/{name}", applied=spec)
    return doc.model_copy(update={"models": models})


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".reconciler" / "state.json"


def test_no_state_reads_as_empty_and_writes_nothing(path: Path) -> None:
    doc = open_backend(str(path)).read()
    assert (doc.serial, doc.models, doc.formatVersion) == (0, {}, 1)
    assert not path.parent.exists()


def test_writes_are_canonical_json_with_growing_serial_and_a_backup(path: Path) -> None:
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        first = backend.write(with_model(backend.read(), "b"))
        first_bytes = path.read_bytes()
        second = backend.write(with_model(first, "a"))
    assert (first.serial, second.serial, second.lineage) == (1, 2, first.lineage)
    data = json.loads(path.read_text())
    assert data["serial"] == 2 and data["formatVersion"] == 1 and data["lineage"] == first.lineage
    # A fixed order, so diffs stay small: the document's fields as defined, models by name.
    assert list(data) == ["formatVersion", "lineage", "serial", "backend", "endpoint", "models"]
    assert list(data["models"]) == ["a", "b"]
    assert list(data["models"]["a"])[:3] == ["name", "applied", "pendingCreate"]
    assert path.read_text() == json.dumps(data, indent=2) + "\n"
    assert path.with_name("state.json.backup").read_bytes() == first_bytes
    # No temporary files are left behind, and the lock file is gone after release.
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json", "state.json.backup"]
    assert FileBackend(path).read() == second


def test_write_needs_the_lock(path: Path) -> None:
    backend = FileBackend(path)
    with pytest.raises(StateError, match="needs the state lock"):
        backend.write(backend.read())
    assert not path.exists()


def test_a_stale_serial_or_another_lineage_is_refused(path: Path) -> None:
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        start = backend.read()
        stored = backend.write(with_model(start, "a"))
        before = path.read_bytes()
        with pytest.raises(
            StateConflictError,
            match=r"changed since it was read \(read serial 0, stored serial 1\)",
        ):
            backend.write(with_model(start, "b"))
        with pytest.raises(StateConflictError):
            backend.write(stored.model_copy(update={"lineage": "other"}))
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[]", "is not a JSON object"),
        (
            b'{"formatVersion": 1, "lineage": "x", "serial": "many", "models": {}}',
            "is invalid at serial",
        ),
        (
            b'{"formatVersion": 2, "lineage": "x", "serial": 3, "models": {}}',
            "formatVersion 2, newer than",
        ),
    ],
)
def test_corrupt_or_newer_state_is_refused_and_left_untouched(
    path: Path, content: bytes, message: str
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    backend = FileBackend(path)
    with pytest.raises(StateCorruptError, match=message) as info:
        backend.read()
    assert str(path) in info.value.message
    with backend.lock(command="apply"), pytest.raises(StateCorruptError):
        backend.write(StateDocument())
    with pytest.raises(StateCorruptError):
        backend.push(StateDocument(serial=5), force=False)
    assert path.read_bytes() == content
    assert not path.with_name("state.json.backup").exists()


def test_corrupt_state_hint_points_at_backup_and_push(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.raises(StateCorruptError) as info:
        FileBackend(path).read()
    assert info.value.hint is not None
    assert f"{path}.backup" in info.value.hint
    assert "`reconciler state push --force FILE`" in info.value.hint  # the way that works
    good = StateDocument(serial=3)
    assert FileBackend(path).push(good, force=True).models == {}
    assert FileBackend(path).read().lineage == good.lineage


def test_a_truncated_state_is_reported_in_plain_words(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"formatVersion": 1, "lineage": "ab\ncd"}')
    with pytest.raises(StateCorruptError) as info:
        FileBackend(path).read()
    assert "not valid JSON: Invalid control character at line 1 column" in info.value.message


def test_second_writer_fails_at_once_naming_the_holder(path: Path, start_holder: Any) -> None:
    holder = start_holder(str(path), "apply")
    with pytest.raises(StateLockedError) as info:
        FileBackend(path).lock(command="destroy")
    message = info.value.message
    assert f"pid {holder.first['pid']} on host {socket.gethostname()}" in message
    assert "(reconciler apply)" in message and f"lock id {holder.lock_id}" in message
    assert f"reconciler force-unlock {holder.lock_id}" in (info.value.hint or "")
    assert "--lock-timeout" in (info.value.hint or "")
    assert holder.finish() == 0


def test_lock_timeout_expires_after_waiting(path: Path, start_holder: Any) -> None:
    holder = start_holder(str(path), "apply")
    clock = FakeClock()
    with pytest.raises(StateLockedError, match=r"\(waited 30s\)"):
        FileBackend(path, clock=clock, sleep=clock.sleep).lock(command="apply", timeout=30)
    assert clock.now - 1000.0 == pytest.approx(30) and len(clock.sleeps) > 5
    assert holder.finish() == 0


def test_lock_timeout_waits_for_the_holder_to_finish(path: Path, start_holder: Any) -> None:
    holder = start_holder(str(path), "apply")
    assert holder.send("write a") == {"serial": 1}
    result: dict[str, Any] = {}
    got = threading.Event()

    def wait_for_lock() -> None:
        backend = FileBackend(path)
        with backend.lock(command="apply", timeout=60) as lock:
            got.set()
            result["warning"] = lock.warning
            result["serial"] = backend.write(with_model(backend.read(), "b")).serial

    waiter = threading.Thread(target=wait_for_lock)
    waiter.start()
    # A real second process holds the lock, so only real time can show the waiter waiting.
    assert not got.wait(0.3)
    assert holder.finish() == 0
    waiter.join(timeout=60)
    assert result == {"warning": None, "serial": 2}


def test_lock_of_a_killed_holder_is_taken_over_with_a_warning(
    path: Path, start_holder: Any
) -> None:
    holder = start_holder(str(path), "apply")
    assert holder.send("write a") == {"serial": 1}
    holder.process.send_signal(signal.SIGKILL)
    holder.process.wait(timeout=10)
    backend = FileBackend(path)
    with backend.lock(command="apply") as lock:
        assert lock.warning is not None
        assert f"pid {holder.first['pid']}" in lock.warning and holder.lock_id in lock.warning
        assert "is gone" in lock.warning
        assert backend.write(with_model(backend.read(), "b")).serial == 2


def write_foreign_lock(path: Path, *, host: str = "build-agent-7", pid: int = 4242) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "id": "foreign-lock-id",
        "pid": pid,
        "host": host,
        "time": "2024-01-01T00:00:00+00:00",
        "command": "apply",
    }
    path.with_name("state.json.lock").write_text(json.dumps(record))
    return "foreign-lock-id"


def test_lock_from_another_host_needs_force_unlock_with_its_id(path: Path) -> None:
    lock_id = write_foreign_lock(path)
    backend = FileBackend(path)
    with pytest.raises(StateLockedError, match="pid 4242 on host build-agent-7"):
        backend.lock(command="apply")
    with pytest.raises(StateError, match="may still be running"):
        backend.force_unlock(None)
    with pytest.raises(StateError, match="lock id wrong does not match"):
        backend.force_unlock("wrong")
    message = backend.force_unlock(lock_id)
    assert message.startswith(f"Removed lock {lock_id} held by pid 4242 on host build-agent-7")
    with backend.lock(command="apply") as lock:
        assert lock.warning is None


def test_force_unlock_without_id_removes_a_dead_local_holder(path: Path) -> None:
    write_foreign_lock(path, host=socket.gethostname(), pid=2**22 + 12345)
    message = FileBackend(path).force_unlock(None)
    assert "the holder is gone" in message
    with pytest.raises(StateError, match="is not locked"):
        FileBackend(path).force_unlock(None)


def test_force_unlocked_holder_cannot_write_afterwards(path: Path, start_holder: Any) -> None:
    holder = start_holder(str(path), "apply")
    assert holder.send("write a") == {"serial": 1}
    holder.process.send_signal(signal.SIGSTOP)
    try:
        backend = FileBackend(path)
        with pytest.raises(StateError, match="may still be running"):
            backend.force_unlock(None)
        message = backend.force_unlock(holder.lock_id)
        assert "still running; its next state write will be refused" in message
        with backend.lock(command="apply"):
            assert backend.write(with_model(backend.read(), "b")).serial == 2
    finally:
        holder.process.send_signal(signal.SIGCONT)
    answer = holder.send("write c")
    assert answer["type"] == "StateConflictError" and "no longer holds the lock" in answer["error"]
    assert sorted(FileBackend(path).read().models) == ["a", "b"]
    assert holder.finish() == 0


def test_push_rules(path: Path, tmp_path: Path) -> None:
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        stored = backend.write(with_model(backend.read(), "a"))
    newer = with_model(stored, "b").model_copy(update={"serial": 5})
    with pytest.raises(StateConflictError, match="serial 1 is not newer than the stored serial 1"):
        backend.push(stored, force=False)
    with pytest.raises(StateConflictError, match="lineage"):
        backend.push(StateDocument(serial=9), force=False)
    assert backend.push(newer, force=False).serial == 5
    forced = backend.push(stored, force=True)  # an older copy: the serial still moves forward
    assert (forced.serial, sorted(forced.models)) == (6, ["a"])
    other = FileBackend(tmp_path / "elsewhere" / "state.json")
    assert other.push(StateDocument(lineage="L", serial=3), force=False).serial == 3
    assert os.path.exists(tmp_path / "elsewhere" / "state.json")
    assert not (tmp_path / "elsewhere" / "state.json.lock").exists()


def run_without_root_override(location: Path, *args: str) -> Any:
    """The CLI as a user for whom a mode-555 directory is read-only (root loses DAC override)."""
    if os.geteuid() != 0:
        return run_cli("--state", str(location), *args)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv to drop root's permission override")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update(NO_COLOR="1", PYTHONPATH=str(REPO_ROOT))
    drop = "-dac_override,-dac_read_search"
    argv = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]
    argv += [sys.executable, "-m", "reconciler", "--state", str(location), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("existing", [False, True])
def test_state_in_a_read_only_directory_is_a_clear_error(
    path: Path, tmp_path: Path, existing: bool
) -> None:
    if existing:
        backend = FileBackend(path)
        with backend.lock(command="apply"):
            backend.write(with_model(backend.read(), "a"))
    else:
        path.parent.mkdir(parents=True)
    before = path.read_bytes() if existing else None
    path.parent.chmod(0o555)
    try:
        result = run_without_root_override(path, "state", "rm", "a")
    finally:
        path.parent.chmod(0o755)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr.splitlines() == [
        f"Error: cannot lock state {path}: Permission denied ({path}.lock)",
        "hint: make the state's directory writable for this user, or pass --state PATH",
    ]
    assert (path.read_bytes() if existing else None) == before


def test_a_reused_pid_does_not_keep_a_dead_holders_lock(path: Path) -> None:
    # The recorded holder died and its pid now belongs to an unrelated process
    # (this test's own pid stands in for it). The flock, not the pid, decides.
    write_foreign_lock(path, host=socket.gethostname(), pid=os.getpid())
    backend = FileBackend(path)
    with backend.lock(command="apply") as lock:
        assert lock.warning is not None
        assert f"holder pid {os.getpid()} on host {socket.gethostname()}" in lock.warning
        assert "foreign-lock-id" in lock.warning
        assert backend.write(with_model(backend.read(), "a")).serial == 1


def test_where_hard_links_are_refused_the_backup_is_a_copy(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # e.g. some network filesystems

    backend = FileBackend(path)
    with backend.lock(command="apply"):
        first = backend.write(with_model(backend.read(), "a"))
        first_bytes = path.read_bytes()
        monkeypatch.setattr("os.link", refuse)
        backend.write(with_model(first, "b"))

    assert path.with_name("state.json.backup").read_bytes() == first_bytes
    assert sorted(FileBackend(path).read().models) == ["a", "b"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json", "state.json.backup"]


def test_the_backup_is_the_replaced_version_itself(path: Path) -> None:
    backend = FileBackend(path)
    with backend.lock(command="apply"):
        first = backend.write(with_model(backend.read(), "a"))
        before = path.stat().st_ino
        backend.write(with_model(first, "b"))

    backup = path.with_name("state.json.backup")
    assert backup.stat().st_ino == before  # linked, not copied
    assert path.stat().st_ino != before
