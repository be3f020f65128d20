"""Token counts: one rule for ``:countTokens`` and every answer's ``usageMetadata``.

Not the real tokenizer (it is not published): text costs a token per four
characters, rounded up per part; an image, file or blob a flat 258 (what the
service charges an image); a function call or response, executable code or a
result the characters of its JSON. What matters is that the numbers agree:
``usageMetadata.promptTokenCount`` of an answer is what ``:countTokens`` says
for the same request. Pure.
"""

from __future__ import annotations

import json
import math
from typing import Any

CHARS_PER_TOKEN = 4
MEDIA_TOKENS = 258


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def part_tokens(part: dict[str, Any]) -> int:
    if "text" in part:
        return text_tokens(part["text"])
    if "inlineData" in part or "fileData" in part:
        return MEDIA_TOKENS
    for kind in ("functionCall", "functionResponse", "executableCode", "codeExecutionResult"):
        if kind in part:
            return text_tokens(json.dumps(part[kind], sort_keys=True, separators=(",", ":")))
    return 0


def content_tokens(contents: list[dict[str, Any]]) -> int:
    return sum(part_tokens(part) for content in contents for part in content.get("parts", []))


def prompt_tokens(
    contents: list[dict[str, Any]],
    *,
    system_instruction: dict[str, Any] | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> int:
    """What the prompt of a request costs: its contents, system instruction and tools."""
    total = content_tokens(contents)
    if system_instruction is not None:
        total += content_tokens([system_instruction])
    if tools:
        total += text_tokens(json.dumps(tools, sort_keys=True, separators=(",", ":")))
    return total
