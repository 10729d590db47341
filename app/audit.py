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

The hash chain (docs/security.md, "The audit log"): every record carries `seq` (1, 2, 3, ... with no
gap), `prev_hash` (the previous record's `hash`; GENESIS for the first) and `hash`, the SHA-256 of the
record's canonical JSON (canonical_json: every field but `hash`, keys sorted, no spaces, UTF-8). An
edited, deleted, inserted or reordered record breaks the chain at that record (verify_chain). A writer
reads the head and appends the next record in one step that fails if the head moved: SQLite inside
BEGIN IMMEDIATE (plus a BEFORE INSERT trigger that refuses any row that is not head + 1, which is what
stops INSERT OR REPLACE and upserts); Snowflake with a conditional INSERT ... SELECT ... WHERE NOT EXISTS
(a later record), read back and retried when another writer took the place.

Operations write a record of intent (outcome "intent") before they act and their outcome after, both
with the same `operation_id` (app.operations.shared.audited); searches leave intents out unless asked.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import random
import re
import sqlite3
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from core import plaintext

# Outcomes of a record: the action happened, was refused by a guard (reason says why), or failed
# on an unexpected error (reason names the error id only, never a traceback).
OK, REFUSED, FAILED = "ok", "refused", "failed"
# The record an operation writes before it acts; its outcome record follows with the same operation_id.
INTENT = "intent"
GENESIS = "0" * 64  # the prev_hash of the first record
SIGN_IN_ACTIONS = frozenset({"sign_in", "sign_in_failed", "sign_out"})
MAX_SPOOLED = 10_000  # sign-in events kept while the store cannot take them; beyond, sign-in fails closed
MAX_APPEND_TRIES = 20  # conditional appends retried when another writer took the next place (Snowflake)
MAX_TEXT = 2000  # characters kept of a reason (a hostile 10 MB comment is not copied into the log)
MAX_RESULTS = 10_000  # rows a search returns at most


@dataclass(frozen=True)
class AuditRecord:
    """One thing that happened. `occurred_at`: aware UTC datetime. `actor`: the login ("" when unknown, e.g. a
    failed sign-in of a login that does not exist is recorded under the login typed). `role`: the
    roles the actor held, comma-separated. `action`: submit, approve, request_changes, reject, merge,
    resubmit, unlock_login, sign_in, sign_out, sign_in_failed. `request_id`: None for non-request
    actions. `outcome`: ok | refused | failed; `reason`: why it was refused or failed (or a note).
    `commit_before` / `commit_after`: the request's head commit before and after ("" if none).
    `operation_id`: links an operation's intent record (outcome "intent") and its outcome record ("" for
    sign-in events). Chain fields, set by the store when it appends: `seq` (1-based, no gaps),
    `prev_hash` (the previous record's hash, GENESIS for the first) and `hash` (record_hash)."""
    occurred_at: datetime
    actor: str
    role: str
    action: str
    request_id: int | None
    outcome: str
    reason: str = ""
    commit_before: str = ""
    commit_after: str = ""
    operation_id: str = ""
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    def to_row(self) -> dict:
        row = asdict(self)
        row["occurred_at"] = self.occurred_at.astimezone(timezone.utc).isoformat(timespec="seconds")
        row["request_id"] = "" if self.request_id is None else self.request_id
        return row

    def chained(self, seq: int, prev_hash: str) -> "AuditRecord":
        """This record at place `seq` after a record whose hash is `prev_hash`, with its own hash."""
        linked = replace(self, seq=seq, prev_hash=prev_hash, hash="",
                         occurred_at=self.occurred_at.astimezone(timezone.utc).replace(microsecond=0))
        return replace(linked, hash=record_hash(linked))


COLUMNS = [f.name for f in fields(AuditRecord)]
CHAIN_COLUMNS = ("seq", "prev_hash", "hash")


def canonical_json(record: AuditRecord) -> str:
    """The text a record's hash is taken over: every field but `hash` (occurred_at as UTC ISO 8601 to the
    second, request_id an integer or null), keys sorted, separators "," and ":", UTF-8 unescaped."""
    row = record.to_row()
    row.pop("hash")
    row["request_id"] = record.request_id
    row["seq"] = int(record.seq)
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: AuditRecord) -> str:
    """SHA-256 (hex) of canonical_json(record)."""
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What verify_chain found: `ok`; `checked` records; `first_bad` the seq (or position, 1-based, when
    the seq itself is unreadable) of the first record that breaks the chain and `problem` why; `head`
    (seq, hash) of the last good record; `starts_after` the seq the records follow (0: from the start)."""
    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str = ""
    head: tuple[int, str] = (0, GENESIS)
    starts_after: int = 0

    def message(self) -> str:
        if self.ok:
            start = (f" (from #{self.starts_after + 1}; its link to #{self.starts_after} is not in this file)"
                     if self.starts_after else "")
            return f"intact: {self.checked} record(s){start}, head #{self.head[0]} {self.head[1][:16]}"
        return f"broken at record #{self.first_bad}: {self.problem}"


@dataclass(frozen=True)
class Anchor:
    """The audit head as it was kept outside the store at a merge: record `seq` had hash `digest`.
    `where` names it for a message: "kept in the config repository" (a git note), "on GitHub (status
    snowtower/audit on commit 1a2b3c4d, 2026-01-02T03:04:05Z)"."""
    seq: int
    digest: str
    where: str = "kept in the config repository"


