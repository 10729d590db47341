"""The demo account's stand-in file, generated once per test run for each set of inputs and copied into every
workspace that asks for the same one (in the tests' processes and the demo servers the browser tests start).

`core.snowflake.demo.generate` is deterministic: the same config (its `describe` rows), end date and QUERY_HISTORY
row count give the same rows on every machine (its module docstring); the config sha it is given only goes into
its META table, which is set on each copy. The suite builds a demo
workspace for most of its tests, and each generated its account again: about 0.3 CPU-s at 5,000 rows, 1.3 s at
the demo's 100,000. Here a workspace's account (generate called without an end date: ensure_demo_account, the
demo's own path) is generated once, kept in the run's cache folder, and copied, through a temporary name and
os.replace as generate itself writes it. Calls with an end date (the generator's own tests, some of which make
it fail halfway on purpose) and row counts out of bounds run the real generator, untouched.

The folder is named by TESTS_STANDIN_CACHE, which the run's first process sets (tests/conftest.py) and
removes at its end; xdist's workers and the demo servers inherit it."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

ENV = "TESTS_STANDIN_CACHE"  # not SNOWTOWER_*: the settings refuse unknown names of theirs


def start_run() -> str | None:
    """In the run's first process: make the cache folder and name it in the environment. Returns the folder
    made here (to remove at the end), None when an outer process made it."""
    if os.environ.get(ENV):
        return None
    folder = tempfile.mkdtemp(prefix="snowtower-standins-")
    os.environ[ENV] = folder
    return folder


def use_standin_cache() -> None:
    """Serve `demo.generate` from the cache in this process (idempotent; nothing without TESTS_STANDIN_CACHE)."""
    cache = os.environ.get(ENV)
    import duckdb

    from core.snowflake import demo
    from core.snowflake.connect import STANDIN_FILE
    from core.snowflake.demo_planted import plant

    if not cache or getattr(demo.generate, "standin_cache", False):
        return
    real = demo.generate

    def generate(folder, config, end_date=None, query_rows=demo.DEFAULT_QUERY_ROWS, config_sha=""):
        if end_date is not None or not isinstance(query_rows, int) or not 1 <= query_rows <= demo.MAX_QUERY_ROWS:
            return real(folder, config, end_date, query_rows, config_sha)
        end = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)  # generate's own default
        shape = demo.describe(config)
        key = hashlib.sha256(json.dumps([shape, end.isoformat(), query_rows], sort_keys=True,
                                        default=str).encode()).hexdigest()
        kept = Path(cache) / f"{key}.db"
        if not kept.is_file():
            planted = real(folder, config, end, query_rows, config_sha)
            tmp = Path(cache) / f"{key}.{os.getpid()}.{threading.get_ident()}.tmp"  # one writer per name
            try:
                shutil.copyfile(Path(folder) / STANDIN_FILE, tmp)
                os.replace(tmp, kept)
            except OSError:
                tmp.unlink(missing_ok=True)
            return planted
        target = Path(folder)
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError:
            return real(folder, config, end, query_rows, config_sha)  # its own error for a folder it cannot make
        tmp = target / (STANDIN_FILE + ".tmp")
        for leftover in (tmp, Path(str(tmp) + ".wal")):  # a killed writer's, as generate itself removes them:
            leftover.unlink(missing_ok=True)  # DuckDB refuses a log that does not match its file
        shutil.copyfile(kept, tmp)
        db = duckdb.connect(str(tmp))  # the one input left out of the key: the commit the account was made for
        try:
            db.execute("INSERT OR REPLACE INTO SNOWTOWER_DEMO.META VALUES ('CONFIG_SHA', ?)", [config_sha])
            db.execute("CHECKPOINT")
        finally:
            db.close()
        Path(str(target / STANDIN_FILE) + ".wal").unlink(missing_ok=True)  # as generate does
        os.replace(tmp, target / STANDIN_FILE)
        return plant(shape, end, query_rows)

    generate.standin_cache = True  # type: ignore[attr-defined]
    demo.generate = generate
