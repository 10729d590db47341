"""Fault injection for the crash tests: a named step where the process can be made to die at once.

`crash_point("merge.after_ref")` does nothing unless the environment variable SNOWTOWER_CRASH_AT names
that step; then the process exits on the spot with os._exit (no finally blocks, no flush, no rollback
but the database's own), as a kill -9 would leave it. tests/test_crash_audit.py runs operations in a
subprocess with each step named in turn and checks that the repair completes what was left.
"""
from __future__ import annotations

import os

CRASH_ENV = "SNOWTOWER_CRASH_AT"
CRASH_EXIT = 137  # what a shell reports for a process killed by SIGKILL (128 + 9)


def crash_point(step: str) -> None:
    """Exit the process at once (status CRASH_EXIT) when SNOWTOWER_CRASH_AT equals `step`."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(CRASH_EXIT)
