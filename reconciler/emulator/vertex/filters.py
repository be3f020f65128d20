"""The list ``filter`` (AIP-160) as far as tuning jobs need it.

Supported: terms joined by ``AND`` or a space, each one of

* ``labels.KEY=VALUE``, ``labels.KEY!=VALUE``, ``labels.KEY:*`` or ``labels:KEY``
  (the label is set: Vertex AI documents both spellings for its list filters),
* ``state=JOB_STATE_...``, ``state!=JOB_STATE_...``,

with values bare or double-quoted. Anything else is refused with 400 naming the
term, so a client never mistakes an ignored filter for an empty match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.emulator.wire import invalid

MAX_FILTER_CHARS = 2000
_TERM = re.compile(
    r"\s*(?:(?<=\s)AND\s+)?(?P<field>[A-Za-z_][\w.-]*)\s*(?P<op>!=|=|:)\s*"
    r'(?P<value>"(?:[^"\\]|\\.)*"|[^\s"()]+)'
)


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    value: str


Matcher = Callable[[dict[str, str], str], bool]


def parse(text: str) -> Matcher:
    """A predicate over (labels, state); the empty filter matches everything."""
    if len(text) > MAX_FILTER_CHARS:
        raise invalid(f"The filter is longer than {MAX_FILTER_CHARS} characters.")
    terms: list[Term] = []
    position = 0
    stripped = text.strip()
    while position < len(stripped):
        found = _TERM.match(stripped, position)
        if found is None or (position and not stripped[position].isspace()):
            raise invalid(f'Unsupported filter "{text}" at character {position + 1}.')
        value = found["value"]
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        terms.append(_checked(Term(found["field"], found["op"], value), text))
        position = found.end()

    def matches(labels: dict[str, str], state: str) -> bool:
        return all(_holds(term, labels, state) for term in terms)

    return matches


def _checked(term: Term, text: str) -> Term:
    if term.field == "state" and term.op in ("=", "!="):
        return term
    if term.field == "labels" and term.op == ":" and term.value:
        return Term(f"labels.{term.value}", ":", "*")
    is_label = term.field.startswith("labels.") and len(term.field) > len("labels.")
    if is_label and (term.op in ("=", "!=") or (term.op == ":" and term.value == "*")):
        return term
    raise invalid(
        f'Unsupported filter "{text}": supported terms are labels.KEY=VALUE, labels.KEY!=VALUE, '
        "labels.KEY:*, labels:KEY, state=STATE and state!=STATE."
    )


def _holds(term: Term, labels: dict[str, str], state: str) -> bool:
    if term.field == "state":
        actual: str | None = state
    else:
        actual = labels.get(term.field.removeprefix("labels."))
    if term.op == ":":
        return actual is not None
    if term.op == "=":
        return actual == term.value
    return actual != term.value
