"""The three connections the query layer runs on; each is a `CursorSource` (see queries.py).

- `streamlit_source(conn)`: the portal hands in `st.connection("snowflake")` (secrets.toml locally,
  the active session in Streamlit in Snowflake). Core never imports Streamlit: it only calls the
  connection's `raw_connection`, a connector connection with paramstyle qmark.
- `connector_source()`: the Snowflake connector with key-pair auth from SNOWFLAKE_* variables, for the CLI.
- `standin_source(folder)`: the demo's local stand-in, fakesnow over the DuckDB file `SNOWFLAKE.db`
  in `folder`, opened read-only per question so several processes (portal, CLI) can read it at once.
"""
from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path

from core.snowflake.queries import CursorSource, QueryError

STANDIN_FILE = "SNOWFLAKE.db"
# fakesnow reads DuckDB results through the DB-API path, and DuckDB warns about the copy on every query.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


def streamlit_source(conn) -> CursorSource:
    """A source over `st.connection("snowflake")` (its connector connection is opened once and kept)."""
    return CursorSource(lambda: conn.raw_connection, placeholder="?")


def connector_source(env: dict | None = None) -> CursorSource:
    """A source over the Snowflake connector, key-pair auth from the environment (SNOWFLAKE_ACCOUNT,
    SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_PRIVATE_KEY [+ _PASSPHRASE], optional
    SNOWFLAKE_ROLE and SNOWFLAKE_WAREHOUSE; the role needs IMPORTED PRIVILEGES on database SNOWFLAKE).

    Raises QueryError when no credentials are set."""
    from core.snowddl.plan import live_credentials

    options = live_credentials(os.environ if env is None else env)
    if options is None:
        raise QueryError("no Snowflake credentials: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and "
                         "SNOWFLAKE_PRIVATE_KEY_PATH (or SNOWFLAKE_PRIVATE_KEY)")

    def connect():
        import snowflake.connector

        return snowflake.connector.connect(**options, paramstyle="qmark")

    return CursorSource(connect, placeholder="?")


# A new Snowflake session's TIMEZONE when neither the account nor the user sets one
# (https://docs.snowflake.com/en/sql-reference/parameters#timezone). The stand-in starts every session
# there, so a query that forgets to set UTC shows Pacific days, as on a real account.
ACCOUNT_DEFAULT_TIMEZONE = "America/Los_Angeles"
_SET_TIMEZONE = re.compile(r"\s*ALTER\s+SESSION\s+SET\s+TIMEZONE\s*=\s*'([A-Za-z_/+\-0-9]+)'\s*;?\s*", re.IGNORECASE)


class _StandInCursor:
    """fakesnow's cursor, plus what fakesnow 0.12 lacks: `ALTER SESSION SET TIMEZONE = '<zone>'` (it answers
    "not implemented") is carried out as DuckDB's per-connection TimeZone setting, which is what
    TIMESTAMPTZ (the stand-in's TIMESTAMP_LTZ) is shown, compared and cut into days in."""

    def __init__(self, cursor, duck):
        self._cursor, self._duck = cursor, duck

    def execute(self, sql, params=None):
        m = _SET_TIMEZONE.fullmatch(sql) if isinstance(sql, str) else None
        if m:
            self._duck.execute("SET TimeZone = ?", [m.group(1)])
            return self
        return self._cursor.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _StandIn:
    """fakesnow's connection over a DuckDB file attached read-only; closing it releases the file. Its
    session starts in ACCOUNT_DEFAULT_TIMEZONE, like a real account's."""

    def __init__(self, folder: Path):
        from fakesnow.instance import FakeSnow

        self._fs = FakeSnow(db_path=folder, create_database_on_connect=False, create_schema_on_connect=False)
        path = str(folder / STANDIN_FILE).replace("'", "''")
        self._fs.duck_conn.execute(f"ATTACH '{path}' AS SNOWFLAKE (READ_ONLY)")
        self._conn = self._fs.connect(database="SNOWFLAKE", schema="ACCOUNT_USAGE", paramstyle="qmark")
        self._duck = self._conn._duck_conn  # fakesnow gives each connection its own DuckDB connection
        self._duck.execute(f"SET TimeZone = '{ACCOUNT_DEFAULT_TIMEZONE}'")
        # FLATTEN (https://docs.snowflake.com/en/sql-reference/functions/flatten): fakesnow turns it into its
        # _fs_flatten macro, which it creates only in databases it creates itself; the attached read-only file
        # is not one, so fakesnow's own macro is created for this connection (temp catalog) instead.
        from fakesnow import macros

        self._duck.execute(macros.FS_FLATTEN.substitute(catalog="").replace("MACRO ._fs_flatten", "TEMP MACRO _fs_flatten"))

    def cursor(self):
        return _StandInCursor(self._conn.cursor(), self._duck)

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._fs.duck_conn.close()


def busy(exc: Exception) -> bool:
    """True if DuckDB refused the stand-in only because it is open for writing elsewhere: a file lock
    held by another process, or, in this process, "Unique file handle conflict" (attaching it) or "same
    database file with a different configuration" (connecting to it): the portal serves all sessions
    from one process, so one admin's merge writes while another's cost page reads."""
    text = str(exc).lower()
    return "lock" in text or "file handle conflict" in text or "same database file with a different configuration" in text


def open_standin(folder: Path, wait_seconds: float = 5.0) -> _StandIn:
    """Open the stand-in read-only; waits while it is being written (a demo deployment), in this
    process or another. Raises QueryError if it is missing, damaged, or still busy after `wait_seconds`."""
    folder = Path(folder)
    if not (folder / STANDIN_FILE).is_file():
        raise QueryError(f"the demo account has not been generated in {folder}")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return _StandIn(folder)
        except Exception as exc:  # duckdb's IOException or "Unique file handle conflict": a writer holds it
            if not busy(exc) or time.monotonic() > deadline:
                raise QueryError(f"the demo account at {folder} cannot be opened: {exc}") from exc
            time.sleep(0.1)


def standin_source(folder: Path) -> CursorSource:
    return CursorSource(lambda: open_standin(Path(folder)), placeholder="?", close_after=True)
