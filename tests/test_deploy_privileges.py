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
    from app.audit import AuditQuery, AuditRecord, SnowflakeAuditLog

    ran = []

    class Recorder:
        def cursor(self):
            return self

        def execute(self, sql, params=None):
            ran.append(sql)
            self.rows = []
            if sql.startswith("INSERT") and params:  # the conditional append reads its record back by seq
                from app.audit import COLUMNS

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
    statements = audit_statements()
    assert {str(n) for sql in statements for n in needs(sql)} == {
        f"SELECT ON TABLE {TABLE}", f"INSERT ON TABLE {TABLE}", "USAGE ON DATABASE SNOWTOWER",
        "USAGE ON SCHEMA SNOWTOWER.APP", f"USAGE ON WAREHOUSE {WAREHOUSE}"}
    assert not [s for s in statements if s.split()[0].upper() in ("CREATE", "ALTER", "DROP", "GRANT")]


def test_the_table_ddl_needs_create_table_which_the_app_role_does_not_hold():
    """Why the app runs no DDL: CREATE TABLE IF NOT EXISTS needs CREATE TABLE on the schema (its access
    control requirements name no exception for an existing table), which setup.sql does not grant."""
    from app.audit import snowflake_table_ddl

    grants = Grants.from_setup(SETUP)
    assert grants.missing(ROLE, needs(snowflake_table_ddl(TABLE))) == [Need("CREATE TABLE", "SCHEMA", "SNOWTOWER.APP")]


def test_a_setup_without_the_insert_grant_is_caught_and_the_app_names_it():
    """The check is a real one: setup.sql with SELECT only on the audit table leaves INSERT missing, and
    the audit log on such a session says which grant to run."""
    import fakesnow
    import snowflake.connector

    from app.audit import AuditError, SnowflakeAuditLog, snowflake_table_ddl

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
        needs("DELETE FROM SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG")
    with pytest.raises(UnknownStatement):
        Grants().missing(ROLE, needs("SELECT * FROM SNOWFLAKE.ACCOUNT_USAGE.AUTOMATIC_CLUSTERING_HISTORY"))


def tomllib_load(path: Path) -> dict:
    import tomllib

    return tomllib.loads(path.read_text())
