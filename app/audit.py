"""The audit log: one append-only record per operation, refusals included, and per sign-in event.

The port is `AuditLog` (append, search). Two implementations behind it:
- `SqliteAuditLog`: the demo's, a table in the workspace's SQLite file. Triggers refuse every UPDATE
  and DELETE on it, so even a bug (or a person with the file) using SQLite cannot edit history.
- `SnowflakeAuditLog`: production's, a Snowflake table that deploy/setup.sql creates (step 4), reached
  through a DB-API connection factory with paramstyle qmark (the connector, or
  `st.connection("snowflake").raw_connection`). The app runs no DDL: its role holds SELECT and INSERT
  on the table only (CREATE TABLE, even IF NOT EXISTS, is privileged by CREATE TABLE on the schema:
  Snowflake's "Access control privileges" and CREATE TABLE pages). On first use it reads the table
  with LIMIT 0, and when the table is missing or a grant is, the error names the statement to run.

Nothing in SnowTower updates or deletes audit rows (tests/test_audit.py greps the code for it).
Every text field is stored as typed and shown as plain text: a justification or a reason may hold
anything a requester typed, and it is never read back as data.
"""
from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

# Outcomes of a record: the action happened, was refused by a guard (reason says why), or failed
# on an unexpected error (reason names the error id only, never a traceback).
OK, REFUSED, FAILED = "ok", "refused", "failed"
MAX_TEXT = 2000  # characters kept of a reason (a hostile 10 MB comment is not copied into the log)
MAX_RESULTS = 10_000  # rows a search returns at most


@dataclass(frozen=True)
class AuditRecord:
    """One thing that happened. `occurred_at`: aware UTC datetime. `actor`: the login ("" when unknown, e.g. a
    failed sign-in of a login that does not exist is recorded under the login typed). `role`: the
    roles the actor held, comma-separated. `action`: submit, approve, request_changes, reject, merge,
    resubmit, unlock_login, sign_in, sign_out, sign_in_failed. `request_id`: None for non-request
    actions. `outcome`: ok | refused | failed; `reason`: why it was refused or failed (or a note).
    `commit_before` / `commit_after`: the request's head commit before and after ("" if none)."""
    occurred_at: datetime
    actor: str
    role: str
    action: str
    request_id: int | None
    outcome: str
    reason: str = ""
    commit_before: str = ""
    commit_after: str = ""

    def to_row(self) -> dict:
        row = asdict(self)
        row["occurred_at"] = self.occurred_at.astimezone(timezone.utc).isoformat(timespec="seconds")
        row["request_id"] = "" if self.request_id is None else self.request_id
        return row


COLUMNS = [f.name for f in fields(AuditRecord)]


def clip(text: str) -> str:
    text = str(text or "")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


@dataclass(frozen=True)
class AuditQuery:
    """A search: every field optional; `since` and `until` are dates (UTC), both inclusive."""
    actor: str = ""
    request_id: int | None = None
    action: str = ""
    since: date | None = None
    until: date | None = None
    limit: int = MAX_RESULTS

    def where(self) -> tuple[str, list]:
        """A WHERE clause over the audit table's columns (qmark placeholders) and its parameters."""
        clauses, params = [], []
        if self.actor:
            clauses.append("LOWER(actor) = ?")
            params.append(self.actor.strip().lower())
        if self.request_id is not None:
            clauses.append("request_id = ?")
            params.append(int(self.request_id))
        if self.action:
            clauses.append("action = ?")
            params.append(self.action)
        if self.since:
            clauses.append("occurred_at >= ?")
            params.append(datetime.combine(self.since, datetime.min.time(), timezone.utc).isoformat(timespec="seconds"))
        if self.until:
            clauses.append("occurred_at < ?")
            params.append(datetime.combine(self.until + timedelta(days=1), datetime.min.time(), timezone.utc)
                          .isoformat(timespec="seconds"))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class AuditLog(ABC):
    """The port. `append` adds one record and never changes another; `search` returns records newest
    first (at most `query.limit`, capped at MAX_RESULTS). Both raise AuditError when the store fails."""

    @abstractmethod
    def append(self, record: AuditRecord) -> None: ...

    @abstractmethod
    def search(self, query: AuditQuery = AuditQuery()) -> list[AuditRecord]: ...

    def write(self, actor: str, roles, action: str, outcome: str = OK, reason: str = "", *,
              request_id: int | None = None, before: str = "", after: str = "", at: datetime | None = None) -> None:
        """Append one record: `roles` an iterable of role names, `reason` clipped to MAX_TEXT characters,
        `at` an aware datetime (default: now, UTC). Raises AuditError when the store fails."""
        self.append(AuditRecord(occurred_at=at or datetime.now(timezone.utc), actor=str(actor or "")[:100],
                                role=",".join(roles), action=action, request_id=request_id, outcome=outcome,
                                reason=clip(reason), commit_before=before or "", commit_after=after or ""))


