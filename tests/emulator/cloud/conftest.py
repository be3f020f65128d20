"""The Vertex AI and Cloud Storage surfaces over real HTTP (fixtures in tests/support/cloud.py)."""

from tests.support.cloud import module_served, served, trained

__all__ = ["module_served", "served", "trained"]
