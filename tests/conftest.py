"""Shared fixtures: a served emulator (real HTTP, free port) and a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import ServedEmulator, serve_emulator


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[ServedEmulator]:
    """One emulator per test module (tuning completes at once); reset before each use."""
    with serve_emulator("--step-seconds", "0", "--seed", "1") as server:
        yield server


@pytest.fixture
def emulator(module_emulator: ServedEmulator) -> ServedEmulator:
    """A served emulator with no models, operations or counts."""
    module_emulator.reset()
    module_emulator.configure(latencyMs=0, faultRate=0.0, stepSeconds=0.0, tuningFailRate=0.0)
    return module_emulator
