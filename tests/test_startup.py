"""`reconciler --help` and shell completion answer without importing any command.

Completion runs the program on every TAB; a command module pulls in pydantic,
httpx and rich. The speed itself is measured by `make bench` (bench/startup_bench.py);
here: what is imported, and that the listed help is each command's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from reconciler.cli import COMMANDS, SUMMARIES, cli

_PROBE = """
import json, sys
from reconciler.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules
               if m.startswith(("reconciler.cli.", "pydantic", "httpx", "rich", "reconciler.api"))
               and m != "reconciler.cli.context")
print(json.dumps(heavy), file=sys.stderr)
"""


def _imported(*args: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    assert isinstance(modules, list)
    return done.stdout, modules


def test_help_lists_every_command_without_importing_them() -> None:
    out, modules = _imported("--help")
    assert modules == []
    for name in COMMANDS:
        assert f"\n  {name} " in out


def test_completing_a_command_name_imports_no_command() -> None:
    out, modules = _imported(
        env={
            "_RECONCILER_COMPLETE": "bash_complete",
            "COMP_WORDS": "reconciler i",
            "COMP_CWORD": "1",
        }
    )
    assert modules == []
    assert out.split() == ["plain,import", "plain,inventory"]


def test_completing_a_global_option_still_works() -> None:
    out, modules = _imported(
        env={
            "_RECONCILER_COMPLETE": "bash_complete",
            "COMP_WORDS": "reconciler --st",
            "COMP_CWORD": "1",
        }
    )
    assert modules == []
    assert out.split() == ["plain,--state"]


def test_summaries_are_the_commands_own_help() -> None:
    ctx = click.Context(cli)
    # A command without a summary would be imported by every `--help` and TAB.
    assert set(SUMMARIES) == set(COMMANDS)
    for name in SUMMARIES:
        command = cli.get_command(ctx, name)
        assert command is not None
        own = command.get_short_help_str(300)
        assert own == SUMMARIES[name], f"SUMMARIES[{name!r}] in reconciler/cli/__init__.py: {own!r}"
