"""The I/O shell: runs plans against the API and records every step in the state.

``workflows`` holds plan, apply and destroy as plain functions (``importing``
and ``waiting`` the other two commands, ``refresh`` what they all read first,
``destroying`` the destroy plan); ``executor`` schedules a plan's actions,
``actions`` performs each with the write-ahead protocol, ``outcomes`` names
what happened; ``journal`` serialises state writes; ``progress`` shows tuning
progress.
"""
