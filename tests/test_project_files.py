"""The repository's own housekeeping: CI runs the lint, licence and version agree.

These are promises made to contributors and packagers (README "Development"):
CI runs the same checks as `make lint`, the declared licence has its text,
the version is written once and the changelog has its heading.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

from ruamel.yaml import YAML

import reconciler
from tests.support.servers import REPO_ROOT


def _ci_commands() -> list[str]:
    lines = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_lint_before_the_tests() -> None:
    commands = _ci_commands()
    assert "make lint" in commands and "make test" in commands
    assert commands.index("make lint") < commands.index("make test")


def test_ci_and_make_test_share_the_system_package_script() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "bash scripts/system-deps.sh" in _ci_commands()
    assert re.search(r"^test: .*system-deps", makefile, re.M)
    assert "scripts/system-deps.sh" in makefile


def test_pre_commit_runs_every_lint_tool() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    tools = {m.group(1) for m in re.finditer(r"\$\(VENV\)/bin/([\w-]+)", recipe)}
    assert tools == {"ruff", "mypy", "lint-imports"}
    config = YAML(typ="safe").load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    for tool in tools:
        assert any(
            entry.startswith(f".venv/bin/{tool} ") or entry == f".venv/bin/{tool}"
            for entry in entries
        ), tool
    assert any("ruff format --check" in entry for entry in entries)


def test_licence_file_matches_the_declared_licence() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (REPO_ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_version_is_written_once_and_has_a_changelog_heading() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "reconciler.__version__"
    }
    assert importlib.metadata.version("reconciler") == reconciler.__version__
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert f"## [{reconciler.__version__}]" in changelog
