"""Cost: where the warehouse money went, what it will cost by month end, and what sits idle (admins)."""
import datetime as dt

import pandas as pd
import streamlit as st

from core.plaintext import md_escape
from core.snowflake.cost import (Prices, attribution_filled, data_through, forecast_month, monitor_usage,
                                 spend as billed_spend, window)
from core.snowflake.queries import QueryError, ask
from portal import account, charts, ui, widgets

services, actor = ui.services(), ui.viewer()
# Why: spend by user and the queries people ran are for the platform's admins only.
if not actor.can("admin"):
    st.error("The cost page is for admins.")
    st.stop()

st.title("Cost")
prices, currency = Prices.of(services.settings), services.settings.currency
price = prices.credit("WAREHOUSE_METERING")
try:
    with st.spinner("Reading the account's usage ..."):
        src = account.source()
        through = data_through(src)
        latest = through.last_day if through else None
except QueryError as exc:
    st.error(f"The account's usage cannot be read: {md_escape(exc)}", icon=":material/error:")
    st.stop()
if latest is None:
    st.info("The account has no complete day of warehouse metering yet.")
    st.stop()

first = latest - dt.timedelta(days=89)
start, end = latest - dt.timedelta(days=29), latest
cols = st.columns([2, 3])
picked = cols[0].date_input("Days (UTC)", value=(start, end), min_value=first, max_value=latest, key="cost.range",
                            help="Complete days only: ACCOUNT_USAGE lags by up to 3 hours, so today is never shown.")
if isinstance(picked, (tuple, list)) and len(picked) in (1, 2):
    start, end = min(picked), max(picked)  # one date: the picker was closed after one click, so that day
binds = window(start, end)
try:
    daily = ask(src, "warehouse_credits_daily", **binds)
    config = account.describe_config()
    # The config's warehouses too, so a choice stays when the range holds none of its metering.
    all_warehouses = sorted(set(daily["WAREHOUSE_NAME"]) | {w["name"] for w in config["warehouses"]})
    chosen = cols[1].multiselect("Warehouses", all_warehouses, default=all_warehouses, key="cost.warehouses",
                                 placeholder="All warehouses")
    chosen = chosen or all_warehouses

    def only(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["WAREHOUSE_NAME"].isin(chosen)].reset_index(drop=True)

    daily = only(daily)
    spend_binds = window(min(start, latest.replace(day=1)) - dt.timedelta(days=28), latest)
    spend = ask(src, "daily_spend", **spend_binds)
    billed_daily = ask(src, "billed_daily", start_date=spend_binds["start_date"], end_date=spend_binds["end_date"])
    bill = billed_spend(src, start, end, prices)
    attributed = attribution_filled(src, binds["start_time"])
    usage = only(ask(src, "warehouse_usage", **binds))
    users = only(ask(src, "credits_by_user", **binds))
    roles = only(ask(src, "credits_by_role", **binds))
    queries = only(ask(src, "expensive_queries", **binds, top_n=20)).nlargest(20, "CREDITS").reset_index(drop=True)
    storage = ask(src, "storage_by_database", **binds)
    monitors = monitor_usage(src, latest, config["warehouses"], config["monitors"])
except QueryError as exc:
    st.error(f"The account's usage cannot be read: {md_escape(exc)}", icon=":material/error:")
    st.stop()

if daily.empty:
    they = "it did not" if len(chosen) == 1 else "they did not"
    st.info(f"No credits for {md_escape(', '.join(chosen))} from {start:%Y-%m-%d} to {end:%Y-%m-%d} (UTC): {they} run then. "
            "Pick other days or warehouses.")
    st.stop()
forecast = forecast_month(billed_daily, latest)
credit_lines = [x for x in bill["lines"] if x["unit"] == "credits"]
blended = sum(x["money"] for x in credit_lines) / bill["billed_credits"] if bill["billed_credits"] else prices.per_credit
credits = float(daily["CREDITS_USED"].sum())
idle = float(usage["CREDITS_IDLE"].sum())
compute = float(usage["CREDITS_COMPUTE"].sum())
m = st.columns(5)
m[0].metric(f"Credits {start:%b %d} to {end:%b %d}", f"{credits:,.0f}",
            help="Warehouse credits as metered (compute and cloud services, before the daily cloud-services adjustment)")
m[1].metric(f"Warehouse compute ({currency})", f"{compute * price:,.0f}",
            help=f"Warehouse compute credits only, at {price:,.2f} {currency} per credit; the bill is on the right")
