"""Vertex AI (Gemini Enterprise Agent Platform) supervised tuning, on the emulator's port.

Served under ``/v1`` and ``/v1beta1`` (google-genai uses v1beta1):

    from reconciler.emulator.vertex.routes import ROUTES   # (method, path template, handler, stream)
"""
