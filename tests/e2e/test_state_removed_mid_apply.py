"""The state file removed while an apply runs: the run stops, and what it points the
user at holds its last create, so restoring it leads to no second create."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.refusing_proxy import stalling_proxy
from tests.e2e.workspace import NUMBERS, Workspace, dataset, tuned_model
from tests.support.servers import REPO_ROOT


def test_the_hint_points_at_a_state_holding_the_last_create(ws: Workspace) -> None:
    ws.emulator.configure(stepSeconds=30)
    ws.write(dataset("numbers", NUMBERS), tuned_model("alpha"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GEMINI_"))}
    with stalling_proxy(ws.emulator.url, stall="POST") as proxy:
        applying = subprocess.Popen(
            [
                *(sys.executable, "-m", "reconciler", "--endpoint", proxy.url),
                *("--state", ws.state, "apply", "--auto-approve", "--no-wait"),
            ],
            cwd=ws.root,
            env={**env, **ws.env(), "NO_COLOR": "1", "PYTHONPATH": str(REPO_ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.forwarded.wait(timeout=120), "apply never sent its create"
            Path(ws.state).unlink()  # while the create's answer is on its way
            proxy.release.set()
            _, err = applying.communicate(timeout=120)
        finally:
            applying.kill()
            applying.wait()

    rescued = Path(ws.state + ".rescued")
    assert applying.returncode == 1
    assert "disappeared since it was read" in err
    assert f"reconciler state push {rescued}" in err
    record = json.loads(rescued.read_text(encoding="utf-8"))["models"]["alpha"]
    assert record["operation"].startswith("tunedModels/alpha/operations/")

    pushed = ws.cli("state", "push", str(rescued))
    assert pushed.returncode == 0, pushed.stderr
    assert ws.kinds() == {"alpha": "wait"}  # followed, not created again
    assert ws.creates() == {"alpha": 1}
