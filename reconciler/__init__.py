"""reconciler: config-as-code for Gemini API tuned models."""

__version__ = "0.1.0"
