"""Production's audit store (part of the audit log: app.audit): `SnowflakeAuditLog`, a Snowflake table an
administrator creates (deploy/setup.sql step 4; `snowflake_table_ddl`, columns `SNOWFLAKE_COLUMNS`), reached
through a DB-API connection factory (paramstyle qmark). Appends are serialised on the writers' lock table,
else made conditional on the head (retried up to MAX_APPEND_TRIES times). `missing_grant` and
`session_role` turn Snowflake's errors into the statement an administrator must run (also used for
SnowTower's other tables: app.snowflake_tables). Failures raise app.audit.AuditError.
"""
from __future__ import annotations

import hashlib
import logging
import random
import re
import tempfile
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from app.audit import _OPEN_INTENTS, AuditError, AuditLog, _day_bounds, _record
from app.audit_record import COLUMNS, GENESIS, INTENT, MAX_RESULTS, AuditQuery, AuditRecord

MAX_APPEND_TRIES = 20  # conditional appends retried when another writer took the next place (Snowflake)

SNOWFLAKE_COLUMNS = ("occurred_at TIMESTAMP_TZ NOT NULL", "actor VARCHAR NOT NULL", "role VARCHAR NOT NULL",
                     "action VARCHAR NOT NULL", "request_id INTEGER", "outcome VARCHAR NOT NULL", "reason VARCHAR NOT NULL",
                     "commit_before VARCHAR NOT NULL", "commit_after VARCHAR NOT NULL", "operation_id VARCHAR NOT NULL",
                     "seq INTEGER NOT NULL", "prev_hash VARCHAR NOT NULL", "hash VARCHAR NOT NULL")


def snowflake_table_ddl(table: str) -> str:
    """The audit table's CREATE TABLE IF NOT EXISTS, run by an administrator (deploy/setup.sql step 4 holds
    the same; a test compares them), never by the app."""
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(SNOWFLAKE_COLUMNS)})"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}(\.[A-Za-z_][A-Za-z0-9_$]{0,254}){0,2}")
# Snowflake's error numbers (the connector's ProgrammingError.errno): an object that does not exist or
# that the role may not see at all, and a privilege the role lacks on an object it sees.
NOT_FOUND_OR_NOT_AUTHORIZED, INSUFFICIENT_PRIVILEGES, INVALID_IDENTIFIER = 2003, 3001, 904
_NOT_SEEN = re.compile(r"\b(Database|Schema|Object|Table) '[^']*' does not exist or not authorized", re.I)


def missing_grant(exc: Exception, table: str, role: str, privilege: str, *, kind: str = "audit table",
                  ddl: str = "", grants: str = "SELECT, INSERT") -> str:
    """What to run so that `role` may use the `kind` `table` (the audit table by default; app.snowflake_tables
    for SnowTower's other tables, whose CREATE TABLE is `ddl` and whose grants are `grants`) for `privilege`
    (SELECT, INSERT, UPDATE, DELETE), from the error Snowflake gave: the table or a parent that does not exist
    or cannot be seen, a privilege the role lacks, or a column the table lacks. One sentence naming the
    statements (deploy/setup.sql step 4)."""
    text = " ".join(str(exc).split())
    errno = getattr(exc, "errno", None)
    parts = table.split(".")
    ddl = ddl or snowflake_table_ddl(table)
    grant = f"GRANT {grants} ON TABLE {table} TO ROLE {role}"
    if errno == INSUFFICIENT_PRIVILEGES or "insufficient privileges" in text.lower():
        return f"the role {role} may not {privilege} the {kind} {table}: GRANT {privilege} ON TABLE {table} TO ROLE {role}"
    if errno == INVALID_IDENTIFIER or "invalid identifier" in text.lower():
        if kind != "audit table":
            return (f"the {kind} {table} lacks a column SnowTower uses: create it as deploy/setup.sql step 4 does ({ddl})")
        return (f"the audit table {table} lacks a column SnowTower writes ({', '.join(COLUMNS)}): create it as "
                "deploy/setup.sql step 4 does (a table made before the hash chain: rename it, e.g. to "
                f"{table}_BEFORE_CHAIN, and run step 4 again)")
    # Snowflake names the first parent it cannot see: "Database 'X' does not exist or not authorized."
    seen = _NOT_SEEN.search(text)
    found = seen.group(1).lower() if seen else ""
    if found == "database" and len(parts) == 3:
        return f"the database {parts[0]} does not exist or the role {role} cannot see it: GRANT USAGE ON DATABASE {parts[0]} TO ROLE {role}"
    if found == "schema" and len(parts) >= 2:
        schema = ".".join(parts[:-1])
        return f"the schema {schema} does not exist or the role {role} cannot see it: GRANT USAGE ON SCHEMA {schema} TO ROLE {role}"
    if seen or errno == NOT_FOUND_OR_NOT_AUTHORIZED or "does not exist" in text.lower():
        return (f"the {kind} {table} does not exist or the role {role} cannot see it: an administrator runs "
                f"deploy/setup.sql step 4 ({ddl}; {grant})")
    return f"the {kind} {table} cannot be used"  # not a grant (the network, the session): the error says what