class AuditError(RuntimeError):
    """The audit store cannot be written or read; the message names the store, never a secret."""


def _record(row) -> AuditRecord:
    at, actor, role, action, request_id, outcome, reason, before, after = row
    at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return AuditRecord(at, actor or "", role or "", action or "", None if request_id in (None, "") else int(request_id),
                       outcome or "", reason or "", before or "", after or "")


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id INTEGER,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    commit_before TEXT NOT NULL,
    commit_after TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_request ON audit_log (request_id);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class SqliteAuditLog(AuditLog):
    """The demo's audit log: table `audit_log` in the SQLite file at `path` (the workspace database)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SQLITE_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    def append(self, record: AuditRecord) -> None:
        row = record.to_row()
        row["request_id"] = record.request_id
        try:
            db = self._connect()
            with db:
                db.execute(f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                           [row[c] for c in COLUMNS])
            db.close()
        except sqlite3.Error as exc:
            raise AuditError(f"the audit log at {self.path.name} cannot be written: {exc}") from exc

    def search(self, query: AuditQuery = AuditQuery()) -> list[AuditRecord]:
        where, params = query.where()
        db = self._connect()
        try:
            rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log{where} ORDER BY seq DESC LIMIT ?",
                              [*params, min(query.limit, MAX_RESULTS)]).fetchall()
        except sqlite3.Error as exc:
            raise AuditError(f"the audit log at {self.path.name} cannot be read: {exc}") from exc
        finally:
            db.close()
        return [_record(r) for r in rows]


SNOWFLAKE_COLUMNS = ("occurred_at TIMESTAMP_TZ NOT NULL", "actor VARCHAR NOT NULL", "role VARCHAR NOT NULL",
                     "action VARCHAR NOT NULL", "request_id INTEGER", "outcome VARCHAR NOT NULL", "reason VARCHAR NOT NULL",
                     "commit_before VARCHAR NOT NULL", "commit_after VARCHAR NOT NULL")


def snowflake_table_ddl(table: str) -> str:
    """The audit table's CREATE TABLE IF NOT EXISTS, run by an administrator (deploy/setup.sql step 4 holds
    the same; a test compares them), never by the app."""
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(SNOWFLAKE_COLUMNS)})"


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}(\.[A-Za-z_][A-Za-z0-9_$]{0,254}){0,2}")
# Snowflake's error numbers (the connector's ProgrammingError.errno): an object that does not exist or
# that the role may not see at all, and a privilege the role lacks on an object it sees.
NOT_FOUND_OR_NOT_AUTHORIZED, INSUFFICIENT_PRIVILEGES, INVALID_IDENTIFIER = 2003, 3001, 904
_NOT_SEEN = re.compile(r"\b(Database|Schema|Object|Table) '[^']*' does not exist or not authorized", re.I)


def missing_grant(exc: Exception, table: str, role: str, privilege: str) -> str:
    """What to run so that `role` may use the audit `table` for `privilege` (SELECT or INSERT), from the
    error Snowflake gave: the table or a parent that does not exist or cannot be seen, a privilege the role
    lacks, or a column the table lacks. One sentence naming the statements (deploy/setup.sql step 4)."""
    text = " ".join(str(exc).split())
    errno = getattr(exc, "errno", None)
    parts = table.split(".")
    grant = f"GRANT SELECT, INSERT ON TABLE {table} TO ROLE {role}"
    if errno == INSUFFICIENT_PRIVILEGES or "insufficient privileges" in text.lower():
        return f"the role {role} may not {privilege} the audit table {table}: GRANT {privilege} ON TABLE {table} TO ROLE {role}"
    if errno == INVALID_IDENTIFIER or "invalid identifier" in text.lower():
        return (f"the audit table {table} lacks a column SnowTower writes ({', '.join(COLUMNS)}): create it as "
                "deploy/setup.sql step 4 does")
    # Snowflake names the first parent it cannot see: "Database 'X' does not exist or not authorized."
    seen = _NOT_SEEN.search(text)
    kind = seen.group(1).lower() if seen else ""
    if kind == "database" and len(parts) == 3:
        return f"the database {parts[0]} does not exist or the role {role} cannot see it: GRANT USAGE ON DATABASE {parts[0]} TO ROLE {role}"
    if kind == "schema" and len(parts) >= 2:
        schema = ".".join(parts[:-1])
        return f"the schema {schema} does not exist or the role {role} cannot see it: GRANT USAGE ON SCHEMA {schema} TO ROLE {role}"
    if seen or errno == NOT_FOUND_OR_NOT_AUTHORIZED or "does not exist" in text.lower():
        return (f"the audit table {table} does not exist or the role {role} cannot see it: an administrator runs "
                f"deploy/setup.sql step 4 ({snowflake_table_ddl(table)}; {grant})")
    return f"the audit table {table} cannot be used"  # not a grant (the network, the session): the error says what


class SnowflakeAuditLog(AuditLog):
    """Production's audit log: table `table` (NAME, SCHEMA.NAME or DB.SCHEMA.NAME; default
    SNOWTOWER_AUDIT_LOG in the connection's schema), which an administrator creates (deploy/setup.sql
    step 4; snowflake_table_ddl). `connect` returns a DB-API connection with paramstyle qmark, opened on
    first use and kept (a new one after an error). Grant the portal's role INSERT and SELECT only on this
    table: then the database itself refuses edits too. Each failure raises AuditError naming the grant
    or statement that is missing (missing_grant)."""

    def __init__(self, connect: Callable[[], object], table: str = "SNOWTOWER_AUDIT_LOG", owns_connection: bool = True):
        if not _IDENTIFIER.fullmatch(table or ""):
            raise ValueError(f"audit table {table!r} is not a Snowflake identifier (NAME, SCHEMA.NAME or DB.SCHEMA.NAME)")
        self.connect = connect
        self.table = table
        # False: `connect` hands out a connection shared with the rest of the portal (st.connection's),
        # which an error here must not close for everyone.
        self.owns_connection = owns_connection
        self._checked = False
        self._conn = None
        self._lock = threading.Lock()

    def _role(self, cur) -> str:
        """The session's role (for the message), or a description when it cannot be read."""
        try:
            cur.execute("SELECT CURRENT_ROLE()")
            row = cur.fetchone()
            return str(row[0]) if row and row[0] else "of the app"
        except Exception:  # the session is broken: the message still names the grant
            return "of the app"

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
                reason = f"{missing_grant(exc, self.table, self._role(cur), step)} ({' '.join(str(exc).split())[:300]})" \
                    if cur is not None else f"the audit table {self.table} cannot be used: {exc}"
                conn, self._conn = self._conn, None  # the next call opens a new session
                try:
                    if conn is not None and self.owns_connection:
                        conn.close()
                except Exception:  # already broken: nothing more to release
                    pass
                raise AuditError(reason) from exc

    def append(self, record: AuditRecord) -> None:
        row = record.to_row()
        row["request_id"] = record.request_id
        self._run(f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                  [row[c] for c in COLUMNS], privilege="INSERT")

    def search(self, query: AuditQuery = AuditQuery()) -> list[AuditRecord]:
        where, params = query.where()
        rows = self._run(f"SELECT {', '.join(COLUMNS)} FROM {self.table}{where} ORDER BY occurred_at DESC LIMIT "
                         f"{int(min(query.limit, MAX_RESULTS))}", params, fetch=True)
        return [_record(r) for r in rows]

    def check_writable(self) -> None:
        """Whether the role may read and append to the table, without writing a row: an INSERT of the
        rows of a query that selects none (compiled, so privileges are checked, but nothing is added).
        Raises AuditError naming the missing grant."""
        self._run(f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM {self.table} WHERE 1 = 0",
                  privilege="INSERT")


