"""Reading README.md as a script: its shell commands, expected exit codes and files.

Kept apart from the test so that the rules are in one place:

- fenced ``console`` blocks hold ``$ command`` lines followed by their output;
  ``sh`` and ``bash`` blocks hold bare commands;
- a command expects exit 0 unless its line says ``# exits N``;
- ``<!-- not-tested: REASON -->`` right before a block skips it (the reason is required);
- ``<!-- file: PATH -->`` right before a block writes the block to PATH (the
  tutorial's manifests), in document order with the commands;
- only commands that run reconciler (possibly after ``VAR=value``) or curl run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_FENCE = re.compile(
    r"(?:<!--\s*(?P<marker>not-tested|file):\s*(?P<arg>.*?)\s*-->\s*\n)?"
    r"```(?P<lang>[\w-]*)\n(?P<body>.*?)```",
    re.DOTALL,
)
_RUNNABLE = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)*(?:reconciler|curl)\s")
_EXPECTED_EXIT = re.compile(r"#\s*exits\s+(\d+)")
SHELL_LANGUAGES = {"console", "sh", "bash"}


@dataclass
class Command:
    line: str
    expected_exit: int
    shown_output: list[str] = field(default_factory=list)


@dataclass
class WriteFile:
    path: str
    content: str


@dataclass
class Skipped:
    reason: str
    body: str


Step = Command | WriteFile | Skipped


def steps(readme: Path) -> list[Step]:
    found: list[Step] = []
    for match in _FENCE.finditer(readme.read_text()):
        marker, arg, lang, body = match.group("marker", "arg", "lang", "body")
        if marker == "not-tested":
            assert arg, "a not-tested marker needs its reason"
            found.append(Skipped(reason=arg, body=body))
        elif marker == "file":
            found.append(WriteFile(path=arg, content=body))
        elif lang in SHELL_LANGUAGES:
            found.extend(_commands(body, console=lang == "console"))
    return found


def _commands(body: str, *, console: bool) -> list[Command]:
    commands: list[Command] = []
    for line in body.splitlines():
        if console and not line.startswith("$ "):
            if commands and line.strip() and line.strip() != "...":
                commands[-1].shown_output.append(line.strip())
            continue
        command = line.removeprefix("$ ").strip()
        if not _RUNNABLE.match(command):
            if console:
                commands.append(Command(line=command, expected_exit=-1))
            continue
        exits = _EXPECTED_EXIT.search(command)
        commands.append(Command(line=command, expected_exit=int(exits.group(1)) if exits else 0))
    return [c for c in commands if c.expected_exit >= 0]