def verify_chain(records: list[AuditRecord], partial: bool = False,
                 anchors: "dict[int, str] | list[Anchor] | None" = None) -> ChainReport:
    """Check `records` (oldest first) link up: seq 1, 2, 3 ... each prev_hash the previous hash, each hash
    the record's own. `partial`: the records may start after #1 (an export by dates): the first one's
    prev_hash is taken as given. `anchors`: heads kept outside the store (a dict seq -> hash of git
    notes, or Anchors, which may name one seq several times: every one of GitHub's statuses): each
    anchored seq must be present with that hash (a log rewritten from scratch fails here, naming the
    first anchor, by seq, that it contradicts)."""
    prev_seq, prev_hash = 0, GENESIS
    starts_after = 0
    for i, r in enumerate(records):
        if i == 0 and partial and r.seq > 1:
            prev_seq, prev_hash, starts_after = r.seq - 1, r.prev_hash, r.seq - 1
        if r.seq != prev_seq + 1:
            what = "is missing (deleted)" if r.seq > prev_seq + 1 else "comes out of order or twice (reordered or inserted)"
            return ChainReport(False, i, r.seq if r.seq > prev_seq + 1 else r.seq,
                               f"record #{prev_seq + 1} {what}: found #{r.seq} after #{prev_seq}", (prev_seq, prev_hash), starts_after)
        if r.prev_hash != prev_hash:
            return ChainReport(False, i, r.seq, "its prev_hash is not the hash of the record before it (a record was "
                               "inserted, removed or edited before it)", (prev_seq, prev_hash), starts_after)
        if record_hash(r) != r.hash:
            return ChainReport(False, i, r.seq, "its content does not match its hash (edited)", (prev_seq, prev_hash), starts_after)
        prev_seq, prev_hash = r.seq, r.hash
    by_seq = {r.seq: r.hash for r in records}
    named = ([Anchor(seq, digest) for seq, digest in anchors.items()] if isinstance(anchors, dict) else list(anchors or []))
    for anchor in sorted(named, key=lambda a: a.seq):
        seq, digest = anchor.seq, anchor.digest
        if seq <= starts_after or (partial and seq > prev_seq):
            continue
        if by_seq.get(seq) != digest:
            return ChainReport(False, len(records), seq, f"the anchor {anchor.where} says #{seq} has "
                               f"hash {digest[:16]}, the log {'has no such record' if seq not in by_seq else 'another'} "
                               "(the log was rewritten)", (prev_seq, prev_hash), starts_after)
    return ChainReport(True, len(records), head=(prev_seq, prev_hash), starts_after=starts_after)


