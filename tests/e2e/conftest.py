"""Fixtures for the end-to-end tests: a fresh workspace against the module's served emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.workspace import Workspace
from tests.support.servers import ServedEmulator


@pytest.fixture
def ws(tmp_path: Path, emulator: ServedEmulator) -> Workspace:
    """An empty working copy (manifests/ and state in tmp_path) against a reset emulator."""
    return Workspace(root=tmp_path, emulator=emulator)
