"""Review records in SQLite: change requests, reviews, the event log and deployments.

Each call opens its own connection (Streamlit serves sessions from several threads); writes that
must happen together run in one IMMEDIATE transaction.
"""
from __future__ import annotations

import builtins
import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from core.changes.model import ChangeRequest, Event, Review, Status, now

SCHEMA_VERSION = 2  # 2: reviews.head_sha (the commit a decision is about)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS change_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recipe TEXT NOT NULL,
    title TEXT NOT NULL,
    requester TEXT NOT NULL,
    justification TEXT NOT NULL,
    request_json TEXT NOT NULL,
    branch TEXT NOT NULL UNIQUE,
    base_sha TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    status TEXT NOT NULL,
    files_json TEXT NOT NULL DEFAULT '[]',
    validation_json TEXT NOT NULL DEFAULT '{}',
    merged_sha TEXT,
    url TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS change_requests_requester ON change_requests(requester);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER NOT NULL REFERENCES change_requests(id),
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    head_sha TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER REFERENCES change_requests(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_request ON events(request_id);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha TEXT NOT NULL,
    request_id INTEGER REFERENCES change_requests(id),
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(reviews)")}
            if "head_sha" not in columns:  # a workspace made by schema version 1
                db.execute("ALTER TABLE reviews ADD COLUMN head_sha TEXT NOT NULL DEFAULT ''")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- change requests -------------------------------------------------------------------------
    @staticmethod
    def _row(row: sqlite3.Row) -> ChangeRequest:
        return ChangeRequest(
            id=row["id"], recipe=row["recipe"], title=row["title"], requester=row["requester"],
            justification=row["justification"], request=json.loads(row["request_json"]),
            branch=row["branch"], base_sha=row["base_sha"], head_sha=row["head_sha"],
            status=Status(row["status"]), created_at=row["created_at"], updated_at=row["updated_at"],
            files=json.loads(row["files_json"]), validation=json.loads(row["validation_json"]),
            merged_sha=row["merged_sha"], url=row["url"],
        )

    def next_id(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'change_requests'").fetchone()
        return (row[0] if row else 0) + 1

    def insert(self, db: sqlite3.Connection, cr: ChangeRequest) -> int:
        cur = db.execute(
            "INSERT INTO change_requests (recipe, title, requester, justification, request_json, branch, base_sha,"
            " head_sha, status, files_json, validation_json, url, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (cr.recipe, cr.title, cr.requester, cr.justification, json.dumps(cr.request), cr.branch, cr.base_sha,
             cr.head_sha, cr.status.value, json.dumps(cr.files), json.dumps(cr.validation), cr.url,
             cr.created_at, cr.updated_at),
        )
        row_id = cur.lastrowid
        assert row_id is not None  # sqlite3 sets it after every INSERT into a rowid table
        return row_id

    def update(self, db: sqlite3.Connection, request_id: int, **values) -> None:
        columns: dict[str, Callable[[Any], str]] = {"status": lambda s: Status(s).value, "head_sha": str, "base_sha": str, "merged_sha": str,
                   "validation": json.dumps, "request": json.dumps, "files": json.dumps, "title": str,
                   "justification": str}
        sets, args = [], []
        for key, value in values.items():
            column = {"validation": "validation_json", "request": "request_json", "files": "files_json"}.get(key, key)
            sets.append(f"{column} = ?")
            args.append(columns[key](value))
        sets.append("updated_at = ?")
        args.append(now())
        db.execute(f"UPDATE change_requests SET {', '.join(sets)} WHERE id = ?", (*args, request_id))

    def get(self, request_id: int, db: sqlite3.Connection | None = None) -> ChangeRequest | None:
        if db is not None:
            row = db.execute("SELECT * FROM change_requests WHERE id = ?", (request_id,)).fetchone()
            return self._row(row) if row else None
        with self.connect() as conn:
            return self.get(request_id, conn)

    def list(self, requester: str | None = None, statuses: list[Status] | None = None) -> list[ChangeRequest]:
        sql, args = "SELECT * FROM change_requests WHERE 1=1", []
        if requester:
            sql += " AND requester = ?"
            args.append(requester)
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += [s.value for s in statuses]
        with self.connect() as db:
            return [self._row(r) for r in db.execute(sql + " ORDER BY id DESC", args)]

    # -- reviews, events, deployments ------------------------------------------------------------
    def add_review(self, db: sqlite3.Connection, review: Review) -> None:
        db.execute(
            "INSERT INTO reviews (request_id, reviewer, decision, comment, at, head_sha) VALUES (?,?,?,?,?,?)",
            (review.request_id, review.reviewer, review.decision, review.comment, review.at, review.head_sha),
        )

    def reviews(self, request_id: int, db: sqlite3.Connection | None = None) -> builtins.list[Review]:
        sql = "SELECT request_id, reviewer, decision, comment, at, head_sha FROM reviews WHERE request_id = ? ORDER BY id"
        if db is not None:
            return [Review(**dict(r)) for r in db.execute(sql, (request_id,))]
        with self.connect() as conn:
            return self.reviews(request_id, conn)

    def add_event(self, db: sqlite3.Connection, event: Event) -> None:
        db.execute(
            "INSERT INTO events (request_id, at, actor, action, detail) VALUES (?,?,?,?,?)",
            (event.request_id, event.at, event.actor, event.action, event.detail),
        )

    def resolved_by(self, db: sqlite3.Connection, request_id: int) -> str | None:
        """Who merged, rejected or withdrew the request (the latest such event), or None."""
        row = db.execute("SELECT actor FROM events WHERE request_id = ? AND action IN ('merged', 'rejected', 'withdrawn')"
                         " ORDER BY id DESC LIMIT 1", (request_id,)).fetchone()
        return row[0] if row else None

    def events(self, request_id: int) -> builtins.list[Event]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT request_id, at, actor, action, detail FROM events WHERE request_id = ? ORDER BY id", (request_id,)
            )
            return [Event(**dict(r)) for r in rows]

    def add_deployment(self, db: sqlite3.Connection, sha: str, request_id: int | None, actor: str) -> None:
        db.execute("INSERT INTO deployments (sha, request_id, actor, at) VALUES (?,?,?,?)", (sha, request_id, actor, now()))

    def deployed_sha(self) -> str | None:
        with self.connect() as db:
            row = db.execute("SELECT sha FROM deployments ORDER BY id DESC LIMIT 1").fetchone()
            return row[0] if row else None
