"""The audit record and its hash chain (part of the audit log: app.audit; docs/security.md, "The audit log").

- `AuditRecord`: one thing that happened (an operation's intent or outcome, a sign-in event), with its
  chain fields `seq`, `prev_hash`, `hash`; `COLUMNS` its field names, the stores' columns.
- Outcomes: OK, REFUSED, FAILED, and INTENT (the record an operation writes before it acts).
- `canonical_json` / `record_hash`: the SHA-256 (64 hex characters) of a record's canonical JSON;
  `verify_chain` -> ChainReport (where the chain breaks, checked against optional `Anchor`s).
- `AuditQuery`: a search (dates UTC, inclusive), turned into a WHERE clause with qmark parameters.
No I/O here.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta, timezone

# Outcomes of a record: the action happened, was refused by a guard (reason says why), or failed
# on an unexpected error (reason names the error id only, never a traceback).
OK, REFUSED, FAILED = "ok", "refused", "failed"
# The record an operation writes before it acts; its outcome record follows with the same operation_id.
INTENT = "intent"
GENESIS = "0" * 64  # the prev_hash of the first record
SIGN_IN_ACTIONS = frozenset({"sign_in", "sign_in_failed", "sign_out"})
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
        clauses: list[str] = []
        params: list = []
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
