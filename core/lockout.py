"""Temporary lock-out of a login after repeated wrong passwords, kept in the workspace's SQLite file.

A login that fails `max_attempts` times in a row is locked for `minutes`; the lock then lapses by
itself, a correct password afterwards clears the count, and an admin can lift it at once
(`snowtower users unlock LOGIN`). Counts live here, never in the users file, so the users file stays
the admins' to edit and a lock can never become permanent.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signin_failures (
    login TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until TEXT
)
"""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Lockout:
    """Failed sign-ins per login (lower-cased). `clock` returns an aware UTC datetime (tests move it)."""

    def __init__(self, db_path: str | Path, max_attempts: int = 10, minutes: int = 15,
                 clock: Callable[[], datetime] = _utcnow):
        if max_attempts < 1 or minutes < 1:
            raise ValueError("signin_max_attempts and signin_lockout_minutes must be 1 or more")
        self.db_path = Path(db_path)
        self.max_attempts = max_attempts
        self.minutes = minutes
        self.clock = clock

    def _connect(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        conn.execute(_SCHEMA)
        return conn

    def locked_until(self, login: str) -> datetime | None:
        """The end of the login's lock (UTC), or None when it may try to sign in now."""
        conn = self._connect()
        try:
            row = conn.execute("SELECT locked_until FROM signin_failures WHERE login = ?", (login.lower(),)).fetchone()
        finally:
            conn.close()
        if not row or not row[0]:
            return None
        until = datetime.fromisoformat(row[0])
        return until if until > self.clock() else None

    def record_failure(self, login: str) -> datetime | None:
        """Count one wrong password; returns the end of the lock if this attempt locked the login.

        A lock that has lapsed starts a fresh count: the next lock needs `max_attempts` new failures."""
        now = self.clock()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")  # read and write the count in one transaction: parallel tries all count
            row = conn.execute("SELECT failures, locked_until FROM signin_failures WHERE login = ?", (login.lower(),)).fetchone()
            failures = row[0] if row else 0
            if row and row[1] and datetime.fromisoformat(row[1]) <= now:
                failures = 0
            failures += 1
            until = now + timedelta(minutes=self.minutes) if failures >= self.max_attempts else None
            conn.execute(
                "INSERT INTO signin_failures (login, failures, locked_until) VALUES (?, ?, ?) "
                "ON CONFLICT(login) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until",
                (login.lower(), failures, until.isoformat() if until else None),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
        return until

    def clear(self, login: str) -> bool:
        """Forget the login's failures and lift its lock (a correct password, or an admin's unlock).
        Returns True if there was anything to forget."""
        conn = self._connect()
        try:
            cur = conn.execute("DELETE FROM signin_failures WHERE login = ?", (login.lower(),))
            return cur.rowcount > 0
        finally:
            conn.close()

    def status(self) -> dict[str, tuple[int, datetime | None]]:
        """login -> (failures in a row, end of a lock still running or None)."""
        conn = self._connect()
        try:
            rows = conn.execute("SELECT login, failures, locked_until FROM signin_failures ORDER BY login").fetchall()
        finally:
            conn.close()
        now = self.clock()
        out = {}
        for login, failures, until in rows:
            end = datetime.fromisoformat(until) if until else None
            out[login] = (failures, end if end and end > now else None)
        return out
