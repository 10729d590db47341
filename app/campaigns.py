"""Access review campaigns: an admin starts one over a scope of grants with a deadline; each (user, business
role) goes to a reviewer with its usage evidence (app.usage); the reviewer keeps it (with a reason), keeps it
until a date (a grant-role request with `until`: the expiry feature) or revokes it; revocations become one
revoke-role request per user through the usual flow (preview, approval, deployment).

Records live behind the port `CampaignStore`: the workspace's `campaigns.db` (SqliteCampaignStore), or,
whenever `audit_log = "snowflake"` (always in Streamlit in Snowflake, whose disk does not survive a
restart), Snowflake tables SNOWTOWER_CAMPAIGNS and SNOWTOWER_CAMPAIGN_ITEMS beside the audit table, which an
administrator creates (deploy/setup.sql step 4; SnowflakeCampaignStore). Every write is an operation here, run through
app.operations.shared.audited.run_audited (one audit record each, refusals included), with its guards on the server:
- start, close: admins only;
- decide: the campaign is open, the actor is the item's reviewer (the role's owner from the `role_owners`
  setting, else any approver), never the grant's holder; a decision already turned into a request is final;
- open requests: admins or the reviewers of the items; one revoke request per user, grouped.

`report(services, id)` is the auditor's evidence: scope, reviewers, every decision with its evidence and time,
the resulting requests and their state. `report_csv` gives it as spreadsheet-safe CSV.
"""
from __future__ import annotations

import builtins  # the stores have a method named list: their annotations name the type as builtins.list
import csv
import datetime as dt
import io
import json
import re
import sqlite3
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import cast

from core.changes.base import ChangeError
from core.changes.model import Actor, Status
from core.plaintext import csv_cell

KEEP, KEEP_UNTIL, REVOKE = "keep", "keep until", "revoke"
DECISIONS = (KEEP, KEEP_UNTIL, REVOKE)
APPROVERS = ""  # an item's reviewer when its role has no owner: any approver
MAX_REASON = 1000
MAX_ITEMS = 100_000  # 5,000 users x 3 roles and room to spare; a bigger scope is refused before any write

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    deadline TEXT NOT NULL,
    days INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    config_sha TEXT NOT NULL DEFAULT '',
    closed_at TEXT
);
CREATE TABLE IF NOT EXISTS campaign_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    verdict TEXT NOT NULL,
    evidence_json TEXT NOT NULL,
    decision TEXT,
    reason TEXT NOT NULL DEFAULT '',
    until TEXT,
    decided_by TEXT,
    decided_at TEXT,
    request_id INTEGER,
    UNIQUE (campaign_id, user_name, role)
);
CREATE INDEX IF NOT EXISTS campaign_items_campaign ON campaign_items(campaign_id);
"""


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    scope: str
    deadline: dt.date
    days: int
    created_by: str
    created_at: str
    config_sha: str = ""
    closed_at: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Item:
    id: int
    campaign_id: int
    user: str
    role: str
    reviewer: str  # a portal username, or "" (APPROVERS): any approver
    verdict: str
    evidence: dict = field(repr=False)
    decision: str | None = None
    reason: str = ""
    until: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    request_id: int | None = None

    @property
    def reviewer_label(self) -> str:
        return self.reviewer or "approvers"


class CampaignStore(ABC):
    """Where campaigns and their items are kept. Times are ISO 8601 text (UTC); `items` of create are
    (user, role, reviewer, verdict, evidence dict) tuples, one per (user, role)."""

    @staticmethod
    def _campaign(row) -> Campaign:
        return Campaign(row["id"], row["name"], row["scope"], dt.date.fromisoformat(row["deadline"]), row["days"],
                        row["created_by"], row["created_at"], row["config_sha"], row["closed_at"])

    @staticmethod
    def _item(row) -> Item:
        return Item(row["id"], row["campaign_id"], row["user_name"], row["role"], row["reviewer"], row["verdict"],
                    json.loads(row["evidence_json"]), row["decision"], row["reason"], row["until"], row["decided_by"],
                    row["decided_at"], row["request_id"])

    @abstractmethod
    def create(self, name, scope, deadline: dt.date, days, created_by, created_at, config_sha, items) -> int:
        """A new campaign with its items, in one transaction; returns its id."""

    @abstractmethod
    def get(self, cid: int) -> Campaign | None: ...

    @abstractmethod
    def list(self) -> list[Campaign]:
        """Every campaign, newest first."""

    @abstractmethod
    def items(self, cid: int) -> builtins.list[Item]:
        """The campaign's items by user, then role."""

    @abstractmethod
    def item(self, item_id: int) -> Item | None: ...

    @abstractmethod
    def decide(self, item_id: int, decision: str, reason: str, until: str | None, by: str, at: str) -> bool:
        """Record a decision unless the item already has a request (then False: nothing changed)."""

    @abstractmethod
    def set_request(self, item_ids: builtins.list[int], request_id: int) -> None:
        """Link items without a request to `request_id` (an item keeps its first request)."""

    @abstractmethod
    def close(self, cid: int, at: str) -> None:
        """Close an open campaign at `at` (a closed one keeps its time)."""


