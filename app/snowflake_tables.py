"""SnowTower's own records in Snowflake tables (finding states, the alerts' ledger, the audit log's writer
lock): one session per store, errors that name the missing grant, and the one way to serialise writers.

Snowflake gives no unique key to lean on: on standard tables PRIMARY KEY and UNIQUE are recorded but not
enforced, only NOT NULL and CHECK are (docs.snowflake.com/en/sql-reference/constraints, "Overview of
constraints"). And most INSERT statements run in parallel (they write new partitions only), while UPDATE,
DELETE and MERGE take locks that keep them from running in parallel with each other; a lock is held until
the transaction commits or rolls back; the isolation is read committed, so a statement sees what was
committed before it began (docs.snowflake.com/en/sql-reference/transactions, "Resource locking" and
"Isolation level"). Hence `SnowflakeTables.locked(name, body)`: in one explicit transaction it UPDATEs the row
`name` of the lock table (deploy/setup.sql creates it, step 4), which waits for any other writer holding
that lock; every statement after it sees what the previous holder committed. A check-then-insert inside it
is therefore once-only across sessions, processes and machines.

The Snowflake stand-in (fakesnow on DuckDB) does not wait at the second UPDATE: DuckDB refuses it at once
("Conflict on update", its optimistic concurrency control). Snowflake itself can refuse too, when more than
20 statements wait for one lock or the wait exceeds LOCK_TIMEOUT (docs "Transactions", "Resource locking";
LOCK_TIMEOUT in "Parameters"). Either way the transaction is rolled back and tried again (MAX_LOCK_TRIES),
so both behave as a queue.

The app runs no DDL (its role holds no CREATE TABLE: the same rule as the audit table); each table's
CREATE TABLE IF NOT EXISTS is in deploy/setup.sql step 4 and in `TABLES` here (tests/test_deploy_files.py
compares them).
"""
from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
from typing import Any, Callable, TypeVar

from core.snowflake.queries import QueryError

T = TypeVar("T")
_AGAIN = object()  # a try of SnowflakeTables.locked to repeat

LOCK_TABLE = "SNOWTOWER_LOCKS"
FINDING_STATE_TABLE = "SNOWTOWER_FINDING_STATE"
ALERT_SENT_TABLE = "SNOWTOWER_ALERT_SENT"
CAMPAIGNS_TABLE = "SNOWTOWER_CAMPAIGNS"
CAMPAIGN_ITEMS_TABLE = "SNOWTOWER_CAMPAIGN_ITEMS"
MAX_LOCK_TRIES = 60  # transactions retried when another writer holds the lock (about 30 s at most)

# Columns of each table (name -> column definitions); deploy/setup.sql step 4 holds the same statements.
# Times are ISO 8601 text in UTC, as in the SQLite store, so the two compare alike.
TABLES = {
    LOCK_TABLE: ("name VARCHAR NOT NULL", "held_by VARCHAR NOT NULL", "held_at VARCHAR NOT NULL"),
    FINDING_STATE_TABLE: ("key VARCHAR NOT NULL", "severity VARCHAR NOT NULL", "first_seen VARCHAR NOT NULL",
                          "last_seen VARCHAR NOT NULL", "resolved_at VARCHAR", "accepted_by VARCHAR",
                          "accepted_reason VARCHAR", "accepted_until VARCHAR", "accepted_at VARCHAR"),
    ALERT_SENT_TABLE: ("key VARCHAR NOT NULL", "source VARCHAR NOT NULL", "claimed_at VARCHAR NOT NULL",
                       "sent_at VARCHAR", "channels VARCHAR NOT NULL"),
    # Access review campaigns (app.campaigns): ids are given by the app under the lock "campaigns".
    CAMPAIGNS_TABLE: ("id INTEGER NOT NULL", "name VARCHAR NOT NULL", "scope VARCHAR NOT NULL", "deadline VARCHAR NOT NULL",
                      "days INTEGER NOT NULL", "created_by VARCHAR NOT NULL", "created_at VARCHAR NOT NULL",
                      "config_sha VARCHAR NOT NULL", "closed_at VARCHAR"),
    CAMPAIGN_ITEMS_TABLE: ("id INTEGER NOT NULL", "campaign_id INTEGER NOT NULL", "user_name VARCHAR NOT NULL",
                           "role VARCHAR NOT NULL", "reviewer VARCHAR NOT NULL", "verdict VARCHAR NOT NULL",
                           "evidence_json VARCHAR NOT NULL", "decision VARCHAR", "reason VARCHAR NOT NULL",
                           "until VARCHAR", "decided_by VARCHAR", "decided_at VARCHAR", "request_id INTEGER"),
}
# What the app's role may do on each table (deploy/setup.sql grants exactly these).
GRANTS = {
    LOCK_TABLE: "SELECT, INSERT, UPDATE",
    FINDING_STATE_TABLE: "SELECT, INSERT, UPDATE, DELETE",
    ALERT_SENT_TABLE: "SELECT, INSERT, UPDATE, DELETE",
    CAMPAIGNS_TABLE: "SELECT, INSERT, UPDATE",
    CAMPAIGN_ITEMS_TABLE: "SELECT, INSERT, UPDATE",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}(\.[A-Za-z_][A-Za-z0-9_$]{0,254}){0,2}")


