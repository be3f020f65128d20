"""A serial that leaves no room to grow is refused at push, and never half-way through an apply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.workspace import Workspace, dataset, tuned_model
from tests.support.postgres import PostgresServer, serve_postgres
from tests.support.servers import ServedEmulator

HUGE = 2**63 - 2  # PostgreSQL's bigint holds one more write


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    yield from serve_postgres()


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest, tmp_path: Path, emulator: ServedEmulator) -> Workspace:
    if request.param == "file":
        return Workspace(root=tmp_path, emulator=emulator)
    server: PostgresServer = request.getfixturevalue("postgres")
    return Workspace(root=tmp_path, emulator=emulator, state=server.unique_uri())


def test_push_refuses_a_serial_with_no_room_to_grow(ws: Workspace, tmp_path: Path) -> None:
    ws.write(dataset("numbers", [("1", "2")]), tuned_model("alpha"))
    assert ws.apply().returncode == 0
    pulled = ws.cli("state", "pull")
    doc = json.loads(pulled.stdout)
    doc["serial"] = HUGE
    (tmp_path / "huge.json").write_text(json.dumps(doc))
    for force in ((), ("--force",)):
        pushed = ws.cli("state", "push", *force, str(tmp_path / "huge.json"))
        assert pushed.returncode != 0
        assert f"cannot push: serial {HUGE} leaves no room to grow" in pushed.stderr
        assert "Traceback" not in pushed.stderr
    after = json.loads(ws.cli("state", "pull").stdout)
    assert after["serial"] < 10 and sorted(after["models"]) == ["alpha"]
    # The state still takes writes.
    ws.write(dataset("numbers", [("1", "2")]), tuned_model("alpha"), tuned_model("beta"))
    assert ws.apply().returncode == 0
    assert sorted(ws.live()) == ["alpha", "beta"]


def set_stored_serial(ws: Workspace, serial: int) -> None:
    """Give the stored state a serial directly, as a push before this limit existed could."""
    if ws.state.startswith("postgresql"):
        uri, _, query = ws.state.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&"))
        schema = params.pop("schema")
        conninfo = uri + "?" + "&".join(f"{k}={v}" for k, v in params.items() if k != "workspace")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                f'UPDATE "{schema}".states SET serial = %s,'
                " document = jsonb_set(document, '{serial}', to_jsonb(%s::bigint))",
                [serial, serial],
            )
        return
    doc = json.loads(ws.cli("state", "pull").stdout)
    doc["serial"] = serial
    Path(ws.state).write_text(json.dumps(doc))
    Path(ws.state).with_name("state.json.journal").unlink(missing_ok=True)


def test_a_stored_serial_at_the_limit_stops_apply_before_any_request(ws: Workspace) -> None:
    ws.write(dataset("numbers", [("1", "2")]), tuned_model("alpha"))
    assert ws.apply().returncode == 0
    set_stored_serial(ws, HUGE)
    ws.write(dataset("numbers", [("1", "2")]), tuned_model("alpha"), tuned_model("beta"))
    result = ws.apply()
    assert result.returncode != 0
    assert f"has serial {HUGE}, too close to the largest serial" in result.stderr
    assert "internal error" not in result.stderr.lower()
    assert sorted(ws.live()) == ["alpha"]
    # The hint's way out: push a copy with a small serial.
    doc = json.loads(ws.cli("state", "pull").stdout)
    doc["serial"] = 5
    copy = ws.root / "small.json"
    copy.write_text(json.dumps(doc))
    pushed = ws.cli("state", "push", "--force", str(copy))
    assert pushed.returncode == 0, pushed.stderr
    assert ws.apply().returncode == 0
    assert sorted(ws.live()) == ["alpha", "beta"]
