"""The portal's way to the query layer: the source for this deployment, with results cached.

In the demo it is the workspace's stand-in; otherwise `st.connection("snowflake")` (secrets.toml, or
the active session in Streamlit in Snowflake). Every question's result is kept by st.cache_data, keyed
by the account's version, the SQL and its binds (so by the page's filters): a demo deployment changes
the stand-in's version and so refreshes what pages show; a real account's results live 10 minutes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from core.snowflake.connect import STANDIN_FILE
from core.snowflake.queries import QueryError
from portal import ui

TTL_SECONDS = 600


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, max_entries=512)
def _run(version: str, sql: str, values: tuple, _inner) -> pd.DataFrame:
    return _inner.run(sql, list(values))


@dataclass
class CachedSource:
    """A source whose answers are cached per (version, SQL, binds)."""
    inner: object
    version: str
    placeholder: str = "?"

    def run(self, sql: str, values: list) -> pd.DataFrame:
        return _run(self.version, sql, tuple(values), self.inner).copy()


def uncached_source():
    """The deployment's source without the result cache (the Status page asks afresh), or None when no
    Snowflake connection can be made (the page says so)."""
    services = ui.services()
    if services.settings.mode == "demo" and services.settings.backend == "local":
        return services.snowflake_source()
    try:
        return ui.live_source(services.settings.snowflake_connection)
    except Exception:  # no [connections.NAME] secrets, no session: the Status page's Snowflake line says so
        return None


def source() -> CachedSource:
    """The cached source of this deployment (raises QueryError if the account cannot be read)."""
    services = ui.services()
    if services.settings.mode == "demo" and services.settings.backend == "local":
        inner = services.snowflake_source()  # generates the demo account on first use
        path = Path(services.workspace.account_dir) / STANDIN_FILE
        return CachedSource(inner, f"demo:{path}:{path.stat().st_mtime_ns}")
    try:
        return CachedSource(ui.live_source(services.settings.snowflake_connection), "snowflake")
    except Exception as exc:  # no [connections.snowflake] secrets, no session: say so, no traceback
        raise QueryError(f"no Snowflake connection ({exc})") from exc


def describe_config():
    """Warehouses, monitors, users ... of the deployed config (core.snowddl.inventory.describe)."""
    from core.snowddl.inventory import describe

    return describe(ui.services().snapshot().config)


def show_cost(projection, note: str, currency: str) -> None:
    """A warehouse request's projected monthly cost (app.operations.preview.request_cost), or why there
    is none; nothing for other requests."""
    from core.plaintext import md_escape
    from portal import widgets

    if projection is not None:
        widgets.cost_projection(projection, currency)
    elif note:
        st.caption(md_escape(note[:1].upper() + note[1:]))


def show_request_cost(recipe: str, request: dict, sha: str | None = None) -> None:
    """For a submitted warehouse request: its projected monthly credits and money, from the warehouse's
    last 30 days of metering (an estimate for a new one), as its preview showed them (the same function,
    app.operations.preview.request_cost); nothing for other requests. `sha`: the base commit."""
    from app.operations.preview import request_cost

    services = ui.services()
    projection, note = request_cost(recipe, request, services.snapshot(sha), source,
                                    float(services.settings.price_per_credit))
    show_cost(projection, note, services.settings.currency)
