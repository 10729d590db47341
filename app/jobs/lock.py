"""The jobs' file lock (moved from app/operations/expire.py): `job_lock(path, wait)` holds an exclusive
lock on a file for a block, so one run of a job at a time per workspace. `wait` in seconds; raises
core.changes.base.ChangeError when another run still holds the lock after it."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

from core.changes.base import ChangeError

LOCK_WAIT = 600  # seconds a run waits for another one to finish before it gives up


@contextlib.contextmanager
def job_lock(path: Path, wait: float = LOCK_WAIT):
    """Hold an exclusive lock on `path` (created if missing) for the block: one expire run at a time per
    workspace (on GitHub the workflow's concurrency group does the same across runners). The operating
    system drops the lock when its process ends, however it ends. Raises ChangeError when another run
    still holds it after `wait` seconds."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ChangeError(f"another `snowtower expire --submit` has been running for over {int(wait)} s "
                                      "in this workspace; nothing was opened. Try again when it has finished.") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
