"""The base models served under ``/v1beta/models`` (and ``/v1/models``), with values from real listings.

The Gemini 1.5, 2.0 and 2.5 families with their stable numbered versions and
their aliases (``gemini-1.5-flash``, ``gemini-1.5-flash-latest``,
``gemini-flash-latest``). An alias answers with the version it points to as
``modelVersion``. Only ``gemini-1.5-flash-001-tuning`` accepts
``createTunedModel``, as the seed documents say (since May 2025 the real API
has no tunable base model at all).
"""

from __future__ import annotations

from typing import Any

TUNABLE_BASE = "models/gemini-1.5-flash-001-tuning"

_GENERATE = ["generateContent", "countTokens"]
_CACHED = ["generateContent", "countTokens", "createCachedContent"]
_BATCH = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
_FLASH_15 = "our fast and versatile multimodal model for scaling across diverse tasks"
_PRO_15 = "our mid-size multimodal model that supports up to 2 million tokens"


def _model(
    model_id: str,
    version: str,
    display_name: str,
    description: str,
    *,
    limits: tuple[int, int],
    methods: list[str],
    top_k: int,
    thinking: bool = False,
    serves: str | None = None,
) -> tuple[str, dict[str, Any], str]:
    name = f"models/{model_id}"
    model: dict[str, Any] = {
        "name": name,
        "baseModelId": model_id,
        "version": version,
        "displayName": display_name,
        "description": description,
        "inputTokenLimit": limits[0],
        "outputTokenLimit": limits[1],
        "supportedGenerationMethods": methods,
        "temperature": 1.0,
        "topP": 0.95,
        "topK": top_k,
        "maxTemperature": 2.0,
    }
    if thinking:
        model["thinking"] = True
    return name, model, serves or model_id


