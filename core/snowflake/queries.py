"""The one way SnowTower reads Snowflake: named SQL files run through a source, results as DataFrames.

Each question is a file `core/snowflake/sql/<name>.sql` in Snowflake's dialect with a header comment
(what it answers, units, source view, binds) and named binds `:name`. Aggregation happens in the SQL:
no raw history is pulled into pandas. A *source* is anything with a DB-API cursor over Snowflake SQL:
the connector (key-pair auth, for the CLI), `st.connection("snowflake")` handed in by the portal (also
in Streamlit in Snowflake), or the demo's local stand-in (fakesnow over DuckDB).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Callable

import pandas as pd

SQL_DIR = Path(__file__).resolve().parent / "sql"
# Run once on every connection a source opens, before any question. ACCOUNT_USAGE timestamps are
# TIMESTAMP_LTZ: shown, compared with the (naive, NTZ) binds and cut into days (TO_DATE) in the session's
# TIMEZONE, which defaults to America/Los_Angeles (https://docs.snowflake.com/en/sql-reference/parameters#timezone).
# Every window and daily bucket SnowTower shows is UTC, as the view pages advise for reconciling
# (https://docs.snowflake.com/en/sql-reference/account-usage/metering_daily_history, usage notes).
SESSION_SETUP = ("ALTER SESSION SET TIMEZONE = 'UTC'",)
# A named bind `:name`, not a cast (`::TYPE`) and not inside a quoted string or a comment.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|--[^\n]*|::|(?<![\w:]):([A-Za-z_]\w*)")


class QueryError(Exception):
    """A question could not be answered: unknown name, missing bind, or the source refused the SQL."""


@dataclass(frozen=True)
class Question:
    name: str
    text: str  # the file as written (Snowflake SQL with :name binds)
    binds: tuple[str, ...]  # bind names in order of appearance, repeats included

    @property
    def header(self) -> str:
        """The header comment: what the query answers, its units and source view."""
        lines = []
        for line in self.text.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line[2:].strip())
        return "\n".join(lines)

    def positional(self, params: dict[str, Any], placeholder: str = "?") -> tuple[str, list]:
        """The SQL with each `:name` replaced by `placeholder` and the values in that order.

        Raises QueryError naming the missing binds."""
        missing = sorted(set(self.binds) - set(params))
        if missing:
            raise QueryError(f"{self.name}: missing bind(s) {', '.join(missing)}")
        values: list = []

        def swap(m: re.Match) -> str:
            if m.group(1) is None:
                return m.group(0)
            values.append(params[m.group(1)])
            return placeholder

        return _TOKENS.sub(swap, self.text), values


def _binds(text: str) -> tuple[str, ...]:
    return tuple(m.group(1) for m in _TOKENS.finditer(text) if m.group(1))


@cache
def question(name: str) -> Question:
    """The SQL file `name` (without .sql); QueryError if there is none."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name or ""):
        raise QueryError(f"no question named {name!r}")
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise QueryError(f"no question named {name!r}")
    text = path.read_text(encoding="utf-8").strip().rstrip(";")
    return Question(name, text, _binds(text))


def questions() -> list[Question]:
    """Every SQL file, sorted by name."""
    return [question(p.stem) for p in sorted(SQL_DIR.glob("*.sql"))]


UTC_ZONES = {"UTC", "ETC/UTC", "GMT", "ETC/GMT", "UNIVERSAL", "ZULU", "ETC/UCT", "UCT"}


def _check_utc(cur, refused: Exception) -> None:
    """When a session refuses ALTER SESSION (a restricted session may not change its parameters), go on
    only if its TIMEZONE is UTC already (SHOW PARAMETERS ... IN SESSION); otherwise raise QueryError naming
    the zone and the fix, since every figure would be cut into that zone's days."""
    try:
        cur.execute("SHOW PARAMETERS LIKE 'TIMEZONE' IN SESSION")
        rows = cur.fetchall()
    except Exception:
        rows = []
    zone = str(rows[0][1]) if rows and len(rows[0]) > 1 else "unknown"
    if zone.upper() not in UTC_ZONES:
        raise QueryError(f"the session's time zone is {zone}, and setting it to UTC was refused ({refused}); "
                         "set the TIMEZONE parameter to UTC for the user (ALTER USER ... SET TIMEZONE = 'UTC') "
                         "or the account, so days and windows are UTC") from refused


