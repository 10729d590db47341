"""The demo's audit store (part of the audit log: app.audit): `SqliteAuditLog`, table `audit_log` in the
workspace's SQLite file. Triggers refuse every UPDATE and DELETE and any INSERT that is not the next link
of the hash chain; a writer appends inside BEGIN IMMEDIATE. Raises app.audit.AuditError when the file
cannot be used."""
from __future__ import annotations

import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

from app.audit import _OPEN_INTENTS, AuditError, AuditLog, _day_bounds, _record
from app.audit_record import COLUMNS, GENESIS, INTENT, MAX_RESULTS, OK, AuditQuery, AuditRecord

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
    commit_after TEXT NOT NULL,
    operation_id TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_request ON audit_log (request_id);
"""
# Why these triggers: UPDATE and DELETE are refused outright; every INSERT must be the next link of the
# chain (seq = head + 1, prev_hash = the head's hash, a 64-hex hash). That is what refuses INSERT OR
# REPLACE and REPLACE (their conflict resolution deletes the old row without firing DELETE triggers) and
# upserts (ON CONFLICT DO UPDATE): a row with an existing seq is never head + 1.
_SQLITE_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_append_only BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log)
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), '""" + GENESIS + """')
  OR length(NEW.hash) != 64
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: a record is added after the last one, never in its place'); END;
"""
_SELECT = ", ".join(COLUMNS)


def _triggers() -> list[str]:
    return [t.strip() + " END;" for t in _SQLITE_TRIGGERS.split("END;") if t.strip()]


class SqliteAuditLog(AuditLog):
    """The demo's audit log: table `audit_log` in the SQLite file at `path` (the workspace database).
    A log made before the hash chain (no prev_hash column) is chained once, in seq order, when first
    opened by this version, and a record says so (chain_started)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.spool_dir = self.path.parent / "audit-spool"
        db = self._connect()
        try:
            db.executescript(_SQLITE_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(audit_log)")}
            if "hash" not in columns:
                self._chain_existing(db)
            for trigger in _triggers():
                db.execute(trigger)
            db.execute("CREATE INDEX IF NOT EXISTS audit_log_operation ON audit_log (operation_id)")
        finally:
            db.close()

    def _chain_existing(self, db: sqlite3.Connection) -> None:
        """Upgrade of a log written before the chain: in one transaction the old table is renamed
        audit_log_before_chain (kept as it was, still refusing UPDATE and DELETE), and its rows are
        appended, in seq order, to a new chained audit_log, followed by a chain_started record. No row
        is ever changed in place."""
        db.execute("BEGIN IMMEDIATE")
        try:
            if "hash" in {row[1] for row in db.execute("PRAGMA table_info(audit_log)")}:
                db.execute("ROLLBACK")  # another process upgraded it meanwhile
                return
            for name in ("audit_log_no_update", "audit_log_no_delete"):
                db.execute(f"DROP TRIGGER IF EXISTS {name}")
            db.execute("DROP INDEX IF EXISTS audit_log_request")
            db.execute("ALTER TABLE audit_log RENAME TO audit_log_before_chain")
            for verb in ("UPDATE", "DELETE"):
                db.execute(f"CREATE TRIGGER audit_log_before_chain_no_{verb.lower()} BEFORE {verb} ON audit_log_before_chain "
                           "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;")
            for statement in _SQLITE_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for trigger in _triggers():
                db.execute(trigger)
            old = db.execute("SELECT seq, occurred_at, actor, role, action, request_id, outcome, reason, commit_before, "
                             "commit_after FROM audit_log_before_chain ORDER BY seq").fetchall()
            prev = GENESIS
            note = AuditRecord(datetime.now(timezone.utc), "snowtower", "system", "chain_started", None, OK,
                               f"the {len(old)} record(s) before this one were written before the hash chain and chained "
                               "when this version first opened the log (table audit_log_before_chain keeps them as "
                               "they were): they are attested from this record on, not before")
            for n, row in enumerate([*[(*r[1:], "") for r in old], None], start=1):
                record = note if row is None else _record((*row, 0, "", ""))
                linked = record.chained(n, prev)
                values = linked.to_row()
                values["request_id"] = linked.request_id
                db.execute(f"INSERT INTO audit_log ({_SELECT}) VALUES ({', '.join('?' * len(COLUMNS))})",
                           [values[c] for c in COLUMNS])
                prev = linked.hash
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    def append(self, record: AuditRecord, once: bool = False) -> AuditRecord | None:
        try:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes: the head cannot move under us
                try:
                    if once and record.operation_id and db.execute(
                            "SELECT 1 FROM audit_log WHERE operation_id = ? AND outcome <> ? LIMIT 1",
                            (record.operation_id, INTENT)).fetchone():
                        db.execute("ROLLBACK")
                        return None
                    head = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
                    linked = record.chained((head[0] if head else 0) + 1, head[1] if head else GENESIS)
                    row = linked.to_row()
                    row["request_id"] = linked.request_id
                    db.execute(f"INSERT INTO audit_log ({_SELECT}) VALUES ({', '.join('?' * len(COLUMNS))})",
                               [row[c] for c in COLUMNS])
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return linked
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise AuditError(f"the audit log at {self.path.name} cannot be written: {exc}") from exc

    def _read(self, sql: str, params: list) -> list[AuditRecord]:
        db = self._connect()
        try:
            rows = db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AuditError(f"the audit log at {self.path.name} cannot be read: {exc}") from exc
        finally:
            db.close()
        return [_record(r) for r in rows]

    def search(self, query: AuditQuery = AuditQuery()) -> list[AuditRecord]:
        where, params = query.where()
        return self._read(f"SELECT {_SELECT} FROM audit_log{where} ORDER BY seq DESC LIMIT ?",
                          [*params, min(query.limit, MAX_RESULTS)])

    def records(self, since: date | None = None, until: date | None = None) -> list[AuditRecord]:
        where, params = _day_bounds(since, until)
        return self._read(f"SELECT {_SELECT} FROM audit_log{where} ORDER BY seq", params)

    def open_intents(self) -> list[AuditRecord]:
        return self._read(_OPEN_INTENTS.format(cols=_SELECT, table="audit_log"), [])