def clip(text: str) -> str:
    text = str(text or "")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


@dataclass(frozen=True)
class AuditQuery:
    """A search: every field optional; `since` and `until` are dates (UTC), both inclusive. `intents`:
    include operations' records of intent (default: outcomes only); `sign_ins`: include sign-in events."""
    actor: str = ""
    request_id: int | None = None
    action: str = ""
    since: date | None = None
    until: date | None = None
    limit: int = MAX_RESULTS
    intents: bool = False
    sign_ins: bool = True

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
        if not self.intents:
            clauses.append("outcome <> ?")
            params.append(INTENT)
        if not self.sign_ins:
            clauses.append(f"action NOT IN ({', '.join('?' * len(SIGN_IN_ACTIONS))})")
            params.extend(sorted(SIGN_IN_ACTIONS))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class AuditLog(ABC):
    """The port. `append` adds one record after the head (setting its chain fields) and never changes
    another; `search` returns records newest first (at most `query.limit`, capped at MAX_RESULTS);
    `records` the whole chain oldest first (verify, export); `open_intents` the intent records no outcome
    followed yet. All raise AuditError when the store fails."""

    spool_dir: Path | None = None  # where sign-in events the store could not take wait (SignInSpool)

    @abstractmethod
    def append(self, record: AuditRecord, once: bool = False) -> AuditRecord | None:
        """Append `record` after the head; returns it with its chain fields. `once`: when a record other
        than the intent with the same operation_id exists already, append nothing and return None (the
        outcome of an operation is written once, by the operation or by the repair, whichever is first)."""

    @abstractmethod
    def search(self, query: AuditQuery = AuditQuery()) -> list[AuditRecord]: ...

    @abstractmethod
    def records(self, since: date | None = None, until: date | None = None) -> list[AuditRecord]:
        """Every record (oldest first, by seq), or those of days `since`..`until` (UTC, inclusive)."""

    @abstractmethod
    def open_intents(self) -> list[AuditRecord]:
        """Intent records that no other record of the same operation_id follows, oldest first."""

    def verify(self, anchors: "dict[int, str] | list[Anchor] | None" = None) -> ChainReport:
        """verify_chain over every record of the store."""
        return verify_chain(self.records(), anchors=anchors)

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record; (0, GENESIS) when empty."""
        last = self.search(AuditQuery(limit=1, intents=True))
        return (last[0].seq, last[0].hash) if last else (0, GENESIS)

    def write(self, actor: str, roles, action: str, outcome: str = OK, reason: str = "", *,
              request_id: int | None = None, before: str = "", after: str = "", at: datetime | None = None,
              operation_id: str = "", once: bool = False) -> AuditRecord | None:
        """Append one record: `roles` an iterable of role names, `reason` clipped to MAX_TEXT characters,
        `at` an aware datetime (default: now, UTC). Raises AuditError when the store fails, except for a
        sign-in event (SIGN_IN_ACTIONS): that is kept in the spool and written before the next record
        (SignInSpool), and AuditError only when the spool cannot take it either."""
        record = AuditRecord(occurred_at=at or datetime.now(timezone.utc), actor=str(actor or "")[:100],
                             role=",".join(roles), action=action, request_id=request_id, outcome=outcome,
                             reason=clip(reason), commit_before=before or "", commit_after=after or "",
                             operation_id=operation_id)
        spool = SignInSpool(self.spool_dir) if self.spool_dir else None
        try:
            if spool:
                spool.flush(self)
            return self.append(record, once=once)
        except AuditError as exc:
            if spool is None or action not in SIGN_IN_ACTIONS or exc.setup:
                raise
            spool.keep(record, exc)
            return None


class SignInSpool:
    """Sign-in events the audit store could not take, kept as one JSON file each in `folder` and written
    (oldest first, their time as it was, the reason noting the delay) before the next record any process
    of this machine appends. The folder is the workspace's (SQLite) or the temporary directory's
    (Snowflake: in Streamlit in Snowflake the only writable disk). A spool that cannot be written, or
    holds MAX_SPOOLED events, raises AuditError: the sign-in then fails, it is never dropped silently."""

    CLAIM_STALE_SECONDS = 600  # a claimed file this old was left by a process that died while flushing it

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def keep(self, record: AuditRecord, cause: Exception) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if len(list(self.folder.glob("*.json*"))) >= MAX_SPOOLED:
                raise AuditError(f"the audit log cannot be written and {MAX_SPOOLED} sign-in events wait already: {cause}")
            name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
            tmp = self.folder / f".{name}.tmp"
            tmp.write_text(json.dumps(record.to_row()), encoding="utf-8")
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            raise AuditError(f"the audit log cannot be written ({cause}) and the sign-in spool neither: {exc}") from exc
        logging.getLogger(__name__).warning("audit store unavailable: %s event of %r kept in %s to be written later (%s)",
                                            record.action, record.actor, self.folder, cause)

    def pending(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        now = time.time()
        stale = [p for p in self.folder.glob("*.json.claimed") if now - p.stat().st_mtime > self.CLAIM_STALE_SECONDS]
        return sorted([*self.folder.glob("*.json"), *stale], key=lambda p: p.name)

    def flush(self, log: AuditLog) -> int:
        """Append every kept event to `log`; returns how many. Stops (keeping the rest) when `log` fails."""
        written = 0
        for path in self.pending():
            claimed = path if path.suffix == ".claimed" else path.with_name(path.name + ".claimed")
            try:
                if claimed != path:
                    os.rename(path, claimed)  # atomic: one process flushes each event
                else:
                    os.utime(claimed)
                row = json.loads(claimed.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # another process took it
            record = AuditRecord(datetime.fromisoformat(row["occurred_at"]), row["actor"], row["role"], row["action"],
                                 None, row["outcome"], clip(f"{row['reason']} (written late: the audit store was "
                                                            "unavailable when it happened)".lstrip()),
                                 row.get("commit_before", ""), row.get("commit_after", ""))
            try:
                log.append(record)
            except AuditError:
                os.rename(claimed, path.with_name(claimed.name.removesuffix(".claimed")))
                raise
            claimed.unlink(missing_ok=True)
            written += 1
        return written


class AuditError(RuntimeError):
    """The audit store cannot be written or read; the message names the store, never a secret. `setup`:
    the store is not set up for SnowTower (a table, column or grant missing): an administrator must act,
    so nothing is spooled meanwhile (the sign-in stops and names the fix)."""

    def __init__(self, message: str, setup: bool = False):
        super().__init__(message)
        self.setup = setup


def _record(row) -> AuditRecord:
    at, actor, role, action, request_id, outcome, reason, before, after, operation_id, seq, prev_hash, digest = row
    at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return AuditRecord(at.astimezone(timezone.utc), actor or "", role or "", action or "",
                       None if request_id in (None, "") else int(request_id), outcome or "", reason or "", before or "",
                       after or "", operation_id or "", int(seq or 0), prev_hash or "", digest or "")


def _day_bounds(since: date | None, until: date | None) -> tuple[str, list]:
    where, params = AuditQuery(since=since, until=until, intents=True).where()
    return where, params


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
_OPEN_INTENTS = ("SELECT {cols} FROM {table} a WHERE outcome = 'intent' AND operation_id <> '' AND NOT EXISTS "
                 "(SELECT 1 FROM {table} b WHERE b.operation_id = a.operation_id AND b.outcome <> 'intent') ORDER BY seq")


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
        self._conn = None
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
FORMULA_START = (*plaintext.FORMULA_START, " ", "'")


def _cell(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _uncell(value: str, column: str, line: int) -> str:
    """The text of a to_csv cell: its leading quote removed. Raises ValueError on a cell to_csv would have
    quoted and that is not: the file was changed after the export, and a spreadsheet would run that cell
    (the chain cannot tell, it hashes the text without the quote)."""
    if value.startswith("'"):
        return value[1:]
    if value.startswith(FORMULA_START):
        raise ValueError(f"line {line}, column {column}: the cell starts with {value[:1]!r} without the quote the export "
                         "puts there, so a spreadsheet would run it as a formula; this file is not as exported")
    return value


def to_csv(records: list[AuditRecord]) -> str:
    """RFC 4180 CSV with a header row (COLUMNS, chain fields included). A cell starting with =, +, -, @, a
    tab, a line break, a space or a single quote is prefixed with a single quote: a spreadsheet never
    runs user text, and from_csv removes exactly that quote, so `snowtower audit verify --file` checks
    the export's chain."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: _cell(v) for k, v in r.to_row().items()})
    return out.getvalue()