m[2].metric(f"Spend, all services ({currency})", f"{bill['total_money']:,.0f}",
            help="The whole account as billed: billed credits of every service type (warehouses, serverless, compute "
                 "pools) at their prices, plus storage per TB-month and data transfer (the Spend tab); not filtered by warehouse")
m[3].metric(f"{forecast.month} forecast", f"{forecast.projected * blended:,.0f} {currency}",
            help=f"{forecast.month_to_date:,.0f} billed credits so far + {forecast.daily_rate:,.1f} credits/day (last 7 days) "
                 f"x {forecast.days_left} days left = {forecast.projected:,.0f} credits, whole account; storage and transfer not included")
m[4].metric("Idle compute", f"{idle / compute:.0%}" if compute else "-", help=f"{idle:,.0f} credits ({idle * price:,.0f} {currency}) "
            "metered while warehouses ran without a query (hours whose attribution is in)")
st.caption(f"{through.caption()} · {'demo account (local stand-in)' if services.settings.mode == 'demo' else 'SNOWFLAKE.ACCOUNT_USAGE'}")


def table(frame: pd.DataFrame, name: str, **kwargs) -> None:
    widgets.table(frame, name, "cost", **kwargs)


over_time, spend_tab, people, idle_tab, storage_tab, top, budget = st.tabs(
    ["Over time", "Spend", "Users and roles", "Idle", "Storage", "Expensive queries", "Budgets and forecast"])
with over_time:
    st.altair_chart(charts.credits_by_warehouse(daily, price, currency), width="stretch")
    table(daily.assign(MONEY=daily["CREDITS_USED"] * price), "credits_by_warehouse_by_day")
with spend_tab:
    st.caption("As billed (METERING_DAILY_HISTORY.CREDITS_BILLED: cloud services net of the daily adjustment), one line "
               "per service type, plus storage (STORAGE_USAGE, per TB-month) and data transfer (DATA_TRANSFER_HISTORY, per "
               "TB); prices are settings. Not included: support, AI services billed outside credits, other accounts.")
    table(pd.DataFrame(bill["lines"]), "spend_by_line")
with people:
    left, right = st.columns(2)
    left.altair_chart(charts.ranked_bars(users, "USER_NAME", "Credits by user", "User", price, currency), width="stretch")
    right.altair_chart(charts.ranked_bars(roles, "ROLE_NAME", "Credits by role", "Role", price, currency), width="stretch")
    st.caption("From QUERY_ATTRIBUTION_HISTORY: compute attributed to each query. Idle time is left out, not spread over "
               "the queries, so these add up to less than the warehouses' credits. QUERY_ATTRIBUTION_HISTORY lags up to "
               "8 hours: " + (f"it has queries up to {attributed:%Y-%m-%d %H:%M} UTC." if attributed else "it has no query "
                              "in the range yet."))
    left, right = st.columns(2)
    with left:
        table(users.assign(MONEY=users["CREDITS"] * price), "credits_by_user")
    with right:
        table(roles.assign(MONEY=roles["CREDITS"] * price), "credits_by_role")
with idle_tab:
    st.altair_chart(charts.idle_by_warehouse(usage, price, currency), width="stretch")
    table(usage.assign(IDLE_MONEY=usage["CREDITS_IDLE"] * price), "idle_by_warehouse",
          column_config={"IDLE_SHARE": st.column_config.NumberColumn("IDLE_SHARE", format="percent")})
with storage_tab:
    st.altair_chart(charts.storage_growth(storage), width="stretch")
    table(storage, "storage_by_database")
with top:
    st.caption("The 20 queries with the most attributed compute credits in the range (query text cut to 300 characters).")
    table(queries.assign(MONEY=queries["CREDITS"] * price), "expensive_queries")
with budget:
    st.altair_chart(charts.monitor_quota(monitors), width="stretch")
    table(monitors, "resource_monitors", column_config={"USED_SHARE": st.column_config.NumberColumn("USED_SHARE", format="percent")})
    st.altair_chart(charts.daily_anomalies(spend[pd.to_datetime(spend["DAY"]).dt.date >= start]), width="stretch")
    anomalies = spend[spend["IS_ANOMALY"].fillna(False).astype(bool) & (pd.to_datetime(spend["DAY"]).dt.date >= start)]
    table(anomalies.reset_index(drop=True), "anomalous_days")
    table(pd.DataFrame([forecast.to_dict() | {"projected_money": forecast.projected * price, "currency": currency}]), "month_end_forecast")
