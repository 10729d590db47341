"""Which audit store the settings choose (part of the audit log: app.audit): `audit_log_for(settings,
source)` -> app.audit.AuditLog, the SQLite store in the workspace or the Snowflake table."""
from __future__ import annotations

from app.audit import AuditLog
from app.audit_snowflake import SnowflakeAuditLog
from app.audit_sqlite import SqliteAuditLog


def audit_log_for(settings, source=None) -> AuditLog:
    """The audit log of these settings: `audit_log = "sqlite"` (the default) keeps it in the workspace
    database; `audit_log = "snowflake"` in table `audit_table` (in `snowflake_schema` when it is
    unqualified; deploy/setup.sql creates it) through `source` (a core.snowflake CursorSource: st.connection in the
    portal and in Streamlit in Snowflake) or else the connector with key-pair auth from SNOWFLAKE_*
    variables. Raises QueryError without a source or those variables."""
    if settings.audit_log == "snowflake":
        from core.snowflake.connect import connector_source  # the one way SnowTower connects to Snowflake

        table = settings.audit_table
        if "." not in table and settings.snowflake_schema:
            table = f"{settings.snowflake_schema}.{table}"
        return SnowflakeAuditLog((source or connector_source()).connect, table, owns_connection=source is None)
    from core.workspace import Workspace

    return SqliteAuditLog(Workspace(settings.workspace).db_path)
