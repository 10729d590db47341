"""Deployment files: snowflake.yml as snowflake-cli's own project model reads it, deploy/setup.sql run
through fakesnow as far as fakesnow goes, and the files agreeing with each other and with the code."""
from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def definition():
    from snowflake.cli.api.project.schemas.project_definition import build_project_definition

    return build_project_definition(**yaml.safe_load((ROOT / "snowflake.yml").read_text()))


def statements() -> list[str]:
    from snowflake.connector.util_text import split_statements

    text = (ROOT / "deploy" / "setup.sql").read_text()
    return [s.rstrip(";").strip() for s, _ in split_statements(io.StringIO(text), remove_comments=True) if s.strip()]


def test_snowflake_yml_is_a_v2_streamlit_project_on_the_container_runtime():
    from snowflake.cli._plugins.streamlit.streamlit_entity_model import SPCS_RUNTIME_V2_NAME, StreamlitEntityModel

    project = definition()
    assert project.definition_version == "2"
    app = project.entities["snowtower"]
    assert isinstance(app, StreamlitEntityModel)
    assert app.runtime_name == SPCS_RUNTIME_V2_NAME and app.compute_pool == "SNOWTOWER_POOL"
    assert (app.main_file, app.query_warehouse) == ("portal/app.py", "SNOWTOWER_WH")
    # Every file the app needs is shipped: the entry script, the page scripts and the packages they import.
    sources = {a.src for a in app.artifacts}
    for folder in ("portal/", "pages/", "app/", "core/", "recipes/"):
        assert folder in sources and (ROOT / folder).is_dir()
    assert {(a.src, a.dest) for a in app.artifacts if a.dest} == {("deploy/requirements.txt", "requirements.txt"),
                                                                 ("deploy/snowtower.toml", "snowtower.toml")}


def test_snowflake_cli_refuses_a_broken_project(tmp_path):
    """The model is a real check: an unknown runtime or a v1-only key is refused."""
    import pytest
    from snowflake.cli.api.project.schemas.project_definition import build_project_definition

    raw = yaml.safe_load((ROOT / "snowflake.yml").read_text())
    raw["entities"]["snowtower"]["runtime_name"] = "SYSTEM$CONTAINER_RUNTIME"
    with pytest.raises(Exception, match="runtime_name"):
        build_project_definition(**raw)
    raw = yaml.safe_load((ROOT / "snowflake.yml").read_text())
    raw["entities"]["snowtower"]["additional_source_files"] = ["x.py"]
    with pytest.raises(Exception, match="additional_source_files"):
        build_project_definition(**raw)


def test_setup_sql_creates_what_snowflake_yml_names():
    app = definition().entities["snowtower"]
    sql = " ".join(statements()).upper()
    assert f"CREATE WAREHOUSE IF NOT EXISTS {app.query_warehouse}" in sql
    assert f"CREATE COMPUTE POOL IF NOT EXISTS {app.compute_pool}" in sql
    assert f"CREATE SCHEMA IF NOT EXISTS {app.identifier.database}.{app.identifier.schema_}".upper() in sql
    for integration in app.external_access_integrations:
        assert f"CREATE EXTERNAL ACCESS INTEGRATION IF NOT EXISTS {integration}" in sql
        assert f"GRANT USAGE ON INTEGRATION {integration} TO ROLE SNOWTOWER_APP" in sql
    for secret in app.secrets.values():
        assert f"CREATE SECRET IF NOT EXISTS {secret}" in sql and f"GRANT READ ON SECRET {secret}" in sql
        assert re.search(rf"ALLOWED_AUTHENTICATION_SECRETS = \([^)]*{re.escape(secret)}", sql)
    # GitHub's API and the host its archive links point to (core.changes.github.git_data.GitData.config_at downloads there).
    assert "'API.GITHUB.COM:443', 'CODELOAD.GITHUB.COM:443'" in sql and "MODE = EGRESS" in sql
    assert "GRANT DATABASE ROLE SNOWFLAKE.USAGE_VIEWER TO ROLE SNOWTOWER_APP" in sql


