"""The state of each finding (open, resolved, accepted) and when it was first and last seen, and the alerts'
once-only ledger. One port, `FindingStore`, two implementations:
- `FindingStates`: the workspace's records (SQLite: workspace/snowtower.db, tables `finding_state` and
  `alert_sent`); `FindingStates(None)` keeps nothing (no workspace);
- `SnowflakeFindingStates`: Snowflake tables SNOWTOWER_FINDING_STATE and SNOWTOWER_ALERT_SENT beside the
  audit table, which an administrator creates (deploy/setup.sql step 4; app.snowflake_tables).

States, as Snowflake's Trust Center names them (https://docs.snowflake.com/en/user-guide/trust-center/overview):
- open: the evidence is there now;
- resolved: it was seen before and is gone now (it opens again when it comes back);
- accepted: an admin accepted the risk with a reason, until an expiry date (at most MAX_ACCEPT_DAYS ahead);
  after the expiry it is open again. Accepting is an audited operation (AcceptFinding) with its guards on
  the server: admins only, a reason, an expiry in (today, today + MAX_ACCEPT_DAYS].

`observe(findings, now)` records what a reading of the account found and returns each finding with its
state; `alert_sent` is the alerts' once-only ledger (app.alerts): one row per event key, a unique key, so
two runs at once cannot both claim the same event.

Which one (states_for): the Snowflake tables whenever `audit_log = "snowflake"` (always so in Streamlit in
Snowflake, whose only disk is a temporary directory that does not survive a restart), else the workspace
database. Why follow the audit log's setting rather than only SiS: a user who keeps SnowTower's records in
Snowflake runs `snowtower alerts` from a workflow, a cron line on another machine or a Snowflake task, and
the portal elsewhere; they must share one ledger (or an alert goes out once per machine) and one set of
accepted findings (whose AcceptFinding records are in that same Snowflake audit log). A workspace file
would split them silently.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, cast

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


def _states(rows, keys: set[str], now: dt.datetime) -> dict[str, FindingState]:
    """FindingState of each row (key, first_seen, last_seen, accepted_by, accepted_reason, accepted_until)
    whose key is in `keys`: accepted while accepted_until is today or later, else open."""
    out = {}
    for key, first, last, by, reason, until in rows:
        if key not in keys:
            continue
        until_date = dt.date.fromisoformat(until) if until else None
        accepted = until_date is not None and until_date >= now.date()
        out[key] = FindingState(key, "accepted" if accepted else "open", cast(dt.datetime, _ts(first)), cast(dt.datetime, _ts(last)),
                                by or "" if accepted else "", reason or "" if accepted else "",
                                until_date if accepted else None)
    return out


class FindingStore(ABC):
    """Where finding states and the alerts' ledger are kept. Every method raises StateError when the records
    cannot be read or written (for Snowflake the message names the missing grant or table)."""

    @property
    @abstractmethod
    def persistent(self) -> bool:
        """Whether states survive this process (False: every finding is open, accepting is refused)."""

    @abstractmethod
    def observe(self, findings, now: dt.datetime) -> dict[str, FindingState]:
        """Record that `findings` (core.findings.Finding) are seen at `now` (aware UTC) and that every other
        finding seen before is resolved; return {key: FindingState} for `findings`. One transaction."""

    @abstractmethod
    def resolved(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        """(key, first_seen, resolved_at) of the findings that are gone, newest first."""

    @abstractmethod
    def accept(self, key: str, by: str, reason: str, until: dt.date, now: dt.datetime) -> None:
        """Mark finding `key` accepted by `by` until `until`. The guards are AcceptFinding's; StateError when
        the finding was never seen (nothing to accept)."""

    @abstractmethod
    def claim(self, key: str, source: str, now: dt.datetime, stale_before: dt.datetime | None = None) -> bool:
        """Claim event `key` for sending: True for the one run that claims it first (two runs at once cannot
        both get True), False when it was claimed before. A claim never sent and made before `stale_before`
        is a run that died between claiming and sending: it is taken over (again by one run only)."""

    @abstractmethod
    def sent(self, key: str, channels: list[str], now: dt.datetime) -> None:
        """Record that event `key` went out through `channels`."""

    @abstractmethod
    def release(self, key: str) -> None:
        """Give a claim back when no channel took the event, so the next run tries again."""

    @abstractmethod
    def was_sent(self, key: str, stale_before: dt.datetime | None = None) -> bool:
        """True when event `key` was sent, or is claimed by a run (since `stale_before`, when given: an older
        claim never sent belongs to a run that died, and the event is still to send)."""


class FindingStates(FindingStore):
    """The records at `path` (the workspace database), or none (`path` None)."""

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
            db = sqlite3.connect(cast(Path, self.path), timeout=30, isolation_level=None)  # callers check persistent first
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
        return _states(rows, keys, now)

    def resolved(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        """(key, first_seen, resolved_at) of the findings that are gone, newest first."""
        if self.path is None:
            return []
        with self.connect() as db:
            rows = db.execute("SELECT key, first_seen, resolved_at FROM finding_state WHERE resolved_at IS NOT NULL "
                              "ORDER BY resolved_at DESC").fetchall()
        return [(k, cast(dt.datetime, _ts(f)), cast(dt.datetime, _ts(r))) for k, f, r in rows]  # columns set on these rows

    def accept(self, key: str, by: str, reason: str, until: dt.date, now: dt.datetime) -> None:
        """Mark finding `key` accepted by `by` until `until`. The guards are AcceptFinding's; StateError when
        the finding was never seen (nothing to accept)."""
        if self.path is None:
            raise StateError("accepting a finding needs somewhere to keep it: a workspace, or audit_log = \"snowflake\" "
                             "(its tables in deploy/setup.sql step 4); nothing was done.")
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
            raise StateError("alerts need somewhere to keep what was sent: a workspace, or audit_log = \"snowflake\" "
                             "(its tables in deploy/setup.sql step 4); nothing was sent.")
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


_ROW = ("key", "severity", "first_seen", "last_seen", "resolved_at", "accepted_by", "accepted_reason", "accepted_until",
        "accepted_at")
_CHUNK = 200  # rows per INSERT (9 binds each) and keys per DELETE


class SnowflakeFindingStates(FindingStore):
    """The records in Snowflake: `states_table` (SNOWTOWER_FINDING_STATE), `alerts_table`
    (SNOWTOWER_ALERT_SENT) and the writers' lock rows in `lock_table` (SNOWTOWER_LOCKS), all created by an
    administrator (deploy/setup.sql step 4; app.snowflake_tables.TABLES). `connect`: a DB-API connection
    factory (paramstyle qmark). Snowflake enforces no PRIMARY KEY or UNIQUE on standard tables ("Overview
    of constraints"), so each write that reads first (observe, accept, claim, sent, release) runs inside
    SnowflakeTables.locked, which serialises writers with a row lock ("Transactions", "Resource locking");
    a claim is then once-only across processes and machines. Errors raise StateError naming the missing
    grant or table."""

    def __init__(self, connect, states_table: str, alerts_table: str, lock_table: str, owns_connection: bool = True):
        from app.snowflake_tables import SnowflakeTables, _IDENTIFIER

        for table in (states_table, alerts_table):
            if not _IDENTIFIER.fullmatch(table or ""):
                raise ValueError(f"table {table!r} is not a Snowflake identifier (NAME, SCHEMA.NAME or DB.SCHEMA.NAME)")
        self.states_table, self.alerts_table = states_table, alerts_table
        self.tables = SnowflakeTables(connect, lock_table, "the findings records", owns_connection)

    @property
    def persistent(self) -> bool:
        return True

    @contextmanager
    def _guard(self):
        from app.snowflake_tables import TableError

        try:
            yield
        except TableError as exc:
            raise StateError(str(exc)) from exc

    def _run(self, sql, params=None, *, table, privilege="SELECT", fetch=False):
        return self.tables.run(sql, params, table=table, privilege=privilege, fetch=fetch)

    def observe(self, findings, now: dt.datetime) -> dict[str, FindingState]:
        at = now.isoformat()
        seen = {f.key: f for f in findings}
        t = self.states_table

        def body():
            rows = self._run(f"SELECT {', '.join(_ROW)} FROM {t}", table=t, fetch=True)
            before = {}
            for row in rows:  # a key twice (a table written by hand): the first row counts, both are replaced
                before.setdefault(row[0], list(row))
            changed = {}
            for key, f in seen.items():
                old = before.get(key)
                if old is None:
                    changed[key] = [key, f.severity, at, at, None, None, None, None, None]
                else:
                    first = old[2] if old[4] is None else at  # seen again after it was resolved: a new first sighting
                    changed[key] = [key, f.severity, first, at, None, *old[5:]]
            for key, old in before.items():
                if key not in seen and old[4] is None:
                    changed[key] = [*old[:4], at, *old[5:]]
            stale = [k for k in changed if k in before]
            for i in range(0, len(stale), _CHUNK):
                part = stale[i:i + _CHUNK]
                self._run(f"DELETE FROM {t} WHERE key IN ({', '.join('?' * len(part))})", part, table=t, privilege="DELETE")
            new_rows = list(changed.values())
            for i in range(0, len(new_rows), _CHUNK):
                part = new_rows[i:i + _CHUNK]
                values = ", ".join("(" + ", ".join("?" * len(_ROW)) + ")" for _ in part)
                self._run(f"INSERT INTO {t} ({', '.join(_ROW)}) VALUES {values}", [v for r in part for v in r],
                          table=t, privilege="INSERT")
            after = {**before, **changed}
            return [(r[0], r[2], r[3], r[5], r[6], r[7]) for r in after.values()]

        with self._guard():
            rows = self.tables.locked("finding_state", body)
        return _states(rows, set(seen), now)

    def resolved(self) -> list[tuple[str, dt.datetime, dt.datetime]]:
        t = self.states_table
        with self._guard():
            rows = self._run(f"SELECT key, first_seen, resolved_at FROM {t} WHERE resolved_at IS NOT NULL "
                             "ORDER BY resolved_at DESC", table=t, fetch=True)
        return [(k, cast(dt.datetime, _ts(f)), cast(dt.datetime, _ts(r))) for k, f, r in rows]  # columns set on these rows

    def accept(self, key: str, by: str, reason: str, until: dt.date, now: dt.datetime) -> None:
        t = self.states_table
        with self._guard():
            changed = self.tables.locked("finding_state", lambda: self._run(
                f"UPDATE {t} SET accepted_by = ?, accepted_reason = ?, accepted_until = ?, accepted_at = ? WHERE key = ?",
                [by, reason, until.isoformat(), now.isoformat(), key], table=t, privilege="UPDATE"))
        if not changed:
            raise StateError(f"no finding {key} has been seen; nothing was accepted.")

    # -- the alerts' ledger ------------------------------------------------------------------------
    def claim(self, key: str, source: str, now: dt.datetime, stale_before: dt.datetime | None = None) -> bool:
        """Under the lock "alert_sent": read the key's row; none: INSERT it and win; a claim never sent and
        older than `stale_before`: take it over (UPDATE) and win; else lose. The lock makes the read and
        the write one step for every session, which a conditional INSERT alone would not (INSERTs run in
        parallel, and no UNIQUE key refuses the second row)."""
        t = self.alerts_table

        def body() -> bool:
            rows = self._run(f"SELECT sent_at, claimed_at FROM {t} WHERE key = ?", [key], table=t, fetch=True)
            if not rows:
                self._run(f"INSERT INTO {t} (key, source, claimed_at, channels) VALUES (?, ?, ?, ?)",
                          [key, source, _utc(now), ""], table=t, privilege="INSERT")
                return True
            if stale_before is None or any(r[0] is not None or r[1] >= _utc(stale_before) for r in rows):
                return False
            self._run(f"UPDATE {t} SET claimed_at = ?, source = ? WHERE key = ?", [_utc(now), source, key],
                      table=t, privilege="UPDATE")
            return True

        with self._guard():
            return self.tables.locked("alert_sent", body)

    def sent(self, key: str, channels: list[str], now: dt.datetime) -> None:
        t = self.alerts_table
        with self._guard():
            self.tables.locked("alert_sent", lambda: self._run(
                f"UPDATE {t} SET sent_at = ?, channels = ? WHERE key = ?", [now.isoformat(), ",".join(channels), key],
                table=t, privilege="UPDATE"))

    def release(self, key: str) -> None:
        t = self.alerts_table
        with self._guard():
            self.tables.locked("alert_sent", lambda: self._run(
                f"DELETE FROM {t} WHERE key = ? AND sent_at IS NULL", [key], table=t, privilege="DELETE"))

    def was_sent(self, key: str, stale_before: dt.datetime | None = None) -> bool:
        t = self.alerts_table
        with self._guard():
            rows = self._run(f"SELECT sent_at, claimed_at FROM {t} WHERE key = ?", [key], table=t, fetch=True)
        if not rows:
            return False
        return any(r[0] is not None for r in rows) or stale_before is None or any(r[1] >= _utc(stale_before) for r in rows)

    def check_writable(self) -> None:
        """Whether the role may use every table, writing nothing: an INSERT of the rows of a query selecting
        none (compiled, so privileges are checked) and a DELETE matching none, per table. Raises StateError
        naming the missing grant."""
        with self._guard():
            for t, cols in ((self.states_table, _ROW), (self.alerts_table, ("key", "source", "claimed_at", "sent_at", "channels")),
                            (self.tables.lock_table, ("name", "held_by", "held_at"))):
                self._run(f"INSERT INTO {t} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {t} WHERE 1 = 0",
                          table=t, privilege="INSERT")
                self._run(f"UPDATE {t} SET {cols[0]} = {cols[0]} WHERE 1 = 0", table=t, privilege="UPDATE")
                if t != self.tables.lock_table:
                    self._run(f"DELETE FROM {t} WHERE 1 = 0", table=t, privilege="DELETE")


def snowflake_states_for(settings, source=None) -> SnowflakeFindingStates:
    """The Snowflake findings records of `settings`: SNOWTOWER_FINDING_STATE, SNOWTOWER_ALERT_SENT and
    SNOWTOWER_LOCKS in the database and schema of the audit table (audit_table, in snowflake_schema when
    unqualified), through `source` (a core.snowflake CursorSource: st.connection in the portal and in
    Streamlit in Snowflake) or else the connector from SNOWFLAKE_* variables (opened on first use)."""
    from app.snowflake_tables import ALERT_SENT_TABLE, FINDING_STATE_TABLE, LOCK_TABLE, sibling

    table = settings.audit_table
    if "." not in table and settings.snowflake_schema:
        table = f"{settings.snowflake_schema}.{table}"

    def connect():
        if source is not None:
            return source.connect()
        from core.snowflake.connect import connector_source

        return connector_source().connect()

    return SnowflakeFindingStates(connect, sibling(table, FINDING_STATE_TABLE), sibling(table, ALERT_SENT_TABLE),
                                  sibling(table, LOCK_TABLE), owns_connection=source is None)


def states_for(services) -> FindingStore:
    """The findings records of `services`: Snowflake tables when `audit_log = "snowflake"` (always in
    Streamlit in Snowflake; one store per Services, its session kept), else the workspace database
    (module docstring: why)."""
    settings = services.settings
    if settings.audit_log == "snowflake":
        store = getattr(services, "_finding_store", None)
        if store is None:
            store = snowflake_states_for(settings, getattr(services, "snowflake", None))
            services._finding_store = store
        return store
    return FindingStates(None if settings.in_sis else services.workspace.db_path)
