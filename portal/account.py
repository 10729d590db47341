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
    if services.mode.demo_account:
        return services.snowflake_source()
    try:
        return ui.live_source(services.settings.snowflake_connection)
    except Exception:  # no [connections.NAME] secrets, no session: the Status page's Snowflake line says so
        return None


def source() -> CachedSource:
    """The cached source of this deployment (raises QueryError if the account cannot be read)."""
    services = ui.services()
    if services.mode.demo_account:
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
    """A warehouse request's projected monthly cost (app.operations.shared.preview.request_cost), or why there
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
    app.operations.shared.preview.request_cost); nothing for other requests. `sha`: the base commit."""
    from app.operations.shared.preview import request_cost

    services = ui.services()
    projection, note = request_cost(recipe, request, services.snapshot(sha), source,
                                    float(services.settings.price_per_credit))
    show_cost(projection, note, services.settings.currency)


def request_cost_badge(recipe: str, request: dict, sha: str | None = None) -> str:
    """A chip for the top of a review: a warehouse request's monthly cost after the change and its change
    (":orange-badge[cost 1,234 CHF/month, +600]"); "" for other requests or when it cannot be projected
    (the full block below says why)."""
    from core.snowflake.projection import WAREHOUSE_RECIPES, project_request
    from core.snowddl.inventory import describe

    if recipe not in WAREHOUSE_RECIPES:
        return ""
    services = ui.services()
    try:
        p = project_request(source(), recipe, request, describe(services.snapshot(sha).config)["warehouses"],
                            float(services.settings.price_per_credit))
    except QueryError:
        return ""
    if p is None:
        return ""
    currency = "".join(ch for ch in str(services.settings.currency) if ch.isalnum())[:8]
    delta = "" if p.current_money is None else f", {p.projected_money - p.current_money:+,.0f}"
    return f":orange-badge[cost {p.projected_money:,.0f} {currency}/month{delta}{' (estimate)' if p.estimate else ''}]"


def spend_change(days: int = 30) -> tuple[float, float, str] | None:
    """(money spent on warehouses in the last `days` metered days, in the `days` before those, the last
    day) from core.snowflake.cost.summary (WAREHOUSE_METERING_HISTORY, credits x price_per_credit); None
    when the account has no metering. Raises QueryError."""
    import datetime as dt

    from core.snowflake.cost import last_day, summary

    src, price = source(), float(ui.services().settings.price_per_credit)
    day = last_day(src)
    if day is None:
        return None
    now = summary(src, days, price, day)
    before = summary(src, days, price, day - dt.timedelta(days=days))
    return now["total_money"], before["total_money"], day.isoformat()


def findings_count() -> int:
    """Security findings the Security page lists: config hygiene (core.findings.hygiene) and the account's
    (core.findings.security.account_findings over ACCOUNT_USAGE.USERS, logins of the last 90 days).
    Raises QueryError."""
    import datetime as dt

    from core.findings.hygiene import hygiene
    from core.findings.security import network_policy_users, security_report
    from core.snowflake.cost import last_day, window

    config = ui.services().snapshot().config
    count = len(hygiene(config))
    src = source()
    latest = last_day(src)
    if latest is not None:
        binds = window(latest - dt.timedelta(days=89), latest)
        report = security_report(src, binds["end_time"], binds["start_time"], binds["end_time"],
                                 network_policy_users(config), set(config.users))
        count += len(report.findings)
    return count


def home_figures() -> None:
    """The admin's Home lines from the account: findings and spend against the period before, each a link
    to its page; one line saying why when the account cannot be read."""
    services = ui.services()
    currency = _md(str(services.settings.currency))
    try:
        found = findings_count()
        spend = spend_change()
    except QueryError as exc:
        st.caption(f"Findings and spend unavailable: the account cannot be read ({_md(str(exc))}).")
        return
    st.page_link(ui.page("security"), label=f"{found} security findings", icon=":material/security:")
    if spend is None:
        st.page_link(ui.page("cost"), label="No warehouse spend metered yet", icon=":material/payments:")
        return
    now, before, day = spend
    change = "" if not before else f", {100 * (now - before) / before:+.0f}% against the 30 days before"
    st.page_link(ui.page("cost"), label=f"Spend in the 30 days to {day}: {now:,.0f} {currency}{change}",
                 icon=":material/payments:")


def _md(text: str) -> str:
    from core.plaintext import md_escape

    return md_escape(text)