_MODELS = [
    _model("gemini-1.5-pro-latest", "001", "Gemini 1.5 Pro Latest",
           f"Alias that points to the most recent production (non-experimental) release of Gemini 1.5 Pro, {_PRO_15}.",
           limits=(2_000_000, 8192), methods=_GENERATE, top_k=40, serves="gemini-1.5-pro-002"),
    _model("gemini-1.5-pro-001", "001", "Gemini 1.5 Pro 001",
           f"Stable version of Gemini 1.5 Pro, {_PRO_15}, released in May of 2024.",
           limits=(2_000_000, 8192), methods=_CACHED, top_k=64),
    _model("gemini-1.5-pro-002", "002", "Gemini 1.5 Pro 002",
           f"Stable version of Gemini 1.5 Pro, {_PRO_15}, released in September of 2024.",
           limits=(2_000_000, 8192), methods=_CACHED, top_k=40),
    _model("gemini-1.5-pro", "001", "Gemini 1.5 Pro",
           f"Stable version of Gemini 1.5 Pro, {_PRO_15}, released in May of 2024.",
           limits=(2_000_000, 8192), methods=_GENERATE, top_k=40, serves="gemini-1.5-pro-002"),
    _model("gemini-1.5-flash-latest", "001", "Gemini 1.5 Flash Latest",
           f"Alias that points to the most recent production (non-experimental) release of Gemini 1.5 Flash, {_FLASH_15}.",
           limits=(1_000_000, 8192), methods=_GENERATE, top_k=40, serves="gemini-1.5-flash-002"),
    _model("gemini-1.5-flash-001", "001", "Gemini 1.5 Flash 001",
           f"Stable version of Gemini 1.5 Flash, {_FLASH_15}, released in May of 2024.",
           limits=(1_000_000, 8192), methods=_CACHED, top_k=64),
    _model("gemini-1.5-flash-001-tuning", "001", "Gemini 1.5 Flash 001 Tuning",
           "Version of Gemini 1.5 Flash that supports tuning, " + _FLASH_15 + ", released in May of 2024.",
           limits=(16_384, 8192), methods=["generateContent", "countTokens", "createTunedModel"], top_k=64),
    _model("gemini-1.5-flash", "001", "Gemini 1.5 Flash",
           f"Alias that points to the most recent stable version of Gemini 1.5 Flash, {_FLASH_15}.",
           limits=(1_000_000, 8192), methods=_GENERATE, top_k=40, serves="gemini-1.5-flash-002"),
    _model("gemini-1.5-flash-002", "002", "Gemini 1.5 Flash 002",
           f"Stable version of Gemini 1.5 Flash, {_FLASH_15}, released in September of 2024.",
           limits=(1_000_000, 8192), methods=_CACHED, top_k=40),
    _model("gemini-1.5-flash-8b", "001", "Gemini 1.5 Flash-8B",
           "Stable version of Flash-8B, our smallest and most cost effective Flash model. Replaced by Gemini 2.0 Flash-Lite.",
           limits=(1_000_000, 8192), methods=_CACHED, top_k=40, serves="gemini-1.5-flash-8b-001"),
    _model("gemini-1.5-flash-8b-001", "001", "Gemini 1.5 Flash-8B 001",
           "Stable version of Flash-8B, our smallest and most cost effective Flash model, released in October of 2024.",
           limits=(1_000_000, 8192), methods=_CACHED, top_k=40),
    _model("gemini-1.5-flash-8b-latest", "001", "Gemini 1.5 Flash-8B Latest",
           "Alias that points to the most recent production (non-experimental) release of Flash-8B, our smallest and most cost effective Flash model.",
           limits=(1_000_000, 8192), methods=_CACHED, top_k=40, serves="gemini-1.5-flash-8b-001"),
    _model("gemini-2.0-flash", "2.0", "Gemini 2.0 Flash", "Gemini 2.0 Flash",
           limits=(1_048_576, 8192), methods=_BATCH, top_k=40, serves="gemini-2.0-flash-001"),
    _model("gemini-2.0-flash-001", "2.0", "Gemini 2.0 Flash 001",
           f"Stable version of Gemini 2.0 Flash, {_FLASH_15}, released in January of 2025.",
           limits=(1_048_576, 8192), methods=_BATCH, top_k=40),
    _model("gemini-2.0-flash-lite", "2.0", "Gemini 2.0 Flash-Lite", "Gemini 2.0 Flash-Lite",
           limits=(1_048_576, 8192), methods=_BATCH, top_k=40, serves="gemini-2.0-flash-lite-001"),
    _model("gemini-2.0-flash-lite-001", "2.0", "Gemini 2.0 Flash-Lite 001",
           "Stable version of Gemini 2.0 Flash-Lite",
           limits=(1_048_576, 8192), methods=_BATCH, top_k=40),
    _model("gemini-2.5-pro", "2.5", "Gemini 2.5 Pro", "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
           limits=(1_048_576, 65_536), methods=_BATCH, top_k=64, thinking=True),
    _model("gemini-2.5-flash", "001", "Gemini 2.5 Flash",
           "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
           limits=(1_048_576, 65_536), methods=_BATCH, top_k=64, thinking=True),
    _model("gemini-2.5-flash-lite", "001", "Gemini 2.5 Flash-Lite",
           "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
           limits=(1_048_576, 65_536), methods=_BATCH, top_k=64, thinking=True),
    _model("gemini-flash-latest", "2.5", "Gemini Flash Latest",
           "Latest release of Gemini Flash",
           limits=(1_048_576, 65_536), methods=_BATCH, top_k=64, thinking=True, serves="gemini-2.5-flash"),
    _model("gemini-flash-lite-latest", "2.5", "Gemini Flash-Lite Latest",
           "Latest release of Gemini Flash-Lite",
           limits=(1_048_576, 65_536), methods=_BATCH, top_k=64, thinking=True, serves="gemini-2.5-flash-lite"),
]  # fmt: skip

BASE_MODELS: dict[str, dict[str, Any]] = {name: model for name, model, _ in _MODELS}
# The model version that answers for each name (an alias answers as its target).
SERVED_VERSION: dict[str, str] = {name: serves for name, _, serves in _MODELS}


def tunable(name: str) -> dict[str, Any] | None:
    """The base model called ``name`` if it exists and accepts createTunedModel."""
    model = BASE_MODELS.get(name)
    if model and "createTunedModel" in model["supportedGenerationMethods"]:
        return model
    return None
