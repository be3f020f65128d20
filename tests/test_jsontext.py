"""Large documents are printed by ``jsontext.pretty``: the same text ``json.dumps`` gives."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.jsontext import pretty

# The documented differences, both still the same JSON values: floats below 1e-4
# (1e-5 rather than 1e-05), and DEL (U+007F) left as it is under ensure_ascii.
text = st.text(alphabet=st.characters(blacklist_characters="\x7f"))
floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or abs(x) >= 1e-4)
scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | floats | text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300)
@given(values, st.booleans())
def test_pretty_is_json_dumps_with_indent_2(value: object, ensure_ascii: bool) -> None:
    assert pretty(value, ensure_ascii=ensure_ascii) == json.dumps(
        value, indent=2, ensure_ascii=ensure_ascii
    )


def test_the_differences_are_the_same_values() -> None:
    value = {"learningRate": 1e-05, "tiny": [3e-07], "del\x7f": "\x7f"}
    assert json.loads(pretty(value)) == value


def test_what_only_the_standard_library_can_write_is_written_by_it() -> None:
    value = {"name": "\ud800"}  # a lone surrogate, as json.loads can return one
    assert pretty(value) == json.dumps(value, indent=2)