def test_the_app_settings_shipped_to_snowflake_are_valid_and_match_the_setup(tmp_path):
    """deploy/snowtower.toml is what the app reads in SiS: no problem but the repository placeholder."""
    from app.settings import WorkspaceTomlSource, inspect_settings

    shipped = tmp_path / "ws"
    shipped.mkdir()
    (shipped / "settings.toml").write_text((ROOT / "deploy" / "snowtower.toml").read_text())
    settings, problems = inspect_settings(shipped, environ={"SNOWTOWER_SIGNING_KEY": "0123456789abcdef" * 4}, secrets=False)
    assert problems == []
    assert (settings.runtime, settings.backend, settings.audit_log, settings.auth) == ("sis", "github", "snowflake", "sis")
    assert settings.audit_table == "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG"
    assert set(settings.sis_role_mapping) == {"SNOWTOWER_ADMIN", "SNOWTOWER_APPROVER", "SNOWTOWER_REQUESTER"}
    sql = " ".join(statements()).upper()
    for role in settings.sis_role_mapping:
        assert f"CREATE ROLE IF NOT EXISTS {role}" in sql
    # The names of the app's secrets are the settings they fill (st.secrets github_token, signing_key).
    assert set(definition().entities["snowtower"].secrets) <= set(type(settings).model_fields)
    assert WorkspaceTomlSource  # the same reader as a workspace's settings.toml


def test_requirements_txt_pins_the_locked_versions():
    lock = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    lock = {k.lower().replace("_", "-"): v for k, v in lock.items()}
    shipped = [line for line in (ROOT / "deploy" / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert shipped
    for line in shipped:
        name, version = line.split("==")
        assert lock[name.lower().replace("_", "-")] == version, name
    assert not {"pytest", "playwright", "hypothesis", "fakesnow"} & {line.split("==")[0].lower() for line in shipped}


def test_setup_sql_runs_in_fakesnow_as_far_as_it_parses_and_the_audit_table_works():
    """fakesnow runs the database, schema and table statements; the account-level ones (roles, grants,
    warehouse, network rule, secrets, integrations, compute pool) are beyond it and listed here by kind,
    so a typo in a statement it does run still fails."""
    import fakesnow
    import snowflake.connector

    from app.audit_record import AuditQuery
    from app.audit_snowflake import SNOWFLAKE_COLUMNS, SnowflakeAuditLog
    from app.snowflake_tables import TABLES

    beyond_fakesnow = ("CREATE ROLE", "GRANT ", "CREATE WAREHOUSE", "CREATE NETWORK RULE", "CREATE SECRET",
                       "CREATE EXTERNAL ACCESS INTEGRATION", "CREATE COMPUTE POOL")
    ran, skipped = [], []
    with fakesnow.patch():
        conn = snowflake.connector.connect(paramstyle="qmark")
        cur = conn.cursor()
        for sql in statements():
            if sql.upper().startswith(beyond_fakesnow):
                skipped.append(sql)
                continue
            cur.execute(sql)  # raises on anything fakesnow cannot run: a broken statement fails the test
            ran.append(" ".join(sql.split()[:3]).upper())
        assert ran == ["USE ROLE ACCOUNTADMIN", "CREATE DATABASE IF", "CREATE SCHEMA IF"] + ["CREATE TABLE IF"] * 6
        assert len(skipped) == 35  # and GRANT APPLICATION ROLE SNOWFLAKE.BUDGET_VIEWER
        # The tables setup.sql made are the ones the app writes (same columns as app/audit.py's DDL and
        # app/snowflake_tables.py's TABLES).
        made = {}
        for table_sql in (s for s in statements() if s.upper().startswith("CREATE TABLE")):
            name = table_sql.split()[5].rsplit(".", 1)[-1].upper()
            made[name] = tuple(" ".join(c.split()) for c in re.search(r"\((.*)\)", table_sql, re.S).group(1).split(","))
        assert made == {"SNOWTOWER_AUDIT_LOG": SNOWFLAKE_COLUMNS, **TABLES}
        log = SnowflakeAuditLog(lambda: conn, "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG")
        log.write("ada", ["admin"], "merge", request_id=7, at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
        [record] = log.search(AuditQuery(actor="ADA"))
        assert (record.actor, record.action, record.request_id) == ("ada", "merge", 7)


def test_docs_deploy_md_walks_through_all_three_ways():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    for heading in ("## Locally", "## On a server behind a reverse proxy", "## Streamlit in Snowflake"):
        assert heading in doc
    assert "proxy_set_header Upgrade $http_upgrade;" in doc and "base_url" in doc
    assert "snow streamlit deploy" in doc and "deploy/setup.sql" in doc
