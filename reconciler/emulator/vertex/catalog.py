"""What Vertex AI supervised tuning accepts: base models, adapter sizes, regions, names.

From the supervised-tuning documentation (2026-09): the base models below, their
adapter sizes, and the two 2026 models that tune only in us-central1 or
europe-west4, serve only from the ``us``/``eu`` multi-regions and take no CMEK.
"""

from __future__ import annotations

import hashlib

ADAPTER_SIZES = {
    "ADAPTER_SIZE_ONE": 1,
    "ADAPTER_SIZE_TWO": 2,
    "ADAPTER_SIZE_FOUR": 4,
    "ADAPTER_SIZE_EIGHT": 8,
    "ADAPTER_SIZE_SIXTEEN": 16,
    "ADAPTER_SIZE_THIRTY_TWO": 32,
}

# base model id -> adapter sizes it accepts
BASE_MODELS: dict[str, frozenset[int]] = {
    "gemini-2.5-flash": frozenset({1, 2, 4, 8, 16}),
    "gemini-2.5-flash-lite": frozenset({1, 2, 4, 8, 16}),
    "gemini-2.5-pro": frozenset({1, 2, 4, 8}),
    "gemini-3.5-flash": frozenset({1, 2, 4, 8, 16}),
    "gemini-3.1-flash-lite": frozenset({1, 2, 4, 8, 16}),
}

# base model -> {tuning region -> multi-region its tuned endpoint serves from}
MULTI_REGION_SERVING: dict[str, dict[str, str]] = {
    model: {"us-central1": "us", "europe-west4": "eu"}
    for model in ("gemini-3.5-flash", "gemini-3.1-flash-lite")
}

PUBLISHER_PREFIX = "publishers/google/models/"


def base_model_id(base_model: str) -> str:
    """``publishers/google/models/gemini-2.5-flash`` and ``gemini-2.5-flash`` name one model."""
    return base_model.removeprefix(PUBLISHER_PREFIX)


def project_number(project: str) -> str:
    """The project as Vertex names it in answers: always a number, even when called by id.

    The emulator has no project registry, so an id maps to a stable 12-digit number.
    """
    if project.isdigit():
        return project
    digest = int.from_bytes(hashlib.sha256(project.encode()).digest()[:8], "big")
    return str(100_000_000_000 + digest % 900_000_000_000)


def parent(project: str, location: str) -> str:
    return f"projects/{project_number(project)}/locations/{location}"
