"""The three connections the query layer runs on; each is a `CursorSource` (see queries.py).

- `streamlit_source(conn)`: the portal hands in `st.connection("snowflake")` (secrets.toml locally,
  the active session in Streamlit in Snowflake). Core never imports Streamlit: it only calls the
  connection's `raw_connection`, a connector connection with paramstyle qmark.
- `connector_source()`: the Snowflake connector with key-pair auth from SNOWFLAKE_* variables, for the CLI.
- `standin_source(folder)`: the demo's local stand-in, fakesnow over the DuckDB file `SNOWFLAKE.db`
  in `folder`, opened read-only per question so several processes (portal, CLI) can read it at once.
"""
from __future__ import annotations

import atexit
import re
import shutil
import sys
import threading
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

    options = live_credentials(env)  # None: the process's environment
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


# Snowflake's budgets (https://docs.snowflake.com/en/user-guide/budgets), read by calling methods of class instances
# and a system function, which fakesnow does not know. The stand-in answers them from SNOWTOWER_DEMO.BUDGETS (one row
# per budget: the account budget SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET and custom budgets, with what the portal's role
# may see: VIEWER = it holds an application role of the account budget or an instance role of a custom one, ADMIN =
# the ADMIN instance role) and SNOWTOWER_DEMO.BUDGET_RESOURCES (the objects added to each custom budget).
_CALL_METHOD = re.compile(r"\s*CALL\s+(.+?)!(GET_SPENDING_LIMIT|GET_LINKED_RESOURCES)\(\s*\)\s*;?\s*", re.IGNORECASE | re.DOTALL)
_SHOW_BUDGETS = re.compile(r"\s*SELECT\s+SYSTEM\$SHOW_BUDGETS_IN_ACCOUNT\(\s*\)(?:\s+AS\s+(\w+))?\s*;?\s*", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(r"\A(?:\s*--[^\n]*(?:\n|\Z))*")  # a SQL file's header comment
_NAME_PART = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')


def _name_parts(text: str) -> tuple[str, ...] | None:
    """`DB.SCHEMA.NAME` or `"Db"."Schema"."Name"` as Snowflake resolves it: unquoted parts upper case, quoted ones
    exact; None when it is not a three-part name."""
    parts, pos, text = [], 0, text.strip()
    while True:
        m = _NAME_PART.match(text, pos)
        if not m:
            return None
        parts.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2).upper())
        pos = m.end()
        if pos == len(text):
            return tuple(parts) if len(parts) == 3 else None
        if text[pos] != ".":
            return None
        pos += 1


def _not_authorized(name: str) -> Exception:
    """Snowflake's answer for an object the role cannot see, which it does not tell from one that does not exist
    (error 2003, "Object '...' does not exist or not authorized"): a budget method called without an application
    role of the account budget or an instance role of a custom budget fails so
    (https://docs.snowflake.com/en/sql-reference/classes/budget/methods/get_spending_limit, access control)."""
    import snowflake.connector.errors as errors

    return errors.ProgrammingError(msg=f"SQL compilation error:\nObject '{name}' does not exist or not authorized.",
                                   errno=2003, sqlstate="02000")