def session_role(cur) -> str:
    """The role of the session behind DB-API cursor `cur` (for a message naming a missing grant), or a
    description when it cannot be read."""
    try:
        cur.execute("SELECT CURRENT_ROLE()")
        row = cur.fetchone()
        return str(row[0]) if row and row[0] else "of the app"
    except Exception:  # the session is broken: the message still names the grant
        return "of the app"


class SnowflakeAuditLog(AuditLog):
    """Production's audit log: table `table` (NAME, SCHEMA.NAME or DB.SCHEMA.NAME; default
    SNOWTOWER_AUDIT_LOG in the connection's schema), which an administrator creates (deploy/setup.sql
    step 4; snowflake_table_ddl). `connect` returns a DB-API connection with paramstyle qmark, opened on
    first use and kept (a new one after an error). Grant the portal's role INSERT and SELECT only on this
    table: then the database itself refuses edits too. Each failure raises AuditError naming the grant
    or statement that is missing (missing_grant)."""

    def __init__(self, connect: Callable[[], object], table: str = "SNOWTOWER_AUDIT_LOG", owns_connection: bool = True,
                 lock_table: str | None = None):
        # Sign-in events the table cannot take wait in this process's temporary directory (in Streamlit in
        # Snowflake the only writable disk), one folder per table.
        self.spool_dir = Path(tempfile.gettempdir()) / f"snowtower-audit-spool-{hashlib.sha256(table.encode()).hexdigest()[:12]}"
        if not _IDENTIFIER.fullmatch(table or ""):
            raise ValueError(f"audit table {table!r} is not a Snowflake identifier (NAME, SCHEMA.NAME or DB.SCHEMA.NAME)")
        self.connect = connect
        self.table = table
        # False: `connect` hands out a connection shared with the rest of the portal (st.connection's),
        # which an error here must not close for everyone.
        self.owns_connection = owns_connection
        self._checked = False
        self._conn: Any = None  # a DB-API connection
        # Reentrant: append holds it across its whole transaction, so no other thread's statement runs on the
        # kept session between BEGIN and COMMIT.
        self._lock = threading.RLock()
        self._in_transaction = False
        # The writers' lock table (deploy/setup.sql step 4; default SNOWTOWER_LOCKS beside the audit table):
        # appends are serialised on its row "audit:<table>". None after it proved missing or not granted
        # (a set-up from before it): appends fall back to the conditional append, whose forks are detected.
        from app.snowflake_tables import LOCK_TABLE, sibling

        self.lock_table: str | None = lock_table or sibling(table, LOCK_TABLE)
        if not _IDENTIFIER.fullmatch(self.lock_table):
            raise ValueError(f"lock table {self.lock_table!r} is not a Snowflake identifier")

    def _role(self, cur) -> str:
        return session_role(cur)

    def _run(self, sql: str, params: list | None = None, fetch: bool = False, privilege: str = "SELECT"):
        with self._lock:  # one connection, opened on first use and kept (a Snowflake session is costly)
            cur = None
            step = "SELECT"
            try:
                if self._conn is None:
                    self._conn = self.connect()
                cur = self._conn.cursor()
                if not self._checked:  # the table exists, with SnowTower's columns, and the role may read it
                    cur.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.table} LIMIT 0")
                    self._checked = True
                step = privilege
                cur.execute(sql, params or [])
                return cur.fetchall() if fetch else None
            except Exception as exc:  # the connector's errors (ProgrammingError, OperationalError, ...)
                from app.snowflake_tables import _lost_lock

                if self._in_transaction and _lost_lock(exc):
                    raise  # another writer holds the lock: append rolls back and tries again
                if self._in_transaction:
                    self._rollback(cur)
                named = missing_grant(exc, self.table, self._role(cur), step) if cur is not None else ""
                reason = f"{named} ({' '.join(str(exc).split())[:300]})" if named else \
                    f"the audit table {self.table} cannot be used: {exc}"
                # A grant, table or column named: set-up, not a passing fault of the network or session.
                setup = bool(named) and not named.startswith(f"the audit table {self.table} cannot be used")
                conn, self._conn = self._conn, None  # the next call opens a new session
                try:
                    if conn is not None and self.owns_connection:
                        conn.close()
                except Exception:  # already broken: nothing more to release
                    pass
                raise AuditError(reason, setup=setup) from exc

    def _rollback(self, cur) -> None:
        self._in_transaction = False
        try:
            (cur or self._conn.cursor()).execute("ROLLBACK")
        except Exception:  # the session is gone: nothing is left to undo
            pass

    def append(self, record: AuditRecord, once: bool = False) -> AuditRecord | None:
        """Append `record` as the next link of the chain (None when `once` and its operation already has an
        outcome). Serialised: in one explicit transaction, UPDATE this log's row of the lock table (an
        UPDATE's lock is held until COMMIT and makes every other writer's UPDATE of that row wait:
        docs.snowflake.com/en/sql-reference/transactions, "Resource locking"), then read the head and
        append after it (_append_conditional), then COMMIT. Under read committed ("Isolation level") the
        head read after the lock sees every record committed by the writer before, so writers that take
        the lock cannot fork the chain. A writer that loses the lock (the stand-in refuses at once where
        Snowflake waits; Snowflake refuses after LOCK_TIMEOUT or beyond 20 waiters) rolls back and tries
        again. Without the lock table (a set-up from before it), or when the role may not use it, appends
        fall back to the conditional append alone (a fork is then detected, not prevented) and a warning
        names the statement to run."""
        from app.snowflake_tables import MAX_LOCK_TRIES, _lost_lock, connection_mutex

        with self._lock:
            for attempt in range(MAX_LOCK_TRIES if self.lock_table else 0):
                if self._conn is None:
                    self._run("SELECT 1")  # opens the session (and checks the table) before taking its mutex
                # One transaction at a time on a session other stores may share (st.connection's).
                with connection_mutex(self._conn):
                    try:
                        self._run("BEGIN TRANSACTION")
                        self._in_transaction = True
                        if not self._hold_lock():
                            break  # no lock table: the conditional append alone
                        appended = self._append_conditional(record, once)
                        self._run("COMMIT")
                        self._in_transaction = False
                        return appended
                    except BaseException as exc:
                        if self._in_transaction:
                            self._rollback(None)
                        if isinstance(exc, Exception) and _lost_lock(exc):
                            time.sleep(min(0.5, 0.02 * (attempt + 1)) * (0.5 + random.random()))
                            continue
                        raise
            else:
                if self.lock_table:
                    raise AuditError(f"the audit table {self.table} is busy: its lock in {self.lock_table} was held by "
                                     f"other writers through {MAX_LOCK_TRIES} tries")
            return self._append_conditional(record, once)

    def _hold_lock(self) -> bool:
        """Take this log's lock row inside the open transaction (adding the row, committed, when it is
        missing, then taking it). False, with the transaction rolled back and the lock table given up for
        this process, when the lock table is missing or not granted."""
        assert self.lock_table is not None  # called only while the lock table is in use
        name = f"audit:{self.table.upper()}"
        at = datetime.now(timezone.utc).isoformat()
        for _ in range(2):
            try:
                cur = self._conn.cursor()
                cur.execute(f"UPDATE {self.lock_table} SET held_by = ?, held_at = ? WHERE name = ?", ["audit", at, name])
                if cur.rowcount:
                    return True
                cur.execute(f"INSERT INTO {self.lock_table} (name, held_by, held_at) SELECT ?, ?, ? "
                            f"WHERE NOT EXISTS (SELECT 1 FROM {self.lock_table} WHERE name = ?)", [name, "audit", at, name])
                cur.execute("COMMIT")
                cur.execute("BEGIN TRANSACTION")
            except Exception as exc:
                from app.snowflake_tables import GRANTS, LOCK_TABLE, _lost_lock, table_ddl

                if _lost_lock(exc):
                    raise
                self._rollback(None)
                named = missing_grant(exc, self.lock_table, self._role(self._conn.cursor()), "UPDATE", kind="lock table",
                                      ddl=table_ddl(self.lock_table, LOCK_TABLE), grants=GRANTS[LOCK_TABLE])
                logging.getLogger(__name__).warning(
                    "audit appends are not serialised (concurrent writers may fork the chain; verify detects it): %s (%s)",
                    named, " ".join(str(exc).split())[:300])
                self.lock_table = None
                return False
        from app.snowflake_tables import LockNotTaken

        raise LockNotTaken(f"the lock row {name} was not taken")  # never append without it: rolled back, tried again

    def _append_conditional(self, record: AuditRecord, once: bool = False) -> AuditRecord | None:
        """Read the head, then INSERT ... SELECT the next record WHERE no record at or after its place exists
        (and, `once`, no outcome of its operation): a conditional append. Snowflake runs INSERTs into one
        table in parallel (docs.snowflake.com/en/sql-reference/transactions, "Resource locking": most INSERT
        and COPY statements write only new partitions and can run in parallel; read committed: a statement
        sees what was committed before it began), so two writers may both pass the condition: the record is
        read back by seq, and
        (a) it is not there: another writer took the place first, read the head again and retry;
        (b) it is there with another record at the same place: the chain has a fork, AuditError names it
        (verify reports it too; only a writer without the lock, e.g. an older version, can cause it);
        (c) it is alone: appended."""
        cols = ", ".join(COLUMNS)
        for attempt in range(MAX_APPEND_TRIES):
            head = self._run(f"SELECT seq, hash FROM {self.table} ORDER BY seq DESC LIMIT 1", fetch=True)
            seq, prev = (int(head[0][0]), str(head[0][1])) if head else (0, GENESIS)
            linked = record.chained(seq + 1, prev)
            row = linked.to_row()
            row["request_id"] = linked.request_id
            condition = f"NOT EXISTS (SELECT 1 FROM {self.table} WHERE seq >= ?)"
            params = [row[c] for c in COLUMNS] + [linked.seq]
            if once and record.operation_id:
                condition += f" AND NOT EXISTS (SELECT 1 FROM {self.table} WHERE operation_id = ? AND outcome <> ?)"
                params += [record.operation_id, INTENT]
            self._run(f"INSERT INTO {self.table} ({cols}) SELECT {', '.join('?' * len(COLUMNS))} WHERE {condition}",
                      params, privilege="INSERT")
            there = [str(r[0]) for r in self._run(f"SELECT hash FROM {self.table} WHERE seq = ?", [linked.seq], fetch=True)]
            if linked.hash in there:
                if len(there) > 1:
                    raise AuditError(f"two writers appended record #{linked.seq} of the audit table {self.table} at once: "
                                     "the chain has a fork there (snowtower audit verify reports it)")
                return linked
            if once and record.operation_id and self._run(
                    f"SELECT 1 FROM {self.table} WHERE operation_id = ? AND outcome <> ? LIMIT 1",
                    [record.operation_id, INTENT], fetch=True):
                return None
            time.sleep(min(0.05 * (attempt + 1), 0.5))
        raise AuditError(f"the audit table {self.table} is busy: {MAX_APPEND_TRIES} appends lost the race to other writers")

    def search(self, query: AuditQuery = AuditQuery()) -> list[AuditRecord]:
        where, params = query.where()
        rows = self._run(f"SELECT {', '.join(COLUMNS)} FROM {self.table}{where} ORDER BY seq DESC LIMIT "
                         f"{int(min(query.limit, MAX_RESULTS))}", params, fetch=True)
        return [_record(r) for r in rows]

    def records(self, since: date | None = None, until: date | None = None) -> list[AuditRecord]:
        where, params = _day_bounds(since, until)
        return [_record(r) for r in self._run(f"SELECT {', '.join(COLUMNS)} FROM {self.table}{where} ORDER BY seq",
                                              params, fetch=True)]

    def open_intents(self) -> list[AuditRecord]:
        return [_record(r) for r in self._run(_OPEN_INTENTS.format(cols=", ".join(COLUMNS), table=self.table), fetch=True)]

    def check_writable(self) -> None:
        """Whether the role may read and append to the table, without writing a row: an INSERT of the
        rows of a query that selects none (compiled, so privileges are checked, but nothing is added).
        Raises AuditError naming the missing grant."""
        self._run(f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM {self.table} WHERE 1 = 0",
                  privilege="INSERT")


# A cell a spreadsheet would run as a formula or trim starts with one of these (OWASP "CSV injection",
# core.plaintext's list, a space included); a cell starting with the quote itself is quoted too, so that
# reading it back is exact (from_csv).