_MUTEXES: dict[int, threading.RLock] = {}
_MUTEXES_GUARD = threading.Lock()


def connection_mutex(conn) -> threading.RLock:
    """One reentrant lock per DB-API connection object, held by whoever runs an explicit transaction on it.
    Why: in the portal and in Streamlit in Snowflake every store gets the same st.connection session
    (core.snowflake.connect.streamlit_source), and a session has one transaction at a time: two stores'
    BEGIN ... COMMIT interleaved on it from two threads would commit each other's half-done work and
    share each other's lock rows. (Reads of other threads may still run inside a transaction: they only
    read.)"""
    with _MUTEXES_GUARD:
        return _MUTEXES.setdefault(id(conn), threading.RLock())


def table_ddl(table: str, base: str) -> str:
    """CREATE TABLE IF NOT EXISTS of SnowTower table `base` (a key of TABLES) under the name `table`."""
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(TABLES[base])})"


def sibling(audit_table: str, base: str) -> str:
    """`base` in the database and schema of `audit_table` (NAME, SCHEMA.NAME or DB.SCHEMA.NAME)."""
    parts = audit_table.split(".")
    return ".".join([*parts[:-1], base])


class TableError(QueryError):
    """A SnowTower table cannot be used; the message names the grant or statement that is missing when
    that is the cause (`setup` True). A QueryError: the pages and the CLI show it as any failed read of
    Snowflake (a message, never a traceback)."""

    def __init__(self, message: str, setup: bool = False):
        super().__init__(message)
        self.setup = setup


class LockNotTaken(Exception):
    """The lock row was not updated though it exists (another writer's row not yet visible): try again."""


def _lost_lock(exc: Exception) -> bool:
    """Whether `exc` is a writer losing a lock to another (try again), not a fault: the stand-in's DuckDB
    "Conflict on update" (a TransactionException), or Snowflake's lock errors (000625: too many waiters;
    a lock wait timeout)."""
    text = str(exc).lower()
    return (isinstance(exc, LockNotTaken) or type(exc).__name__ == "TransactionException" or "conflict on update" in text
            or getattr(exc, "errno", None) == 625 or "lock wait timeout" in text or "has locked table" in text)


