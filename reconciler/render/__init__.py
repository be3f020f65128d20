"""Turning results into text for people and programs: styling only, no decisions.

One module per noun: ``render.plan`` (plan as text, JSON, markdown); the
inventory renderings live beside it.
"""
