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

        (tmp_path / "fakesnow").mkdir(parents=True, exist_ok=True)
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


# -- access review campaigns (app.campaigns) -----------------------------------------------------------

def campaign_store(kind, tmp_path):
    from app.campaigns import SnowflakeCampaignStore, SqliteCampaignStore
    from app.snowflake_tables import CAMPAIGN_ITEMS_TABLE, CAMPAIGNS_TABLE

    if kind == "sqlite":
        return SqliteCampaignStore(tmp_path / "campaigns.db")
    stand_in = StandIn(tmp_path)
    q = f"{DB}.{SCHEMA}."
    return SnowflakeCampaignStore(stand_in.connect, q + CAMPAIGNS_TABLE, q + CAMPAIGN_ITEMS_TABLE, q + LOCK_TABLE)


ITEMS = [("ZOE", "ANALYST", "", "unused", {"last_use": None, "objects": ["DB.S.T"]}),
         ("AMY", "ANALYST", "owner1", "used", {"last_use": "2026-02-01"}),
         ("AMY", "LOADER", "", "cannot tell", {})]


@pytest.mark.parametrize("kind", ["sqlite", "snowflake"])
def test_campaign_records_behave_alike_on_both_stores(tmp_path, kind):
    store = campaign_store(kind, tmp_path)
    cid = store.create("Q1", "all", dt.date(2026, 3, 31), 90, "ada", "2026-03-01T09:00:00+00:00", "abc", ITEMS)
    other = store.create("Q2", "role:ANALYST", dt.date(2026, 6, 30), 30, "ada", "2026-04-01T09:00:00+00:00", "", ITEMS[:1])
    assert other != cid and [c.id for c in store.list()] == [other, cid]
    campaign = store.get(cid)
    assert (campaign.name, campaign.deadline, campaign.days, campaign.config_sha, campaign.open) == ("Q1", dt.date(2026, 3, 31), 90, "abc", True)
    items = store.items(cid)
    assert [(i.user, i.role, i.reviewer, i.verdict) for i in items] == [
        ("AMY", "ANALYST", "owner1", "used"), ("AMY", "LOADER", "", "cannot tell"), ("ZOE", "ANALYST", "", "unused")]
    assert items[2].evidence == {"last_use": None, "objects": ["DB.S.T"]} and store.item(items[2].id) == items[2]
    assert store.decide(items[2].id, "revoke", "not used", None, "owner1", "2026-03-02T00:00:00+00:00") is True
    store.set_request([items[2].id], 7)
    assert store.item(items[2].id).request_id == 7
    # a decision turned into a request is final; a second request does not replace the first
    assert store.decide(items[2].id, "keep", "changed my mind", None, "owner1", "2026-03-03T00:00:00+00:00") is False
    store.set_request([items[2].id], 8)
    done = store.item(items[2].id)
    assert (done.decision, done.reason, done.request_id) == ("revoke", "not used", 7)
    store.close(cid, "2026-04-01T00:00:00+00:00")
    store.close(cid, "2026-05-01T00:00:00+00:00")
    assert store.get(cid).closed_at == "2026-04-01T00:00:00+00:00" and store.get(999) is None and store.item(999) is None


def test_two_admins_starting_campaigns_at_once_get_distinct_ids_and_items(tmp_path):
    """Ids come from MAX(id) + 1 under the lock row: two sessions creating at the same moment never share
    a campaign id or an item id."""
    from app.campaigns import SnowflakeCampaignStore
    from app.snowflake_tables import CAMPAIGN_ITEMS_TABLE, CAMPAIGNS_TABLE

    stand_in = StandIn(tmp_path)
    q = f"{DB}.{SCHEMA}."
    stores = [SnowflakeCampaignStore(stand_in.connect, q + CAMPAIGNS_TABLE, q + CAMPAIGN_ITEMS_TABLE, q + LOCK_TABLE)
              for _ in range(2)]
    start = threading.Barrier(2)
    made: list[list[int]] = [[], []]

    def run(n):
        start.wait()
        for i in range(4):
            made[n].append(stores[n].create(f"c{n}{i}", "all", dt.date(2026, 3, 31), 90, "ada", "t", "", ITEMS))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(made[0] + made[1]) == list(range(1, 9))
    ids = [i for (i,) in stand_in.rows(CAMPAIGN_ITEMS_TABLE, "id")]
    assert sorted(ids) == list(range(1, 25))
    assert all(len(stores[0].items(c)) == 3 for c in range(1, 9))


def test_campaigns_follow_the_audit_log_setting(tmp_path, stand_in):
    from app import campaigns

    settings = SimpleNamespace(audit_log="snowflake", audit_table="SNOWTOWER_AUDIT_LOG", snowflake_schema=f"{DB}.{SCHEMA}")
    services = SimpleNamespace(settings=settings, snowflake=SimpleNamespace(connect=stand_in.connect))
    store = campaigns.store_for(services)
    assert isinstance(store, campaigns.SnowflakeCampaignStore) and campaigns.store_for(services) is store
    assert store.campaigns_table == f"{DB}.{SCHEMA}.SNOWTOWER_CAMPAIGNS" and store.list() == []
    local = SimpleNamespace(settings=SimpleNamespace(audit_log="sqlite"), workspace=SimpleNamespace(root=tmp_path))
    assert isinstance(campaigns.store_for(local), campaigns.SqliteCampaignStore)


def test_status_checks_the_records_tables_and_names_a_missing_one(tmp_path):
    """Admin → Status with audit_log = "snowflake": one line for these tables, or the error naming the
    statement to run when one is missing."""
    from app import status

    settings = SimpleNamespace(audit_log="snowflake", audit_table="SNOWTOWER_AUDIT_LOG", snowflake_schema=f"{DB}.{SCHEMA}")
    full = StandIn(tmp_path / "full")
    [line] = status._records(SimpleNamespace(settings=settings, snowflake=SimpleNamespace(connect=full.connect)))
    assert line.ok and line.name == "SnowTower records"
    partial = StandIn(tmp_path / "partial", tables=(LOCK_TABLE, FINDING_STATE_TABLE, ALERT_SENT_TABLE))
    from app.snowflake_tables import TableError

    with pytest.raises(TableError, match="CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_CAMPAIGNS"):
        status._records(SimpleNamespace(settings=settings, snowflake=SimpleNamespace(connect=partial.connect)))
    assert status._records(SimpleNamespace(settings=SimpleNamespace(audit_log="sqlite"))) == []