class SnowflakeTables:
    """Statements on SnowTower's Snowflake tables through `connect` (a DB-API connection factory, paramstyle
    qmark), one session opened on first use and kept (a new one after an error; closed only when
    `owns_connection`). `what` names the records in messages ("the findings records")."""

    def __init__(self, connect: Callable[[], object], lock_table: str, what: str, owns_connection: bool = True):
        if not _IDENTIFIER.fullmatch(lock_table or ""):
            raise ValueError(f"table {lock_table!r} is not a Snowflake identifier (NAME, SCHEMA.NAME or DB.SCHEMA.NAME)")
        self.connect = connect
        self.lock_table = lock_table
        self.what = what
        self.owns_connection = owns_connection
        self._conn: Any = None
        self._mutex = threading.RLock()  # one statement (or transaction) at a time on the kept session

    def _role(self, cur) -> str:
        from app.audit_snowflake import session_role

        return session_role(cur)

    def _fail(self, exc: Exception, cur, table: str, privilege: str) -> TableError:
        from app.audit_snowflake import missing_grant

        base = table.rsplit(".", 1)[-1].upper()
        named = ""
        if cur is not None:
            named = missing_grant(exc, table, self._role(cur), privilege, kind="table",
                                  ddl=table_ddl(table, base) if base in TABLES else "", grants=GRANTS.get(base, privilege))
        setup = bool(named) and not named.endswith("cannot be used")
        detail = " ".join(str(exc).split())[:300]
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                conn.cursor().execute("ROLLBACK")  # a transaction left open would hold its lock (and, shared, others' work)
        except Exception:  # none open, or the session is broken
            pass
        try:
            if conn is not None and self.owns_connection:
                conn.close()
        except Exception:  # already broken
            pass
        return TableError(f"{self.what} cannot be read or written: {named} ({detail})" if named and setup else
                          f"{self.what} cannot be read or written ({table}): {detail}", setup=setup)

    def run(self, sql: str, params: list | None = None, *, table: str, privilege: str = "SELECT", fetch: bool = False):
        """Run one statement on `table` needing `privilege`; rows when `fetch`. Raises TableError."""
        with self._mutex:
            cur = None
            try:
                if self._conn is None:
                    self._conn = self.connect()
                cur = self._conn.cursor()
                cur.execute(sql, params or [])
                return cur.fetchall() if fetch else cur.rowcount
            except TableError:
                raise
            except Exception as exc:  # the connector's errors
                if _lost_lock(exc):
                    raise
                raise self._fail(exc, cur, table, privilege) from exc

    def locked(self, name: str, body: Callable[[], T], holder: str = "snowtower") -> T:
        """`body()` inside an explicit transaction holding lock row `name` of the lock table: BEGIN, UPDATE
        that row (its lock waits for any other holder: "Resource locking"), body's statements, COMMIT;
        ROLLBACK on any error. A lost lock (see _lost_lock) is retried from BEGIN, so `body` may run more
        than once and must only run statements. The row is added when missing (a duplicate added by two
        sessions at once is harmless: every holder updates all rows of the name). Returns body's result.
        Raises TableError."""
        with self._mutex:
            for attempt in range(MAX_LOCK_TRIES):
                if self._conn is None:
                    self.run("SELECT 1", table=self.lock_table)  # opens the session (errors named as any statement's)
                conn = self._conn
                with connection_mutex(conn):
                    outcome = self._attempt(name, body, holder, attempt)
                if outcome is not _AGAIN:
                    return outcome
            raise TableError(f"{self.what} are busy: the lock {name} of {self.lock_table} was held by other writers "
                             f"through {MAX_LOCK_TRIES} tries")

    def _attempt(self, name: str, body: Callable[[], T], holder: str, attempt: int):
        """One try of `locked`: body's result, or _AGAIN when the lock was lost (rolled back) or just added."""
        try:
            self.run("BEGIN TRANSACTION", table=self.lock_table)
            at = dt.datetime.now(dt.timezone.utc).isoformat()
            updated = self.run(f"UPDATE {self.lock_table} SET held_by = ?, held_at = ? WHERE name = ?",
                               [holder[:200], at, name], table=self.lock_table, privilege="UPDATE")
            if not updated:
                self.run(f"INSERT INTO {self.lock_table} (name, held_by, held_at) SELECT ?, ?, ? "
                         f"WHERE NOT EXISTS (SELECT 1 FROM {self.lock_table} WHERE name = ?)",
                         [name, holder[:200], at, name], table=self.lock_table, privilege="INSERT")
                self.run("COMMIT", table=self.lock_table)
                return _AGAIN  # now the row exists: take its lock
            out = body()
            self.run("COMMIT", table=self.lock_table)
            return out
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, Exception) and _lost_lock(exc):
                time.sleep(min(0.5, 0.02 * (attempt + 1)) * (0.5 + random.random()))
                return _AGAIN
            raise

    def _rollback(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.cursor().execute("ROLLBACK")
        except Exception:  # the session is gone: nothing is left to undo, and the next call opens a new one
            self._conn = None