def to_csv(records: list[AuditRecord]) -> str:
    """RFC 4180 CSV with a header row (COLUMNS). A cell that a spreadsheet would run as a formula
    (starting with =, +, - or @) is prefixed with a single quote: user text is never executed."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in records:
        row = r.to_row()
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v) for k, v in row.items()})
    return out.getvalue()


def audit_log_for(settings, source=None) -> AuditLog:
    """The audit log of these settings: `audit_log = "sqlite"` (the default) keeps it in the workspace
    database; `audit_log = "snowflake"` in table `audit_table` (in `snowflake_schema` when it is
    unqualified; deploy/setup.sql creates it) through `source` (a core.snowflake CursorSource: st.connection in the
    portal and in Streamlit in Snowflake) or else the connector with key-pair auth from SNOWFLAKE_*
    variables. Raises QueryError without a source or those variables."""
    if settings.audit_log == "snowflake":
        from core.snowflake.connect import connector_source  # the one way SnowTower connects to Snowflake

        table = settings.audit_table
        if "." not in table and settings.snowflake_schema:
            table = f"{settings.snowflake_schema}.{table}"
        return SnowflakeAuditLog((source or connector_source()).connect, table, owns_connection=source is None)
    from core.workspace import Workspace

    return SqliteAuditLog(Workspace(settings.workspace).db_path)
