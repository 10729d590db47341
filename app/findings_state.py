"""The state of each finding (open, resolved, accepted) and when it was first and last seen, kept in the
workspace's records (SQLite: workspace/snowtower.db, tables `finding_state` and `alert_sent`).

States, as Snowflake's Trust Center names them (https://docs.snowflake.com/en/user-guide/trust-center/overview):
- open: the evidence is there now;
- resolved: it was seen before and is gone now (it opens again when it comes back);
- accepted: an admin accepted the risk with a reason, until an expiry date (at most MAX_ACCEPT_DAYS ahead);
  after the expiry it is open again. Accepting is an audited operation (AcceptFinding) with its guards on
  the server: admins only, a reason, an expiry in (today, today + MAX_ACCEPT_DAYS].

`observe(findings, now)` records what a reading of the account found and returns each finding with its
state; `alert_sent` is the alerts' once-only ledger (app.alerts): one row per event key, a unique key, so
two runs at once cannot both claim the same event.

Streamlit in Snowflake has no workspace file: there `FindingStates(None)` keeps nothing (every finding is
open, first and last seen now) and accepting is refused with a clear message.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

MAX_ACCEPT_DAYS = 90
MAX_REASON = 500  # characters
STATES = ("open", "resolved", "accepted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS finding_state (
    key TEXT PRIMARY KEY,
    severity TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    resolved_at TEXT,
    accepted_by TEXT,
    accepted_reason TEXT,
    accepted_until TEXT,
    accepted_at TEXT
);
CREATE TABLE IF NOT EXISTS alert_sent (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    sent_at TEXT,
    channels TEXT NOT NULL DEFAULT ''
);
"""


class StateError(ValueError):
    """The records cannot be read or written (the reason)."""


@dataclass(frozen=True)
class FindingState:
    """One finding's state: `state` in STATES; `first_seen`/`last_seen` aware UTC datetimes; accepted_* set
    while it is accepted (by, reason, until: a date)."""
    key: str
    state: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    accepted_by: str = ""
    accepted_reason: str = ""
    accepted_until: dt.date | None = None

    def to_dict(self) -> dict:
        return {"state": self.state, "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
                "accepted_by": self.accepted_by or None, "accepted_reason": self.accepted_reason or None,
                "accepted_until": self.accepted_until.isoformat() if self.accepted_until else None}


def _ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


