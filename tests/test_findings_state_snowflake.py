"""Finding states and the alerts' once-only ledger in Snowflake tables (the stand-in: fakesnow on DuckDB),
as Streamlit in Snowflake and `audit_log = "snowflake"` keep them: the same behaviour as the workspace's
SQLite records, a claim won by exactly one of two sessions racing for it, and errors naming the grant."""
from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace

import pytest

from app.findings_state import FindingStates, SnowflakeFindingStates, StateError, snowflake_states_for, states_for
from app.snowflake_tables import ALERT_SENT_TABLE, FINDING_STATE_TABLE, LOCK_TABLE, TABLES, table_ddl

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
DB, SCHEMA = "SNOWTOWER", "APP"


def finding(key, severity="high"):
    return SimpleNamespace(key=key, severity=severity)


class StandIn:
    """A Snowflake account on the stand-in with deploy/setup.sql step 4's tables; `store()` opens a new
    session per store, as separate processes do."""

    def __init__(self, tmp_path, tables=tuple(TABLES)):
        from fakesnow.instance import FakeSnow

        (tmp_path / "fakesnow").mkdir(exist_ok=True)
        self.fs = FakeSnow(db_path=tmp_path / "fakesnow")
        admin = self.fs.connect(database=DB, schema=SCHEMA, paramstyle="qmark")
        for base in tables:
            admin.cursor().execute(table_ddl(f"{DB}.{SCHEMA}.{base}", base))
        self.admin = admin

    def connect(self):
        return self.fs.connect(database=DB, schema=SCHEMA, paramstyle="qmark")

    def store(self) -> SnowflakeFindingStates:
        q = f"{DB}.{SCHEMA}."
        return SnowflakeFindingStates(self.connect, q + FINDING_STATE_TABLE, q + ALERT_SENT_TABLE, q + LOCK_TABLE)

    def rows(self, table, sql="*"):
        cur = self.admin.cursor()
        cur.execute(f"SELECT {sql} FROM {DB}.{SCHEMA}.{table}")
        return cur.fetchall()


@pytest.fixture
def stand_in(tmp_path):
    return StandIn(tmp_path)


@pytest.mark.parametrize("kind", ["sqlite", "snowflake"])
def test_states_open_resolve_reopen_and_accept_alike_on_both_stores(tmp_path, kind):
    store = FindingStates(tmp_path / "snowtower.db") if kind == "sqlite" else StandIn(tmp_path).store()
    day = dt.timedelta(days=1)
    first = store.observe([finding("a"), finding("b", "critical")], NOW)
    assert {k: s.state for k, s in first.items()} == {"a": "open", "b": "open"}
    second = store.observe([finding("a")], NOW + day)  # b is gone: resolved
    assert second["a"].first_seen == NOW and second["a"].last_seen == NOW + day
    assert [(k, f, r) for k, f, r in store.resolved()] == [("b", NOW, NOW + day)]
    store.accept("a", "ada", "compensating control", (NOW + 10 * day).date(), NOW + day)
    third = store.observe([finding("a"), finding("b", "critical")], NOW + 2 * day)  # b back: first seen anew
    assert third["a"].state == "accepted" and third["a"].accepted_by == "ada" and third["a"].first_seen == NOW
    assert third["b"].state == "open" and third["b"].first_seen == NOW + 2 * day and store.resolved() == []
    assert store.observe([finding("a")], NOW + 11 * day)["a"].state == "open"  # the acceptance expired
    with pytest.raises(StateError, match="no finding zz has been seen"):
        store.accept("zz", "ada", "x", (NOW + day).date(), NOW)


def test_states_survive_a_new_session_as_a_restarted_app_sees_them(stand_in):
    stand_in.store().observe([finding("a")], NOW)
    stand_in.store().accept("a", "ada", "risk accepted", (NOW + dt.timedelta(days=5)).date(), NOW)
    again = stand_in.store().observe([finding("a")], NOW + dt.timedelta(hours=1))
    assert again["a"].state == "accepted" and again["a"].first_seen == NOW
    assert len(stand_in.rows(FINDING_STATE_TABLE)) == 1