@dataclass
class CursorSource:
    """Runs SQL on a DB-API connection to Snowflake (the connector, st.connection's raw connection, fakesnow).

    `connect` returns such a connection; `close_after` closes it after each question (a stand-in
    opened per use), otherwise it is kept (a client opened once). `placeholder` is the connection's
    bind marker: "?" for paramstyle qmark (st.connection, fakesnow here), "%s" for pyformat.
    Every connection runs SESSION_SETUP (time zone UTC) once, before its first question; if the session
    refuses it and its zone is not UTC already, the question fails (QueryError) rather than answering in
    another zone."""
    connect: Callable[[], Any]
    placeholder: str = "?"
    close_after: bool = False
    _conn: Any = field(default=None, repr=False)

    def _open(self):
        conn = self.connect()
        try:
            cur = conn.cursor()
            try:
                try:
                    for statement in SESSION_SETUP:
                        cur.execute(statement)
                except Exception as exc:
                    _check_utc(cur, exc)
            finally:
                cur.close()
        except Exception:
            if self.close_after:
                conn.close()
            raise
        return conn

    def run(self, sql: str, values: list) -> pd.DataFrame:
        conn = self._open() if self.close_after or self._conn is None else self._conn
        if not self.close_after:
            self._conn = conn
        try:
            cur = conn.cursor()
            try:
                cur.execute(sql, values)
                frame = _frame(cur)
            finally:
                cur.close()
        finally:
            if self.close_after:
                conn.close()
        return frame


def _frame(cur) -> pd.DataFrame:
    """The cursor's result as a DataFrame. The connector's fetch_pandas_all serves Arrow results only and raises
    NotSupportedError, before reading any row, for the JSON results of CALL and SHOW; those are read with fetchall."""
    try:
        return cur.fetch_pandas_all()
    except Exception as exc:
        if type(exc).__name__ != "NotSupportedError" or not cur.description:
            raise
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


# One part of an object name as SHOW and SYSTEM$ functions print it: kept exact by double-quoting.
_PART = re.compile(r"[^\x00]{1,255}")


def quoted_name(*parts: str) -> str:
    """`parts` (database, schema, name as Snowflake prints them) as one quoted identifier, `"DB"."SCHEMA"."NAME"`, with
    double quotes doubled, so a name read from the account can never be read as SQL. ValueError for an empty part,
    one longer than 255 characters (Snowflake's identifier limit) or one with a NUL."""
    for part in parts:
        if not isinstance(part, str) or not _PART.fullmatch(part):
            raise ValueError(f"not an object name: {part!r}")
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def ask_instance(source, name: str, instance: tuple[str, ...], **params) -> pd.DataFrame:
    """`ask` for a SQL file that calls a method of one class instance (a budget): its `<instance>` is replaced by
    quoted_name(*instance) before binding. Raises QueryError as `ask` does, and for a name quoted_name refuses."""
    q = question(name)
    if "<instance>" not in q.text:
        raise QueryError(f"{name}: not a question about one instance")
    try:
        target = quoted_name(*instance)
    except ValueError as exc:
        raise QueryError(f"{name}: {exc}") from exc
    return _ask(source, Question(q.name, q.text.replace("<instance>", target), q.binds), params)


def ask(source, name: str, **params) -> pd.DataFrame:
    """Run the question `name` on `source` with its binds; column names upper case as in Snowflake.

    Raises QueryError (unknown question, missing bind, or the source's own error, with its message)."""
    return _ask(source, question(name), params)


def _ask(source, q: Question, params: dict) -> pd.DataFrame:
    name = q.name
    sql, values = q.positional(params, getattr(source, "placeholder", "?"))
    try:
        frame = source.run(sql, values)
    except QueryError:
        raise
    except Exception as exc:  # the connector's and DuckDB's errors: one kind for callers to handle
        raise QueryError(f"{name}: {exc}") from exc
    frame.columns = [str(c).upper() for c in frame.columns]
    return frame
