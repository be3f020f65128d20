"""The base models the emulator serves under ``/v1beta/models`` (values from real listings)."""

from __future__ import annotations

from typing import Any

TUNABLE_BASE = "models/gemini-1.5-flash-001-tuning"

BASE_MODELS: dict[str, dict[str, Any]] = {
    TUNABLE_BASE: {
        "name": TUNABLE_BASE,
        "baseModelId": "gemini-1.5-flash-001-tuning",
        "version": "001",
        "displayName": "Gemini 1.5 Flash 001 Tuning",
        "description": "Version of Gemini 1.5 Flash that supports tuning.",
        "inputTokenLimit": 16384,
        "outputTokenLimit": 8192,
        "supportedGenerationMethods": ["generateContent", "countTokens", "createTunedModel"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
    },
    "models/gemini-1.5-flash-001": {
        "name": "models/gemini-1.5-flash-001",
        "baseModelId": "gemini-1.5-flash-001",
        "version": "001",
        "displayName": "Gemini 1.5 Flash 001",
        "description": "Fast and versatile multimodal model for scaling across diverse tasks.",
        "inputTokenLimit": 1000000,
        "outputTokenLimit": 8192,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
    },
}


def tunable(name: str) -> dict[str, Any] | None:
    """The base model called ``name`` if it exists and accepts createTunedModel."""
    model = BASE_MODELS.get(name)
    if model and "createTunedModel" in model["supportedGenerationMethods"]:
        return model
    return None