class _StandInCursor:
    """fakesnow's cursor, plus what fakesnow 0.12 lacks:
    - `ALTER SESSION SET TIMEZONE = '<zone>'` (it answers "not implemented") is carried out as DuckDB's
      per-connection TimeZone setting, which is what TIMESTAMPTZ (the stand-in's TIMESTAMP_LTZ) is shown,
      compared and cut into days in;
    - Snowflake's budgets, as their documentation pages describe them:
      `CALL <budget>!GET_SPENDING_LIMIT()` answers the limit in credits, -1 when none is set
      (https://docs.snowflake.com/en/sql-reference/classes/budget/methods/get_spending_limit);
      `CALL <budget>!GET_LINKED_RESOURCES()` lists the objects added to a custom budget and needs its ADMIN
      instance role (https://docs.snowflake.com/en/sql-reference/classes/budget/methods/get_linked_resources);
      `SELECT SYSTEM$SHOW_BUDGETS_IN_ACCOUNT()` gives the custom budgets the role holds any privilege on, as JSON
      (https://docs.snowflake.com/en/sql-reference/functions/system_show_budgets_in_account);
      a budget the role has no role of fails as not existing or not authorized."""

    def __init__(self, cursor, duck):
        self._cursor, self._duck = cursor, duck

    def execute(self, sql, params=None):
        m = _SET_TIMEZONE.fullmatch(sql) if isinstance(sql, str) else None
        if m:
            self._duck.execute("SET TimeZone = ?", [m.group(1)])
            return self
        if isinstance(sql, str):
            statement = _LEADING_COMMENTS.sub("", sql)
            if m := _CALL_METHOD.fullmatch(statement):
                return self._budget_method(m.group(1), m.group(2).upper())
            if m := _SHOW_BUDGETS.fullmatch(statement):
                return self._show_budgets(m.group(1) or "SYSTEM$SHOW_BUDGETS_IN_ACCOUNT()")
        return self._cursor.execute(sql, params)

    def _budget(self, text: str, admin: bool) -> int:
        parts = _name_parts(text)
        row = None
        if parts:
            row = self._duck.execute("SELECT ID, VIEWER, ADMIN FROM SNOWFLAKE.SNOWTOWER_DEMO.BUDGETS "
                                     "WHERE DATABASE_NAME = ? AND SCHEMA_NAME = ? AND NAME = ?", list(parts)).fetchone()
        if row is None or not row[1] or (admin and not row[2]):
            raise _not_authorized(".".join(parts) if parts else text.strip())
        return int(row[0])

    def _budget_method(self, text: str, method: str):
        budget = self._budget(text, admin=method == "GET_LINKED_RESOURCES")
        if method == "GET_SPENDING_LIMIT":
            return self._cursor.execute("SELECT COALESCE(SPENDING_LIMIT, -1) AS GET_SPENDING_LIMIT "
                                        "FROM SNOWFLAKE.SNOWTOWER_DEMO.BUDGETS WHERE ID = ?", [budget])
        return self._cursor.execute("SELECT RESOURCE_ID, NAME, DOMAIN, SCHEMA_NAME, DATABASE_NAME "
                                    "FROM SNOWFLAKE.SNOWTOWER_DEMO.BUDGET_RESOURCES WHERE BUDGET_ID = ? ORDER BY NAME", [budget])

    def _show_budgets(self, column: str):
        import json

        rows = self._duck.execute(
            "SELECT DATABASE_NAME, SCHEMA_NAME, NAME, ID, epoch_ms(CREATED_ON), CURRENT_VERSION, COMMENT "
            "FROM SNOWFLAKE.SNOWTOWER_DEMO.BUDGETS WHERE VIEWER AND NOT (DATABASE_NAME = 'SNOWFLAKE' AND SCHEMA_NAME = 'LOCAL') "
            "ORDER BY ID").fetchall()
        text = json.dumps([dict(zip(("DATABASE", "SCHEMA", "NAME", "ID", "CREATED_ON", "CURRENT_VERSION", "COMMENT"), r, strict=True))
                           for r in rows])
        return self._cursor.execute(f"SELECT ? AS {column.upper() if column.isidentifier() else 'BUDGETS'}", [text])

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class _StandIn:
    """fakesnow's connection over a DuckDB file attached read-only; closing it releases the file. Its
    session starts in ACCOUNT_DEFAULT_TIMEZONE, like a real account's."""

    def __init__(self, folder: Path):
        self._fs = _idle_fakesnow(folder)
        path = str(folder / STANDIN_FILE).replace("'", "''")
        try:
            self._fs.duck_conn.execute(f"ATTACH '{path}' AS SNOWFLAKE (READ_ONLY)")
        except BaseException:
            _keep_idle(self._fs)  # nothing attached: it stays reusable
            raise
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
            try:  # the file released (as closing did), the in-memory instance kept for the next question
                self._fs.duck_conn.execute("DETACH SNOWFLAKE")
            except BaseException:
                self._fs.duck_conn.close()
                raise
            _keep_idle(self._fs)


# fakesnow's instance (an in-memory DuckDB holding its information-schema and SHOW views) costs about 40 ms of
# CPU to make, more than most questions' answers; a page asks dozens. Instances with no file attached are
# kept for the next _StandIn (each gets its own DuckDB connection and attaches the file afresh), at most
# IDLE_FAKESNOWS at once; one is never shared by two open _StandIns.
IDLE_FAKESNOWS = 4
_idle: list = []
_idle_lock = threading.Lock()


def _idle_fakesnow(folder: Path):
    """An idle fakesnow instance (db_path `folder`), or a new one."""
    with _idle_lock:
        fs = _idle.pop() if _idle else None
    if fs is None:
        from fakesnow.instance import FakeSnow

        return FakeSnow(db_path=folder, create_database_on_connect=False, create_schema_on_connect=False)
    fs.db_path = folder
    return fs


@atexit.register
def _remove_fakesnows_bucket() -> None:
    """fakesnow makes a temporary folder for stages when it is imported (fakesnow/transforms/stage.py,
    LOCAL_BUCKET_PATH) and never removes it: one left in /tmp by every process that loaded it. The
    stand-in has no stages; the folder goes when a process that loaded this module exits."""
    folder = getattr(sys.modules.get("fakesnow.transforms.stage"), "LOCAL_BUCKET_PATH", None)  # (fakesnow 0.12's name)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def _keep_idle(fs) -> None:
    """Keep `fs` (nothing attached) for reuse, without the results of the questions it answered; closed beyond
    IDLE_FAKESNOWS."""
    fs.results_cache.clear()  # fakesnow keeps every result by query id (for results by id): not wanted here
    with _idle_lock:
        if len(_idle) < IDLE_FAKESNOWS:
            _idle.append(fs)
            return
    fs.duck_conn.close()


def busy(exc: BaseException) -> bool:
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