@pytest.mark.parametrize("kind", ["sqlite", "snowflake"])
def test_the_ledger_claims_once_takes_over_a_dead_run_and_releases(tmp_path, kind):
    store = FindingStates(tmp_path / "snowtower.db") if kind == "sqlite" else StandIn(tmp_path).store()
    lease = dt.timedelta(minutes=30)
    assert not store.was_sent("e1")
    assert store.claim("e1", "cost", NOW) is True
    assert store.claim("e1", "cost", NOW) is False and store.was_sent("e1")
    # a run that died after claiming: a later run takes over once the lease is past, only one of two
    later = NOW + 2 * lease
    assert not store.was_sent("e1", later - lease)
    assert store.claim("e1", "cost", later, later - lease) is True
    assert store.claim("e1", "cost", later, later - lease) is False
    store.sent("e1", ["slack", "email"], later)
    assert store.was_sent("e1", later + 10 * lease) and store.claim("e1", "cost", later + 10 * lease, later + 9 * lease) is False
    assert store.claim("e2", "findings", NOW) is True
    store.release("e2")  # no channel took it: the next run tries again
    assert not store.was_sent("e2") and store.claim("e2", "findings", NOW) is True


def test_two_sessions_claiming_one_event_at_once_give_exactly_one_winner(stand_in):
    """Two runs of `snowtower alerts` (here two threads, each with its own session) claim the same events at
    the same moment: each event is won once, never twice, and the ledger holds one row per event."""
    keys = [f"event-{i}" for i in range(8)]
    stores = [stand_in.store(), stand_in.store()]
    start = threading.Barrier(2)
    won: list[list[str]] = [[], []]

    def run(n):
        start.wait()
        for key in keys:
            if stores[n].claim(key, "cost", NOW):
                won[n].append(key)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won[0] + won[1]) == keys  # every event claimed once: no double, no loss
    assert sorted(k for (k,) in stand_in.rows(ALERT_SENT_TABLE, "key")) == keys


def test_a_missing_table_names_the_setup_step_and_a_missing_grant_names_the_grant(tmp_path):
    bare = StandIn(tmp_path, tables=(LOCK_TABLE,))
    with pytest.raises(StateError, match=r"deploy/setup.sql step 4 \(CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_FINDING_STATE"):
        bare.store().observe([finding("a")], NOW)
    with pytest.raises(StateError, match="SNOWTOWER_ALERT_SENT"):
        bare.store().claim("e", "cost", NOW)


def test_states_for_follows_the_audit_log_setting(tmp_path, stand_in):
    settings = SimpleNamespace(audit_log="snowflake", audit_table="SNOWTOWER_AUDIT_LOG", snowflake_schema=f"{DB}.{SCHEMA}",
                               in_sis=True)
    services = SimpleNamespace(settings=settings, snowflake=SimpleNamespace(connect=stand_in.connect))
    store = states_for(services)
    assert isinstance(store, SnowflakeFindingStates) and store.persistent and states_for(services) is store
    assert store.states_table == f"{DB}.{SCHEMA}.{FINDING_STATE_TABLE}"
    store.observe([finding("a")], NOW)
    assert stand_in.rows(FINDING_STATE_TABLE, "key") == [("a",)]
    local = SimpleNamespace(settings=SimpleNamespace(audit_log="sqlite", in_sis=False),
                            workspace=SimpleNamespace(db_path=tmp_path / "w.db"))
    assert isinstance(states_for(local), FindingStates) and states_for(local).persistent
    qualified = SimpleNamespace(audit_log="snowflake", audit_table="DB1.S1.AUDIT", snowflake_schema="")
    assert snowflake_states_for(qualified).alerts_table == f"DB1.S1.{ALERT_SENT_TABLE}"
