"""Tuning datasets: JSONL in Cloud Storage, one ``{"contents": [...]}`` example per line.

Checked at create, naming the file and line, so a malformed dataset is a 400
rather than a job that fails later. What the emulator keeps of each example is
the prompt text and the last model reply: enough to answer generateContent with
the closest training example.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.gcs.objects import ObjectStore
from reconciler.emulator.wire import ApiError, camelize, invalid

ROLES = ("user", "model")
PART_KINDS = ("text", "fileData", "inlineData", "functionCall", "functionResponse")
CHARS_PER_TOKEN = 4  # the emulator's token estimate, as for generateContent
MAX_EXAMPLE_TOKENS = 131_072  # input + output per example; longer ones are truncated
MAX_VALIDATION_EXAMPLES = 5000


@dataclass(frozen=True)
class Dataset:
    uri: str
    examples: list[tuple[str, str]]
    characters: int
    truncated: list[int]  # indices of examples over MAX_EXAMPLE_TOKENS


def tokens(characters: int) -> int:
    return math.ceil(characters / CHARS_PER_TOKEN)


def load(store: ObjectStore, uri: Any, field: str) -> Dataset:
    """Read and check the JSONL object ``uri`` names; 400 naming ``field`` if anything is off."""
    if not isinstance(uri, str) or not uri:
        raise invalid(f"{field} is required.")
    bucket, slash, name = uri.removeprefix("gs://").partition("/")
    if not uri.startswith("gs://") or not bucket or not slash or not name:
        raise invalid(f"{field} must be a Cloud Storage URI gs://BUCKET/OBJECT, got {uri!r}.")
    stored = store.get(bucket, name)
    if stored is None:
        raise ApiError(
            400,
            f"{field} {uri} does not exist or the service agent cannot read it.",
            status="FAILED_PRECONDITION",
        )
    try:
        text = stored.data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(f"Dataset {uri} is not UTF-8 text.") from None
    examples: list[tuple[str, str]] = []
    characters = 0
    truncated: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        prompt, output, size = _example(line, f"Dataset {uri} line {number}")
        if tokens(size) > MAX_EXAMPLE_TOKENS:
            truncated.append(len(examples))
        examples.append((prompt, output))
        characters += size
    if not examples:
        raise invalid(f"Dataset {uri} has no examples.")
    return Dataset(uri, examples, characters, truncated)


def _example(line: str, where: str) -> tuple[str, str, int]:
    """(prompt text, last model reply, characters of text) of one JSONL line."""
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        raise invalid(f"{where}: not a JSON object.") from None
    if not isinstance(raw, dict):
        raise invalid(f"{where}: not a JSON object.")
    example = camelize(raw)
    contents = example.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid(f"{where}: contents must be a non-empty list.")
    prompt: list[str] = []
    output = ""
    size = 0
    for system_text in _texts(example.get("systemInstruction"), f"{where}: systemInstruction"):
        size += len(system_text)
    for index, content in enumerate(contents):
        place = f"{where}: contents[{index}]"
        role = content.get("role") if isinstance(content, dict) else None
        if role not in ROLES:
            raise invalid(f'{place}.role must be "user" or "model", got {role!r}.')
        texts = _texts(content, place)
        size += sum(len(t) for t in texts)
        if role == "user":
            prompt.extend(texts)
        else:
            output = "".join(texts)
    if contents[-1].get("role") != "model":
        raise invalid(f"{where}: the last of contents must have role model (the expected reply).")
    return "\n".join(prompt), output, size


def _texts(content: Any, place: str) -> list[str]:
    """The text parts of a Content; every part must hold one kind of data."""
    if content is None and place.endswith("systemInstruction"):
        return []
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not parts:
        raise invalid(f"{place}.parts must be a non-empty list.")
    texts = []
    for index, part in enumerate(parts):
        kinds = [k for k in PART_KINDS if isinstance(part, dict) and k in part]
        if len(kinds) != 1:
            raise invalid(
                f"{place}.parts[{index}] must hold exactly one of {', '.join(PART_KINDS)}."
            )
        if kinds[0] == "text":
            if not isinstance(part["text"], str):
                raise invalid(f"{place}.parts[{index}].text must be a string.")
            texts.append(part["text"])
    return texts
