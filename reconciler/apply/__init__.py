"""The I/O shell: runs plans against the API and records every step in the state.

``workflows`` holds the commands that change things (plan, apply, destroy,
import, wait) as plain functions; ``executor`` carries out a plan with the
write-ahead protocol; ``journal`` serialises state writes; ``progress`` shows
tuning progress.
"""