class FindingStates:
    """The records at `path` (the workspace database), or none (`path` None: Streamlit in Snowflake)."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        if self.path is not None:
            with self.connect() as db:
                db.executescript(_SCHEMA)

    @property
    def persistent(self) -> bool:
        return self.path is not None

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateError(f"the findings records cannot be opened: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode = WAL")
            yield db
        except sqlite3.Error as exc:
            raise StateError(f"the findings records cannot be read or written: {exc}") from exc
        finally:
            db.close()

    def observe(self, findings, now: dt.datetime) -> dict[str, FindingState]:
        """Record that `findings` (core.findings.Finding) are seen at `now` (aware UTC) and that every other
        finding seen before is resolved; return {key: FindingState} for `findings`. One transaction."""
        at = now.isoformat()
        if self.path is None:
            return {f.key: FindingState(f.key, "open", now, now) for f in findings}
        keys = {f.key for f in findings}
        out = {}
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for f in findings:
                    db.execute("INSERT INTO finding_state (key, severity, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                               "ON CONFLICT(key) DO UPDATE SET last_seen = excluded.last_seen, severity = excluded.severity, "
                               "resolved_at = NULL, first_seen = CASE WHEN finding_state.resolved_at IS NULL "
                               "THEN finding_state.first_seen ELSE excluded.first_seen END", (f.key, f.severity, at, at))
                for (key,) in db.execute("SELECT key FROM finding_state WHERE resolved_at IS NULL").fetchall():
                    if key not in keys:
                        db.execute("UPDATE finding_state SET resolved_at = ? WHERE key = ?", (at, key))
                rows = db.execute("SELECT key, first_seen, last_seen, accepted_by, accepted_reason, accepted_until "
                                  "FROM finding_state").fetchall()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        for key, first, last, by, reason, until in rows:
            if key not in keys:
                continue
            until_date = dt.date.fromisoformat(until) if until else None
            accepted = until_date is not None and until_date >= now.date()
            out[key] = FindingState(key, "accepted" if accepted else "open", _ts(first), _ts(last),
                                    by or "" if accepted else "", reason or "" if accepted else "",
                                    until_date if accepted else None)
        return out

    def resolved(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        """(key, first_seen, resolved_at) of the findings that are gone, newest first."""
        if self.path is None:
            return []
        with self.connect() as db:
            rows = db.execute("SELECT key, first_seen, resolved_at FROM finding_state WHERE resolved_at IS NOT NULL "
                              "ORDER BY resolved_at DESC").fetchall()
        return [(k, _ts(f), _ts(r)) for k, f, r in rows]

    def accept(self, key: str, by: str, reason: str, until: dt.date, now: dt.datetime) -> None:
        """Mark finding `key` accepted by `by` until `until`. The guards are AcceptFinding's; StateError when
        the finding was never seen (nothing to accept)."""
        if self.path is None:
            raise StateError("accepting a finding needs the workspace's records, which Streamlit in Snowflake does not "
                             "have yet; nothing was done.")
        with self.connect() as db:
            changed = db.execute("UPDATE finding_state SET accepted_by = ?, accepted_reason = ?, accepted_until = ?, "
                                 "accepted_at = ? WHERE key = ?", (by, reason, until.isoformat(), now.isoformat(), key)).rowcount
        if not changed:
            raise StateError(f"no finding {key} has been seen; nothing was accepted.")

    # -- the alerts' ledger ------------------------------------------------------------------------
    def claim(self, key: str, source: str, now: dt.datetime, stale_before: dt.datetime | None = None) -> bool:
        """Claim event `key` for sending: True for the one run that claims it first (a unique key: two runs at
        once cannot both get True), False when it was claimed before. A claim never sent and made before
        `stale_before` is a run that died between claiming and sending: it is taken over (one UPDATE, so
        again only one run gets True)."""
        if self.path is None:
            raise StateError("alerts need the workspace's records (a SQLite file); nothing was sent.")
        with self.connect() as db:
            if db.execute("INSERT OR IGNORE INTO alert_sent (key, source, claimed_at) VALUES (?, ?, ?)",
                          (key, source, _utc(now))).rowcount == 1:
                return True
            if stale_before is None:
                return False
            return db.execute("UPDATE alert_sent SET claimed_at = ?, source = ? WHERE key = ? AND sent_at IS NULL "
                              "AND claimed_at < ?", (_utc(now), source, key, _utc(stale_before))).rowcount == 1

    def sent(self, key: str, channels: list[str], now: dt.datetime) -> None:
        with self.connect() as db:
            db.execute("UPDATE alert_sent SET sent_at = ?, channels = ? WHERE key = ?", (now.isoformat(), ",".join(channels), key))

    def release(self, key: str) -> None:
        """Give a claim back when no channel took the event, so the next run tries again."""
        with self.connect() as db:
            db.execute("DELETE FROM alert_sent WHERE key = ? AND sent_at IS NULL", (key,))

    def was_sent(self, key: str, stale_before: dt.datetime | None = None) -> bool:
        """True when event `key` was sent, or is claimed by a run (since `stale_before`, when given: an older
        claim never sent belongs to a run that died, and the event is still to send)."""
        if self.path is None:
            return False
        with self.connect() as db:
            row = db.execute("SELECT sent_at, claimed_at FROM alert_sent WHERE key = ?", (key,)).fetchone()
        if row is None:
            return False
        return row[0] is not None or stale_before is None or row[1] >= _utc(stale_before)


def _utc(moment: dt.datetime) -> str:
    """`moment` as ISO 8601 in UTC, so that claims compare as text."""
    return moment.astimezone(dt.timezone.utc).isoformat() if moment.tzinfo else moment.isoformat()


def states_for(services) -> FindingStates:
    """The findings records of `services`: the workspace database, or none in Streamlit in Snowflake (no file)."""
    return FindingStates(None if services.settings.in_sis else services.workspace.db_path)
