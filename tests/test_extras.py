"""Heavy dependencies are extras; a missing one is named with the pip command that installs it."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from tests.support.servers import REPO_ROOT

_BLOCKED = """
import sys
for name in {modules!r}:
    sys.modules[name] = None  # as if not installed
from reconciler.cli import main
main({argv!r})
"""


def _run_without(modules: list[str], argv: list[str], cwd: str) -> subprocess.CompletedProcess[str]:
    code = _BLOCKED.format(modules=modules, argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("modules", "argv", "extra"),
    [
        (["psycopg"], ["--state", "postgresql:///db", "state", "list"], "postgres"),
        (["uvicorn"], ["emulator", "serve", "--port", "0"], "emulator"),
    ],
)
def test_a_missing_extra_is_named(
    modules: list[str], argv: list[str], extra: str, tmp_path: object
) -> None:
    result = _run_without(modules, argv, cwd=str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "needs" in result.stderr and "which is not installed" in result.stderr
    assert f"hint: pip install 'reconciler[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_plot_extra_is_named_when_matplotlib_is_missing() -> None:
    code = """
import sys
sys.modules["matplotlib"] = None
from pathlib import Path
from reconciler.errors import UsageError
from reconciler.live import Snapshot
from reconciler.render.chart import write_plot
try:
    write_plot((Snapshot(step=1, epoch=1, mean_loss=1.0),), path=Path("x.svg"), title="t")
except UsageError as exc:
    print(exc.message, "|", exc.hint)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "plotting the loss curve needs matplotlib" in done.stdout
    assert "pip install 'reconciler[plot]'" in done.stdout


def test_heavy_dependencies_are_extras_and_make_install_installs_them_all() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    required = " ".join(project["dependencies"])
    for heavy in ("psycopg", "matplotlib", "uvicorn", "starlette"):
        assert heavy not in required
    extras = project["optional-dependencies"]
    assert {"postgres", "plot", "emulator"} <= set(extras)
    assert "'.[dev,all]'" in (REPO_ROOT / "Makefile").read_text()
