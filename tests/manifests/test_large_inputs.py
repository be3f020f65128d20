"""Inputs below the size limit that used to cost minutes and gigabytes: refused cheaply, limit named."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from reconciler.manifests import MAX_VALUES_PER_FILE, inspect_manifests
from tests.support.measure import measure
from tests.support.servers import REPO_ROOT

# A list of 31 million ones: 62 MB, under the 64 MiB file limit. Building its
# tree before counting took 53 s and 8.4 GB; the limit must apply while parsing.
BIG_LIST = b"a: [" + b"1," * (31_000_000 - 1) + b"1]\n"


def test_a_62_mb_manifest_is_refused_cheaply_and_says_what_the_limit_is(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "big.yaml").write_bytes(BIG_LIST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env["PYTHONPATH"] = str(REPO_ROOT)

    # The wall-clock timeout is only a safety net on a busy machine; the
    # bound itself is on CPU time, which load does not inflate.
    run = measure(
        [sys.executable, "-m", "reconciler", "validate"], cwd=tmp_path, env=env, timeout=120
    )

    assert run.returncode == 1
    assert run.stdout.splitlines()[0] == (
        f"manifests/big.yaml:1:{2 * MAX_VALUES_PER_FILE + 1}: error: more than "
        f"{MAX_VALUES_PER_FILE:,} values in this file (the limit per manifest file); "
        "split it, or keep large datasets in data files"
    )
    assert run.cpu_seconds < 5, run.cpu_seconds
    assert run.peak_rss_mib < 500, run.peak_rss_mib


def test_the_limit_is_shared_by_the_documents_of_a_file(tmp_path: Path) -> None:
    per_document = MAX_VALUES_PER_FILE // 4
    document = b"a: [" + b"1," * (per_document - 1) + b"1]\n"
    (tmp_path / "many.yaml").write_bytes(b"---\n".join([document] * 5))

    result = inspect_manifests([tmp_path], root=tmp_path, use_cache=False)

    # Documents on lines 1, 3, 5, 7: the fourth passes the limit by its two
    # values (mapping, list) beyond a quarter each.
    limit = [d for d in result.errors if "values in this file" in d.message]
    assert [d.location.line for d in limit] == [7]


def test_deep_nesting_through_aliases_is_refused(tmp_path: Path) -> None:
    # Each anchor nests the previous one 60 levels deeper: no line is deep,
    # the values are.
    lines = ["a0: &a0 1"]
    for level in range(1, 4):
        lines.append(f"a{level}: &a{level} " + "[" * 60 + f"*a{level - 1}" + "]" * 60)
    (tmp_path / "deep.yaml").write_text("\n".join(lines) + "\n")

    result = inspect_manifests([tmp_path], root=tmp_path, use_cache=False)

    assert [(d.location.line, d.message) for d in result.errors] == [
        (3, "nesting deeper than 100 levels")
    ]