class SqliteCampaignStore(CampaignStore):
    """The campaign records (one SQLite file; each call its own connection, as Streamlit serves sessions
    from several threads)."""

    def __init__(self, path):
        self.path = path
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    def create(self, name, scope, deadline: dt.date, days, created_by, created_at, config_sha, items) -> int:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                cid = db.execute("INSERT INTO campaigns (name, scope, deadline, days, created_by, created_at, config_sha) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (name, scope, deadline.isoformat(), days, created_by, created_at, config_sha)).lastrowid
                db.executemany("INSERT INTO campaign_items (campaign_id, user_name, role, reviewer, verdict, evidence_json) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               [(cid, u, r, rev, verdict, json.dumps(ev, sort_keys=True)) for u, r, rev, verdict, ev in items])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return cid

    def get(self, cid: int) -> Campaign | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM campaigns WHERE id = ?", (cid,)).fetchone()
        return self._campaign(row) if row else None

    def list(self) -> list[Campaign]:
        with self._db() as db:
            return [self._campaign(r) for r in db.execute("SELECT * FROM campaigns ORDER BY id DESC")]

    def items(self, cid: int) -> builtins.list[Item]:
        with self._db() as db:
            return [self._item(r) for r in db.execute(
                "SELECT * FROM campaign_items WHERE campaign_id = ? ORDER BY user_name, role", (cid,))]

    def item(self, item_id: int) -> Item | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM campaign_items WHERE id = ?", (item_id,)).fetchone()
        return self._item(row) if row else None

    def decide(self, item_id: int, decision: str, reason: str, until: str | None, by: str, at: str) -> bool:
        """Record a decision unless the item already has a request (then False: nothing changed)."""
        with self._db() as db:
            cur = db.execute("UPDATE campaign_items SET decision = ?, reason = ?, until = ?, decided_by = ?, decided_at = ? "
                             "WHERE id = ? AND request_id IS NULL", (decision, reason, until, by, at, item_id))
            return cur.rowcount == 1

    def set_request(self, item_ids: builtins.list[int], request_id: int) -> None:
        with self._db() as db:
            db.executemany("UPDATE campaign_items SET request_id = ? WHERE id = ? AND request_id IS NULL",
                           [(request_id, i) for i in item_ids])

    def close(self, cid: int, at: str) -> None:
        with self._db() as db:
            db.execute("UPDATE campaigns SET closed_at = ? WHERE id = ? AND closed_at IS NULL", (at, cid))


_CAMPAIGN_COLS = ("id", "name", "scope", "deadline", "days", "created_by", "created_at", "config_sha", "closed_at")
_ITEM_COLS = ("id", "campaign_id", "user_name", "role", "reviewer", "verdict", "evidence_json", "decision", "reason", "until",
              "decided_by", "decided_at", "request_id")
_ROWS_PER_INSERT = 500  # items per INSERT (7 binds each)


class SnowflakeCampaignStore(CampaignStore):
    """The campaign records in Snowflake tables `campaigns_table` (SNOWTOWER_CAMPAIGNS) and `items_table`
    (SNOWTOWER_CAMPAIGN_ITEMS), created by an administrator (deploy/setup.sql step 4). Snowflake has no
    enforced PRIMARY KEY or UNIQUE ("Overview of constraints") and the app may create no sequence (no DDL),
    so ids are the next MAX(id) + 1 and every write runs under the lock row "campaigns" of `lock_table`
    (app.snowflake_tables.SnowflakeTables.locked: one transaction, writers queue on the row's lock), which
    also makes a decision and its item's request final exactly as SQLite's conditional UPDATE does. Raises
    app.snowflake_tables.TableError naming the missing grant or table."""

    def __init__(self, connect, campaigns_table: str, items_table: str, lock_table: str, owns_connection: bool = True):
        from app.snowflake_tables import _IDENTIFIER, SnowflakeTables

        for table in (campaigns_table, items_table):
            if not _IDENTIFIER.fullmatch(table or ""):
                raise ValueError(f"table {table!r} is not a Snowflake identifier (NAME, SCHEMA.NAME or DB.SCHEMA.NAME)")
        self.campaigns_table, self.items_table = campaigns_table, items_table
        self.tables = SnowflakeTables(connect, lock_table, "the campaign records", owns_connection)

    def _run(self, sql, params=None, *, table, privilege="SELECT", fetch=False):
        return self.tables.run(sql, params, table=table, privilege=privilege, fetch=fetch)

    def _rows(self, cols, table, where="", params=None, order=""):
        rows = self._run(f"SELECT {', '.join(cols)} FROM {table}{where}{order}", params, table=table, fetch=True)
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def create(self, name, scope, deadline: dt.date, days, created_by, created_at, config_sha, items) -> int:
        items = list(items)
        pairs = [(u, r) for u, r, *_ in items]
        if len(set(pairs)) != len(pairs):  # SQLite's UNIQUE (campaign_id, user_name, role), here by hand
            raise ValueError("a campaign lists each (user, role) once")
        c, t = self.campaigns_table, self.items_table

        def body() -> int:
            cid = int(self._run(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {c}", table=c, fetch=True)[0][0])
            first = int(self._run(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {t}", table=t, fetch=True)[0][0])
            self._run(f"INSERT INTO {c} (id, name, scope, deadline, days, created_by, created_at, config_sha) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [cid, name, scope, deadline.isoformat(), int(days), created_by, created_at, config_sha or ""],
                      table=c, privilege="INSERT")
            rows = [(first + n, cid, u, r, rev, verdict, json.dumps(ev, sort_keys=True), "")
                    for n, (u, r, rev, verdict, ev) in enumerate(items)]
            for k in range(0, len(rows), _ROWS_PER_INSERT):
                part = rows[k:k + _ROWS_PER_INSERT]
                self._run(f"INSERT INTO {t} (id, campaign_id, user_name, role, reviewer, verdict, evidence_json, reason) VALUES "
                          + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(part)), [v for row in part for v in row],
                          table=t, privilege="INSERT")
            return cid

        return self.tables.locked("campaigns", body)

    def get(self, cid: int) -> Campaign | None:
        rows = self._rows(_CAMPAIGN_COLS, self.campaigns_table, " WHERE id = ?", [int(cid)])
        return self._campaign(rows[0]) if rows else None

    def list(self) -> list[Campaign]:
        return [self._campaign(r) for r in self._rows(_CAMPAIGN_COLS, self.campaigns_table, order=" ORDER BY id DESC")]

    def items(self, cid: int) -> builtins.list[Item]:
        return [self._item(r) for r in self._rows(_ITEM_COLS, self.items_table, " WHERE campaign_id = ?", [int(cid)],
                                                  " ORDER BY user_name, role")]

    def item(self, item_id: int) -> Item | None:
        rows = self._rows(_ITEM_COLS, self.items_table, " WHERE id = ?", [int(item_id)])
        return self._item(rows[0]) if rows else None

    def decide(self, item_id: int, decision: str, reason: str, until: str | None, by: str, at: str) -> bool:
        t = self.items_table
        return self.tables.locked("campaigns", lambda: self._run(
            f"UPDATE {t} SET decision = ?, reason = ?, until = ?, decided_by = ?, decided_at = ? "
            "WHERE id = ? AND request_id IS NULL", [decision, reason, until, by, at, int(item_id)],
            table=t, privilege="UPDATE")) == 1

    def set_request(self, item_ids: builtins.list[int], request_id: int) -> None:
        ids = [int(i) for i in item_ids]
        if not ids:
            return
        t = self.items_table
        self.tables.locked("campaigns", lambda: self._run(
            f"UPDATE {t} SET request_id = ? WHERE request_id IS NULL AND id IN ({', '.join('?' * len(ids))})",
            [int(request_id), *ids], table=t, privilege="UPDATE"))

    def check_writable(self) -> None:
        """Whether the role may read, add and update rows of both tables, writing nothing (an INSERT of a
        query selecting no row and an UPDATE matching none: compiled, so privileges are checked). Raises
        TableError naming the missing grant."""
        for table, cols in ((self.campaigns_table, _CAMPAIGN_COLS), (self.items_table, _ITEM_COLS)):
            self._run(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {table} WHERE 1 = 0",
                      table=table, privilege="INSERT")
            self._run(f"UPDATE {table} SET id = id WHERE 1 = 0", table=table, privilege="UPDATE")

    def close(self, cid: int, at: str) -> None:
        c = self.campaigns_table
        self.tables.locked("campaigns", lambda: self._run(
            f"UPDATE {c} SET closed_at = ? WHERE id = ? AND closed_at IS NULL", [at, int(cid)], table=c, privilege="UPDATE"))


def store_for(services) -> CampaignStore:
    """The campaign records of `services`: Snowflake tables when `audit_log = "snowflake"` (always in
    Streamlit in Snowflake; one store per Services, its session kept), else the workspace's campaigns.db.
    They follow the audit log's setting for the reason app.findings_state gives: the CLI
    (`snowtower access-review`) and the portal must see the same campaigns wherever each runs."""
    settings = services.settings
    if settings.audit_log == "snowflake":
        store = getattr(services, "_campaign_store", None)
        if store is None:
            from app.snowflake_tables import CAMPAIGN_ITEMS_TABLE, CAMPAIGNS_TABLE, LOCK_TABLE, sibling

            table = settings.audit_table
            if "." not in table and settings.snowflake_schema:
                table = f"{settings.snowflake_schema}.{table}"
            source = getattr(services, "snowflake", None)

            def connect():
                if source is not None:
                    return source.connect()
                from core.snowflake.connect import connector_source

                return connector_source().connect()

            store = SnowflakeCampaignStore(connect, sibling(table, CAMPAIGNS_TABLE), sibling(table, CAMPAIGN_ITEMS_TABLE),
                                           sibling(table, LOCK_TABLE), owns_connection=source is None)
            services._campaign_store = store
        return store
    return SqliteCampaignStore(services.workspace.root / "campaigns.db")


# -- operations ----------------------------------------------------------------------------------------

def _now(services) -> str:
    return services.clock().astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _clean_text(value, what: str, limit: int = MAX_REASON) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise ChangeError(f"{what} is too long ({len(text)} characters, at most {limit}); nothing was recorded.")
    return text


def reviewer_for(services, role: str) -> str:
    """The role's owner (role_owners setting), else APPROVERS."""
    return services.settings.role_owners.get(role.upper(), APPROVERS)


def may_review(actor: Actor, item: Item) -> bool:
    """Whether `actor` reviews `item`: its assigned reviewer (any approver when the role has no owner), never
    the holder of the grant (portal usernames and Snowflake user names compared without case)."""
    if actor.username.upper() == item.user.upper():
        return False
    if item.reviewer:
        return actor.username.lower() == item.reviewer.lower()
    return actor.can("approver")


def start(services, actor: Actor, scope: str, deadline: dt.date, name: str = "", days: int | None = None) -> Campaign:
    """Start a campaign over `scope` (app.usage.in_scope) ending on `deadline`. Admins only."""
    from app import usage as app_usage
    from app.operations.shared.audited import run_audited

    def run(actor_now: Actor) -> Campaign:
        if not actor_now.can("admin"):
            raise ChangeError("only admins start access reviews; nothing was started.")
        if not isinstance(deadline, dt.date) or deadline < services.clock().date():
            raise ChangeError("the deadline must be today or later; nothing was started.")
        label = _clean_text(name, "the name", 200) or f"Access review {services.clock().date().isoformat()}"
        try:
            evidence = app_usage.grant_evidence(services, scope, days)
        except ValueError as exc:
            raise ChangeError(f"{exc}; nothing was started.") from None
        if not evidence:
            raise ChangeError(f"no grant is in scope {scope}; nothing was started.")
        if len(evidence) > MAX_ITEMS:
            raise ChangeError(f"{len(evidence):,} grants are in scope, at most {MAX_ITEMS:,}; narrow the scope.")
        items = [(e.user, e.role, reviewer_for(services, e.role), e.verdict, e.to_dict()) for e in evidence]
        store = store_for(services)
        cid = store.create(label, scope, deadline, evidence[0].days, actor_now.username, _now(services),
                           services.changes.base_head(), items)
        return cast(Campaign, store.get(cid))  # made just above

    return run_audited(services, actor, "access_review_start", None, run, note=f"scope {scope}, deadline {deadline}")


def decide(services, actor: Actor, item_id: int, decision: str, reason: str, until: dt.date | None = None) -> Item:
    """Record `decision` (KEEP with a reason, KEEP_UNTIL a future date, REVOKE) on item `item_id`."""
    from app.operations.shared.audited import run_audited

    def run(actor_now: Actor) -> Item:
        store = store_for(services)
        item = store.item(item_id)
        if item is None:
            raise ChangeError(f"there is no review item {item_id}; nothing was recorded.")
        campaign = store.get(item.campaign_id)
        if campaign is None or not campaign.open:
            raise ChangeError("this access review is closed; nothing was recorded.")
        if actor_now.username.upper() == item.user.upper():
            raise ChangeError("nobody reviews their own access; nothing was recorded.")
        if not may_review(actor_now, item):
            raise ChangeError(f"{item.user}'s {item.role} is reviewed by {item.reviewer_label}; nothing was recorded.")
        if decision not in DECISIONS:
            raise ChangeError(f"the decision must be one of {', '.join(DECISIONS)}; nothing was recorded.")
        why = _clean_text(reason, "the reason")
        if decision == KEEP and not why:
            raise ChangeError("keeping access needs a reason; nothing was recorded.")
        day = None
        if decision == KEEP_UNTIL:
            if not isinstance(until, dt.date) or until <= services.clock().date():
                raise ChangeError("keeping until a date needs a date after today; nothing was recorded.")
            day = until.isoformat()
        if not store.decide(item_id, decision, why, day, actor_now.username, _now(services)):
            raise ChangeError(f"this item already became request #{item.request_id}; its decision is final.")
        return cast(Item, store.item(item_id))  # read above: items are never deleted

    note = f"{decision}" + (f" until {until}" if decision == KEEP_UNTIL and until else "")
    return run_audited(services, actor, "access_review_decide", None, run, note=f"item {item_id}: {note}")


def open_requests(services, actor: Actor, campaign_id: int) -> list:
    """Turn the campaign's decided items into change requests through the usual submit flow: one revoke-role
    request per user for the items revoked, one grant-role request with `until` per (user, date) for items
    kept until a date. Returns the ChangeRequests opened. Admins, or reviewers of the items they decided."""
    from app.operations.shared.audited import run_audited
    from app.operations.submit import SubmitRequest
    from recipes import RECIPES

    def run(actor_now: Actor) -> list:
        store = store_for(services)
        campaign = store.get(campaign_id)
        if campaign is None:
            raise ChangeError(f"there is no access review {campaign_id}.")
        pending = [i for i in store.items(campaign_id) if i.decision in (REVOKE, KEEP_UNTIL) and i.request_id is None]
        if not actor_now.can("admin"):
            pending = [i for i in pending if i.decided_by == actor_now.username]
        groups: dict[tuple, list[Item]] = {}
        for i in pending:
            groups.setdefault((i.user, i.decision, i.until), []).append(i)
        opened = []
        for (user, decision, until), items in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
            roles = sorted(i.role for i in items)
            reasons = "; ".join(f"{i.role}: {i.reason or i.verdict}" for i in items)
            why = f"Access review #{campaign_id} ({campaign.name}): {reasons}"[:MAX_REASON]
            if decision == REVOKE:
                recipe, raw = RECIPES["revoke-role"], {"name": user, "business_roles": roles, "justification": why}
            else:
                recipe, raw = RECIPES["grant-role"], {"name": user, "business_roles": roles, "until": until,
                                                          "justification": why}
            cr = SubmitRequest(services, actor_now, recipe, raw, services.changes.base_head()).execute()
            store.set_request([i.id for i in items], cr.id)
            opened.append(cr)
        return opened

    return run_audited(services, actor, "access_review_requests", None, run, note=f"campaign {campaign_id}")


def close(services, actor: Actor, campaign_id: int) -> Campaign:
    from app.operations.shared.audited import run_audited

    def run(actor_now: Actor) -> Campaign:
        if not actor_now.can("admin"):
            raise ChangeError("only admins close access reviews.")
        store = store_for(services)
        if store.get(campaign_id) is None:
            raise ChangeError(f"there is no access review {campaign_id}.")
        store.close(campaign_id, _now(services))
        return cast(Campaign, store.get(campaign_id))  # read above: campaigns are never deleted

    return run_audited(services, actor, "access_review_close", None, run, note=f"campaign {campaign_id}")


# -- progress and report -------------------------------------------------------------------------------

def progress(campaign: Campaign, items: list[Item], today: dt.date) -> dict:
    """{"items", "decided", "open", "overdue" (undecided past the deadline), "by_decision", "by_verdict"}."""
    decided = [i for i in items if i.decision]
    undecided = len(items) - len(decided)
    by_decision: dict[str, int] = {}
    for i in decided:
        decision = i.decision or ""  # decided: never empty
        by_decision[decision] = by_decision.get(decision, 0) + 1
    by_verdict: dict[str, int] = {}
    for i in items:
        by_verdict[i.verdict] = by_verdict.get(i.verdict, 0) + 1
    return {"items": len(items), "decided": len(decided), "open": undecided,
            "overdue": undecided if today > campaign.deadline else 0, "by_decision": by_decision, "by_verdict": by_verdict}


def _request_state(services, request_id: int | None) -> dict | None:
    if request_id is None:
        return None
    try:
        cr = services.changes.get(request_id)
    except Exception:  # a request that cannot be read now: said, not raised
        return {"id": request_id, "status": "unknown"}
    if cr is None:
        return {"id": request_id, "status": "unknown"}
    return {"id": cr.id, "title": cr.title, "status": cr.status.value, "deployed": cr.status == Status.DEPLOYED,
            "merged_sha": cr.merged_sha, "url": cr.url}


def report(services, campaign_id: int) -> dict:
    """The auditor's evidence for campaign `campaign_id`; ChangeError if there is none."""
    store = store_for(services)
    campaign = store.get(campaign_id)
    if campaign is None:
        raise ChangeError(f"there is no access review {campaign_id}.")
    items = store.items(campaign_id)
    states: dict[int | None, dict | None] = {rid: _request_state(services, rid) for rid in {i.request_id for i in items if i.request_id}}
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "scope": campaign.scope,
                     "deadline": campaign.deadline.isoformat(), "unused_days": campaign.days,
                     "started_by": campaign.created_by, "started_at": campaign.created_at,
                     "config_commit": campaign.config_sha, "closed_at": campaign.closed_at},
        "progress": progress(campaign, items, services.clock().date()),
        "reviewers": sorted({i.reviewer_label for i in items}),
        "items": [{"user": i.user, "role": i.role, "reviewer": i.reviewer_label, "verdict": i.verdict,
                   "evidence": i.evidence, "decision": i.decision, "reason": i.reason, "until": i.until,
                   "decided_by": i.decided_by, "decided_at": i.decided_at,
                   "request": states.get(i.request_id)} for i in items],
    }


CSV_COLUMNS = ("campaign", "scope", "deadline", "user", "role", "reviewer", "verdict", "evidence", "last_use",
               "decision", "reason", "until", "decided_by", "decided_at", "request", "request_status")


def report_csv(data: dict) -> str:
    """One row per item; every cell through core.plaintext.csv_cell (no formula a spreadsheet would run)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    c = data["campaign"]
    for i in data["items"]:
        ev = i["evidence"] or {}
        req = i["request"] or {}
        row = (c["id"], c["scope"], c["deadline"], i["user"], i["role"], i["reviewer"], i["verdict"],
               ev.get("reason", ""), ev.get("last_use") or "", i["decision"] or "", i["reason"], i["until"] or "",
               i["decided_by"] or "", i["decided_at"] or "", f"#{req['id']}" if req else "", req.get("status", ""))
        w.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def report_lines(data: dict) -> list[str]:
    """The report as plain text lines (the CLI's text output and the page's printable report)."""
    c, p = data["campaign"], data["progress"]
    lines = [f"Access review #{c['id']} {c['name']}: scope {c['scope']}, deadline {c['deadline']}, "
             f"unused after {c['unused_days']} days",
             f"started by {c['started_by']} at {c['started_at']} on config commit {c['config_commit'][:12]}"
             + (f"; closed at {c['closed_at']}" if c["closed_at"] else ""),
             f"reviewers: {', '.join(data['reviewers'])}",
             f"{p['decided']}/{p['items']} decided, {p['overdue']} overdue; verdicts: "
             + ", ".join(f"{k} {v}" for k, v in sorted(p["by_verdict"].items()))]
    for i in data["items"]:
        req = i["request"]
        lines.append(f"  {i['user']:<20} {i['role']:<22} {i['verdict']:<12} {i['evidence'].get('reason', '')}"
                     + (f"  -> {i['decision']}" + (f" until {i['until']}" if i["until"] else "")
                        + f" by {i['decided_by']} at {i['decided_at']}" + (f": {i['reason']}" if i["reason"] else "")
                        if i["decision"] else "")
                     + (f" (request #{req['id']} {req['status']})" if req else ""))
    return lines


def parse_deadline(text: str) -> dt.date:
    """YYYY-MM-DD -> date; ValueError with a plain message otherwise."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(text or "").strip()):
        raise ValueError("the deadline must be a date, YYYY-MM-DD")
    return dt.date.fromisoformat(str(text).strip())
