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

Where each part lives: the record, its outcomes, its hash chain and the search (app.audit_record); this
module, the port (AuditLog, AuditError, the sign-in spool, the row helpers both stores share); the stores
(app.audit_sqlite, app.audit_snowflake); which store the settings choose (app.audit_stores.audit_log_for);
CSV and JSON export and import (app.audit_export).
"""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from abc import ABC, abstractmethod
from datetime import date, datetime, timezone
from pathlib import Path

from app.audit_record import (GENESIS, OK, SIGN_IN_ACTIONS, Anchor, AuditQuery, AuditRecord, ChainReport, clip,
                              verify_chain)

MAX_SPOOLED = 10_000  # sign-in events kept while the store cannot take them; beyond, sign-in fails closed


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


_OPEN_INTENTS = ("SELECT {cols} FROM {table} a WHERE outcome = 'intent' AND operation_id <> '' AND NOT EXISTS "
                 "(SELECT 1 FROM {table} b WHERE b.operation_id = a.operation_id AND b.outcome <> 'intent') ORDER BY seq")
