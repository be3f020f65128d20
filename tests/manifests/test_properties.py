"""Random and mutated manifests: never a traceback, always located diagnostics or a clean load."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.manifests import inspect_manifests

VALID = """apiVersion: gemini.tuning/v1
kind: TunedModel
metadata:
  name: m
spec:
  displayName: M
  baseModel: models/gemini-1.5-flash-001-tuning
  temperature: 0.5
  topK: 3
  tuningTask:
    trainingData: d
    hyperparameters: {epochCount: 2, batchSize: 1}
  lifecycle: {preventDestroy: true, ignoreChanges: [description]}
---
apiVersion: gemini.tuning/v1
kind: Dataset
metadata:
  name: d
spec:
  examples:
    - {textInput: "1", output: "2"}
"""

TOKENS = [":", "-", " ", "\n", "  ", "[", "]", "{", "}", "&a", "*a", "!!python/object", "---", '"', "'",
          "kind", "spec", "null", "1e9", "-1", "TunedModel", "\t", "#", "<<", "|", ">", "?"]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _check(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "m.yaml").write_text(text, encoding="utf-8")
        result = inspect_manifests([root], root=root, use_cache=False)
    for diagnostic in result.diagnostics:
        assert diagnostic.location.file.endswith("m.yaml")
        assert diagnostic.message
        if diagnostic.severity == "error" and "file" not in diagnostic.message:
            assert diagnostic.location.line >= 1
            assert diagnostic.location.column >= 1


@settings(max_examples=200, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(VALID)),
    cut=st.integers(min_value=0, max_value=8),
    insert=st.lists(st.sampled_from(TOKENS), max_size=4),
)
def test_mutated_manifests_give_located_diagnostics(
    position: int, cut: int, insert: list[str]
) -> None:
    _check(VALID[:position] + "".join(insert) + VALID[position + cut :])


@settings(max_examples=100, deadline=None)
@given(spec=st.dictionaries(st.sampled_from(
    ["displayName", "baseModel", "tunedModelSource", "temperature", "topK", "tuningTask", "lifecycle", "x"]
), JSONISH, max_size=5))  # fmt: skip
def test_random_specs_give_located_diagnostics(spec: dict[str, object]) -> None:
    import json

    document = {
        "apiVersion": "gemini.tuning/v1",
        "kind": "TunedModel",
        "metadata": {"name": "m"},
        "spec": spec,
    }
    _check(json.dumps(document))  # JSON is YAML
