"""deploy/setup.sql against every statement SnowTower's role runs in Streamlit in Snowflake, with the
privilege rules of Snowflake's documentation (tests/snowflake_privileges.py names the pages): the query
layer's SQL files, the audit log's statements, what `snow streamlit deploy` needs, and what a viewer
needs to open the app. tests/test_sis.py runs the app itself on a session holding only these grants."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from tests.snowflake_privileges import Grants, Need, RoleSession, UnknownStatement, required

ROOT = Path(__file__).resolve().parents[1]
SETUP = (ROOT / "deploy" / "setup.sql").read_text()
APP = yaml.safe_load((ROOT / "snowflake.yml").read_text())["entities"]["snowtower"]
DB, SCHEMA, WAREHOUSE = APP["identifier"]["database"], APP["identifier"]["schema"], APP["query_warehouse"]
ROLE = "SNOWTOWER_APP"
TABLE = "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG"


def needs(sql: str) -> set[Need]:
    return required(sql, DB, SCHEMA, WAREHOUSE)


def audit_statements() -> list[str]:
    """Every statement SnowflakeAuditLog runs, as it runs them (recorded from a log over a stand-in)."""
    from app.audit_record import AuditQuery, AuditRecord
    from app.audit_snowflake import SnowflakeAuditLog

    ran = []

    class Recorder:
        def cursor(self):
            return self

        def execute(self, sql, params=None):
            ran.append(sql)
            self.rows = []
            self.rowcount = 1  # the lock row is there
            if sql.startswith("INSERT") and params:  # the conditional append reads its record back by seq
                from app.audit_record import COLUMNS

                self.appended = params[COLUMNS.index("hash")]
            elif sql.startswith("SELECT hash FROM"):
                self.rows = [(self.appended,)]

        def fetchall(self):
            return self.rows

    log = SnowflakeAuditLog(Recorder, TABLE)
    log.append(AuditRecord(datetime(2026, 1, 1, tzinfo=timezone.utc), "ada", "admin", "merge", 1, "ok"))
    log.search(AuditQuery(actor="ada", request_id=1, action="merge", since=datetime(2026, 1, 1).date()))
    log.check_writable()
    log.records()
    log.open_intents()
    return ran


def test_every_sql_file_and_audit_statement_is_granted_to_the_app_role():
    from core.snowflake.queries import questions

    grants = Grants.from_setup(SETUP)
    statements = [q.positional({b: None for b in q.binds})[0] for q in questions()] + audit_statements()
    assert len(statements) > 10
    missing = {sql.splitlines()[0][:80]: grants.missing(ROLE, needs(sql)) for sql in statements}
    assert {k: v for k, v in missing.items() if v} == {}


def test_the_audit_log_needs_select_and_insert_on_its_table_only():
    """...and UPDATE on its row of the writers' lock table, which serialises appends (never UPDATE or
    DELETE on the audit table itself)."""
    statements = audit_statements()
    lock = "SNOWTOWER.APP.SNOWTOWER_LOCKS"
    assert {str(n) for sql in statements for n in needs(sql)} == {
        f"SELECT ON TABLE {TABLE}", f"INSERT ON TABLE {TABLE}", f"UPDATE ON TABLE {lock}", "USAGE ON DATABASE SNOWTOWER",
        "USAGE ON SCHEMA SNOWTOWER.APP", f"USAGE ON WAREHOUSE {WAREHOUSE}"}
    assert not [s for s in statements if s.split()[0].upper() in ("CREATE", "ALTER", "DROP", "GRANT")]


def test_the_table_ddl_needs_create_table_which_the_app_role_does_not_hold():
    """Why the app runs no DDL: CREATE TABLE IF NOT EXISTS needs CREATE TABLE on the schema (its access
    control requirements name no exception for an existing table), which setup.sql does not grant."""
    from app.audit_snowflake import snowflake_table_ddl

    grants = Grants.from_setup(SETUP)
    assert grants.missing(ROLE, needs(snowflake_table_ddl(TABLE))) == [Need("CREATE TABLE", "SCHEMA", "SNOWTOWER.APP")]


def test_a_setup_without_the_insert_grant_is_caught_and_the_app_names_it():
    """The check is a real one: setup.sql with SELECT only on the audit table leaves INSERT missing, and
    the audit log on such a session says which grant to run."""
    import fakesnow
    import snowflake.connector

    from app.audit import AuditError
    from app.audit_snowflake import SnowflakeAuditLog, snowflake_table_ddl

    line = f"GRANT SELECT, INSERT ON TABLE {TABLE} TO ROLE {ROLE};"
    assert line in SETUP
    weaker = Grants.from_setup(SETUP.replace(line, f"GRANT SELECT ON TABLE {TABLE} TO ROLE {ROLE};"))
    insert = next(s for s in audit_statements() if s.startswith("INSERT"))
    assert weaker.missing(ROLE, needs(insert)) == [Need("INSERT", "TABLE", TABLE)]
    with fakesnow.patch():
        admin = snowflake.connector.connect()
        for sql in (f"CREATE DATABASE {DB}", f"CREATE SCHEMA {DB}.{SCHEMA}", snowflake_table_ddl(TABLE)):
            admin.cursor().execute(sql)
        session = RoleSession(snowflake.connector.connect(paramstyle="qmark"), weaker, ROLE, DB, SCHEMA, WAREHOUSE)
        log = SnowflakeAuditLog(lambda: session, TABLE)
        assert log.search() == []  # SELECT is granted
        with pytest.raises(AuditError, match=f"GRANT INSERT ON TABLE {TABLE} TO ROLE {ROLE}"):
            log.write("ada", ["admin"], "merge")
        nothing = RoleSession(snowflake.connector.connect(paramstyle="qmark"), Grants(), ROLE, DB, SCHEMA, WAREHOUSE)
        with pytest.raises(AuditError, match=f"GRANT USAGE ON DATABASE {DB} TO ROLE {ROLE}"):
            SnowflakeAuditLog(lambda: nothing, TABLE).search()


def test_the_app_role_can_deploy_what_snowflake_yml_describes():
    """`snow streamlit deploy --role SNOWTOWER_APP`: CREATE STREAMLIT and CREATE STAGE (its files' stage)
    on the schema, USAGE on the query warehouse, the compute pool and each external access integration,
    READ on each secret."""
    privileges, _ = Grants.from_setup(SETUP).of(ROLE)
    wanted = {("CREATE STREAMLIT", "SCHEMA", f"{DB}.{SCHEMA}"), ("CREATE STAGE", "SCHEMA", f"{DB}.{SCHEMA}"),
              ("USAGE", "DATABASE", DB), ("USAGE", "SCHEMA", f"{DB}.{SCHEMA}"), ("USAGE", "WAREHOUSE", WAREHOUSE),
              ("USAGE", "COMPUTE POOL", APP["compute_pool"])}
    wanted |= {("USAGE", "INTEGRATION", i) for i in APP["external_access_integrations"]}
    wanted |= {("READ", "SECRET", s) for s in APP["secrets"].values()}
    assert wanted - privileges == set()


def test_every_viewer_role_may_open_the_app():
    """Opening the app takes USAGE on it and a privilege on its database and schema: each role of the
    shipped sis_role_mapping holds USAGE on both (approvers and admins through the requester role)."""
    mapping = tomllib_load(ROOT / "deploy" / "snowtower.toml")["snowtower"]["sis_role_mapping"]
    grants = Grants.from_setup(SETUP)
    for role in mapping:
        privileges, _ = grants.of(role)
        assert {("USAGE", "DATABASE", DB), ("USAGE", "SCHEMA", f"{DB}.{SCHEMA}")} <= privileges, role
    assert "GRANT USAGE ON STREAMLIT SNOWTOWER.APP.SNOWTOWER TO ROLE SNOWTOWER_REQUESTER" in SETUP  # after deploy


def test_a_statement_the_table_does_not_describe_is_refused():
    with pytest.raises(UnknownStatement):
        needs("TRUNCATE TABLE SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG")
    with pytest.raises(UnknownStatement):
        Grants().missing(ROLE, needs("SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.AUTOMATIC_CLUSTERING_HISTORY"))


def findings_session(setup: str):
    """A SnowflakeFindingStates over a session holding what `setup` grants SNOWTOWER_APP, on the stand-in
    with setup.sql's tables; returns (store, session) (session.log: every statement with its needs)."""
    import snowflake.connector

    from app.findings_state import SnowflakeFindingStates
    from app.snowflake_tables import ALERT_SENT_TABLE, FINDING_STATE_TABLE, LOCK_TABLE, TABLES, table_ddl

    admin = snowflake.connector.connect()
    for sql in (f"CREATE DATABASE IF NOT EXISTS {DB}", f"CREATE SCHEMA IF NOT EXISTS {DB}.{SCHEMA}",
                *(table_ddl(f"{DB}.{SCHEMA}.{base}", base) for base in TABLES)):
        admin.cursor().execute(sql)
    session = RoleSession(snowflake.connector.connect(paramstyle="qmark"), Grants.from_setup(setup), ROLE, DB, SCHEMA, WAREHOUSE)
    q = f"{DB}.{SCHEMA}."
    return SnowflakeFindingStates(lambda: session, q + FINDING_STATE_TABLE, q + ALERT_SENT_TABLE, q + LOCK_TABLE,
                                  owns_connection=False), session


def test_the_findings_records_run_on_exactly_the_grants_setup_sql_makes():
    """Finding states, accepting and the alerts' ledger run on setup.sql's grants, and need nothing more
    than SELECT, INSERT, UPDATE, DELETE on their two tables and SELECT, INSERT, UPDATE on the lock table."""
    import fakesnow
    from types import SimpleNamespace

    now = datetime(2026, 3, 2, tzinfo=timezone.utc)
    with fakesnow.patch():
        store, session = findings_session(SETUP)
        store.observe([SimpleNamespace(key="a", severity="high"), SimpleNamespace(key="b", severity="low")], now)
        store.observe([SimpleNamespace(key="a", severity="high")], now)
        store.accept("a", "ada", "ok", now.date(), now)
        store.resolved()
        assert store.claim("e", "cost", now) and not store.claim("e", "cost", now, now)
        store.sent("e", ["slack"], now)
        store.release("f")
        store.was_sent("e")
        store.check_writable()
    assert [sql for sql, _, missing in session.log if missing] == []
    kinds = {str(n) for _, wanted, _ in session.log for n in wanted}
    tables = {t: f"{DB}.{SCHEMA}.{t}" for t in ("SNOWTOWER_FINDING_STATE", "SNOWTOWER_ALERT_SENT", "SNOWTOWER_LOCKS")}
    assert kinds == {f"{p} ON TABLE {tables[t]}" for t in tables for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
                     if not (t == "SNOWTOWER_LOCKS" and p == "DELETE")} | {
        f"USAGE ON DATABASE {DB}", f"USAGE ON SCHEMA {DB}.{SCHEMA}", f"USAGE ON WAREHOUSE {WAREHOUSE}"}
    assert not [s for s, _, _ in session.log if s.split()[0].upper() in ("CREATE", "ALTER", "DROP", "GRANT")]


def test_the_campaign_records_run_on_the_grants_setup_sql_makes_without_delete():
    import fakesnow
    import snowflake.connector

    from app.campaigns import SnowflakeCampaignStore
    from app.snowflake_tables import CAMPAIGN_ITEMS_TABLE, CAMPAIGNS_TABLE, LOCK_TABLE, TABLES, table_ddl

    q = f"{DB}.{SCHEMA}."
    with fakesnow.patch():
        admin = snowflake.connector.connect()
        for sql in (f"CREATE DATABASE IF NOT EXISTS {DB}", f"CREATE SCHEMA IF NOT EXISTS {DB}.{SCHEMA}",
                    *(table_ddl(q + base, base) for base in TABLES)):
            admin.cursor().execute(sql)
        session = RoleSession(snowflake.connector.connect(paramstyle="qmark"), Grants.from_setup(SETUP), ROLE, DB, SCHEMA, WAREHOUSE)
        store = SnowflakeCampaignStore(lambda: session, q + CAMPAIGNS_TABLE, q + CAMPAIGN_ITEMS_TABLE, q + LOCK_TABLE,
                                       owns_connection=False)
        cid = store.create("Q1", "all", datetime(2026, 3, 31).date(), 90, "ada", "t", "", [("A", "R", "", "used", {})])
        [item] = store.items(cid)
        assert store.decide(item.id, "revoke", "x", None, "bob", "t")
        store.set_request([item.id], 3)
        store.close(cid, "t")
        assert store.get(cid).closed_at == "t" and store.list() and store.item(item.id).request_id == 3
    assert [sql for sql, _, missing in session.log if missing] == []
    privileges = {n.privilege for _, wanted, _ in session.log for n in wanted if n.kind == "TABLE"}
    assert privileges == {"SELECT", "INSERT", "UPDATE"}


def test_a_setup_without_delete_on_the_finding_states_is_named_by_the_app():
    import fakesnow
    from types import SimpleNamespace

    from app.findings_state import StateError

    table = f"{DB}.{SCHEMA}.SNOWTOWER_FINDING_STATE"
    line = f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO ROLE {ROLE};"
    assert line in SETUP
    now = datetime(2026, 3, 2, tzinfo=timezone.utc)
    with fakesnow.patch():
        store, _ = findings_session(SETUP.replace(line, f"GRANT SELECT, INSERT, UPDATE ON TABLE {table} TO ROLE {ROLE};"))
        store.observe([SimpleNamespace(key="a", severity="high")], now)  # new rows: no DELETE needed yet
        with pytest.raises(StateError, match=f"GRANT DELETE ON TABLE {table} TO ROLE {ROLE}"):
            store.observe([SimpleNamespace(key="a", severity="high")], now)
        with pytest.raises(StateError, match=f"GRANT DELETE ON TABLE {table} TO ROLE {ROLE}"):
            store.check_writable()


def tomllib_load(path: Path) -> dict:
    import tomllib

    return tomllib.loads(path.read_text())