def _from_row(row: dict) -> AuditRecord:
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise ValueError(f"the file lacks the column(s) {', '.join(missing)}")
    request_id = row["request_id"]
    at = datetime.fromisoformat(str(row["occurred_at"]))
    return AuditRecord(at if at.tzinfo else at.replace(tzinfo=timezone.utc), str(row["actor"]), str(row["role"]),
                       str(row["action"]), None if request_id in (None, "") else int(request_id), str(row["outcome"]),
                       str(row["reason"]), str(row["commit_before"]), str(row["commit_after"]), str(row["operation_id"]),
                       int(row["seq"]), str(row["prev_hash"]), str(row["hash"]))


def from_csv(text: str) -> list[AuditRecord]:
    """The records of a to_csv export (spreadsheet quotes removed). Raises ValueError on another shape (columns
    other than COLUMNS, a row with more or fewer cells), or on a cell a spreadsheet would run that lacks its quote."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    # Why: verify vouches for the whole file: a column or a cell the log never held is not as exported.
    if reader.fieldnames is not None and list(reader.fieldnames) != list(COLUMNS):
        raise ValueError(f"its columns are not the export's ({', '.join(COLUMNS)}); this file is not as exported")
    records = []
    for row in reader:
        if None in row or None in row.values():
            raise ValueError(f"line {reader.line_num}: the row has {'more' if None in row else 'fewer'} cells than "
                             "the header; this file is not as exported")
        records.append(_from_row({k: _uncell(v, k, reader.line_num) for k, v in row.items()}))
    return records


EXPORT_FORMAT = "snowtower-audit-export"


def to_json(records: list[AuditRecord], since: date | None = None, until: date | None = None) -> str:
    """The records as JSON: {"format", "version": 1, "since", "until", "records": [{COLUMNS...}]} (oldest
    first; request_id an integer or null). An export by dates starts after #1: verify checks it from there."""
    rows = []
    for r in records:
        row = r.to_row()
        row["request_id"] = r.request_id
        rows.append(row)
    return json.dumps({"format": EXPORT_FORMAT, "version": 1, "since": since.isoformat() if since else None,
                       "until": until.isoformat() if until else None, "records": rows}, ensure_ascii=False, indent=1) + "\n"


def from_json(text: str) -> list[AuditRecord]:
    """The records of a to_json export. Raises ValueError on another shape (keys the export does not write
    included)."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT or not isinstance(data.get("records"), list):
        raise ValueError(f"not a SnowTower audit export (a JSON object with \"format\": \"{EXPORT_FORMAT}\")")
    # Why: verify vouches for the whole file: a key the export does not write holds text the log never held.
    extra = set(data) - {"format", "version", "since", "until", "records"}
    if extra:
        raise ValueError(f"it has key(s) the export does not write ({', '.join(sorted(map(str, extra)))}); "
                         "this file is not as exported")
    for i, row in enumerate(data["records"], 1):
        if not isinstance(row, dict) or set(row) != set(COLUMNS):
            raise ValueError(f"record {i} has other keys than the export's ({', '.join(COLUMNS)}); this file is not as exported")
    return [_from_row(row) for row in data["records"]]


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
