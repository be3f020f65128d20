"""Training datasets: checking examples, the canonical hash, and where a data file may be.

A dataset's identity is the hash of its canonical example list, never of the
bytes of a file: the API never returns training data, so the hash recorded in
the state at creation is the only way to tell that the data changed, and
reformatting a JSONL file, reordering keys or moving the same examples from
CSV to JSONL must not look like a change (which would replace a model).

Problems are returned as located ``Diagnostic`` values so that one run
reports all of them; nothing here raises for bad data. Reading a data file's
records is ``reconciler.datafiles``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import Diagnostic, SourceLocation
from reconciler.repofiles import (
    SYMLINK_LOOP,
    real_path,
    resolved_root,
)
from reconciler.spec import Example, LoadedDataset

# Service limits per example (gemini-api-wire-facts.md; the API rejects the
# whole create otherwise, after the user has waited for the upload).
MAX_INPUT_CHARS = 40_000
MAX_OUTPUT_CHARS = 5_000


def canonical_text(value: str) -> str:
    """A value with its line endings as ``\n``, whatever the file or checkout used. Pure.

    A CSV with a quoted multi-line field, checked out on Windows with
    ``core.autocrlf``, holds ``\r\n`` inside the value: without this the
    dataset's hash would change and the model be replaced (re-tuned) for a
    checkout setting. A lone ``\r`` (old Mac line endings) counts as a line
    ending too. Every source of examples (inline, JSONL, JSON, CSV) goes
    through here, so the text sent to the API is the text hashed.
    """
    if "\r" not in value:
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def canonical_hash(examples: Sequence[Example]) -> str:
    """``sha256:<hex>`` of the ordered (textInput, output) pairs. Pure.

    The serialization is compact JSON of ``[[input, output], ...]`` with
    non-ASCII kept as UTF-8: stable across file formats and formatting.
    """
    pairs = [[e.text_input, e.output] for e in examples]
    text = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_dataset(
    *, name: str, examples: Sequence[Example], location: SourceLocation
) -> LoadedDataset:
    """The loaded dataset with its hash and size statistics. Pure."""
    return LoadedDataset(
        name=name,
        hash=canonical_hash(examples),
        examples=tuple(examples),
        location=location,
        max_input_chars=max((len(e.text_input) for e in examples), default=0),
        max_output_chars=max((len(e.output) for e in examples), default=0),
    )


def check_examples(
    examples: Sequence[Example], *, name: str, location: SourceLocation
) -> list[Diagnostic]:
    """Empty datasets and service limits are errors; duplicate examples a warning. Pure."""
    if not examples:
        return [Diagnostic(location, f"dataset `{name}` has no examples")]
    found: list[Diagnostic] = []
    seen: dict[tuple[str, str], Example] = {}
    duplicates: list[tuple[Example, Example]] = []
    for index, example in enumerate(examples, start=1):
        where = example.location or location
        if len(example.text_input) > MAX_INPUT_CHARS:
            found.append(
                Diagnostic(
                    where,
                    f"example {index} input is {len(example.text_input):,} characters; "
                    f"the service accepts at most {MAX_INPUT_CHARS:,}",
                )
            )
        if len(example.output) > MAX_OUTPUT_CHARS:
            found.append(
                Diagnostic(
                    where,
                    f"example {index} output is {len(example.output):,} characters; "
                    f"the service accepts at most {MAX_OUTPUT_CHARS:,}",
                )
            )
        key = (example.text_input, example.output)
        first = seen.setdefault(key, example)
        if first is not example:
            duplicates.append((example, first))
    if duplicates:
        again, first = duplicates[0]
        repeats = f" repeats {_where(first)}" if first.location else ""
        found.append(
            Diagnostic(
                again.location or location,
                f"dataset `{name}` has {len(duplicates)} duplicate example"
                f"{'s' if len(duplicates) > 1 else ''} (first: this one{repeats})",
                severity="warning",
            )
        )
    return found


def _where(example: Example) -> str:
    loc = example.location
    return f"line {loc.line}" if loc and loc.line else "an earlier example"


@dataclass(frozen=True)
class DataFileProblem:
    message: str
    hint: str | None = None


def resolve_data_file(
    file: str, *, manifest_dir: Path, root: Path, allow_outside_root: bool
) -> tuple[Path, DataFileProblem | None]:
    """The data file's real path, and the problem if it reaches outside ``root`` or loops.

    Symlinks are resolved before comparing (``repofiles.confine``, the rule
    manifest files and directories follow too), so a link inside the
    repository that points at ``/etc`` is caught, and a loop of links is an
    error rather than a crash. A missing file comes back as the path it would
    have; the caller reports it as not found.
    """
    joined = manifest_dir / file
    real, problem = real_path(joined)
    if problem == SYMLINK_LOOP:
        return joined, DataFileProblem(f"data file `{file}`: {SYMLINK_LOOP}")
    if real is None:  # missing (or a broken link): the caller reports it as not found
        real = Path(os.path.realpath(joined))
    if allow_outside_root or real.is_relative_to(resolved_root(root)):
        return real, None
    return real, DataFileProblem(
        f"data file `{file}` is outside the repository root",
        "keep training data inside the repository, or pass --allow-outside-root",
    )
