"""A destroy killed after its DELETE reached the API: the model the reconciler deleted
itself is never reported as deleted outside the reconciler, and the next destroy finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.refusing_proxy import stalling_proxy
from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import REPO_ROOT


def test_wait_plan_and_inventory_after_a_killed_destroy(ws: Workspace) -> None:
    ws.emulator.configure(stepSeconds=30)  # alpha tunes for the whole test
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    assert ws.apply("--no-wait").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GEMINI_"))}
    with stalling_proxy(ws.emulator.url, stall="DELETE") as proxy:
        destroying = subprocess.Popen(
            [
                *(sys.executable, "-m", "reconciler", "--endpoint", proxy.url, "--state", ws.state),
                *("destroy", "--auto-approve"),
            ],
            cwd=ws.root,
            env={**env, **ws.env(), "NO_COLOR": "1", "PYTHONPATH": str(REPO_ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proxy.forwarded.wait(timeout=120), "destroy never sent its DELETE"
        finally:
            destroying.kill()  # after the DELETE took effect, before its answer arrived
            destroying.wait()
    assert "alpha" not in ws.live()
    assert "alpha" in ws.state_doc()["models"]

    waited = ws.cli("wait", "--poll-interval", "0.05s")
    planned = ws.cli("plan")
    inventory = ws.cli("inventory", "--format", "json")
    finished = ws.cli("destroy", "--auto-approve")

    assert "deleted outside" not in waited.stdout + waited.stderr
    assert "TunedModel/alpha: deleted by an interrupted destroy or apply" in waited.stdout
    assert "deleted outside" not in planned.stdout
    assert "# deleted by an interrupted destroy or apply" in planned.stdout
    [row] = json.loads(inventory.stdout)["models"]
    assert row["status"] == "missing"
    assert row["error"].startswith("deleted by an interrupted destroy or apply")
    assert finished.returncode == 0, finished.stderr
    assert ws.state_doc()["models"] == {}
