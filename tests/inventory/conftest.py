"""Fixtures for the inventory tests: one served project with every status, built once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.inventory.scenario import Project, build_project
from tests.support.servers import ServedEmulator


@pytest.fixture(scope="module")
def project(module_emulator: ServedEmulator, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Read-only for the tests that use it: they share one emulator and one state file."""
    state_path = tmp_path_factory.mktemp("inventory-state") / ".reconciler" / "state.json"
    return build_project(module_emulator, Path(state_path))
