"""Cost: where the warehouse money went, what it will cost by month end, and what sits idle (admins)."""
import datetime as dt

import pandas as pd
import streamlit as st

from core.plaintext import md_escape
from core.snowflake.cost import (Prices, anomaly_causes, attribution_filled, budget_status, data_through, forecast_month,
                                 monitor_usage, period_figures, previous_period, query_patterns, spend as billed_spend,
                                 top_spenders, window, with_changes)
from core.snowflake.budgets import read_budgets
from core.snowflake.recommend import recommend
from core.snowflake.queries import QueryError, ask
from portal import account, charts, recipe_form, ui, widgets

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
    filtered = None if set(chosen) == set(all_warehouses) else chosen
    prev_start, prev_end = previous_period(start, end)
    now_figures = period_figures(src, start, end, prices, filtered)
    # Why: a previous period reaching before the first metered day would compare with a partial period.
    before = period_figures(src, prev_start, prev_end, prices, filtered) if prev_start >= through.first_day else None
    changes = with_changes(now_figures, before) if before else {}
    # Snowflake's own budgets where the account has them and the role may read them (never raises: says why not).
    budgets = budget_status(src, latest, prices, float(services.settings.budget_monthly),
                            dict(services.settings.budget_by_warehouse), read_budgets(src))
    spenders = top_spenders(src, start, end, price, 5, filtered)
    patterns = query_patterns(src, start, end, price, 20, filtered)
    causes = [c for c in anomaly_causes(src, spend, start, price) if c["day"] <= end.isoformat()]
    recommendations = recommend(src, config["warehouses"], float(services.settings.price_per_credit))
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
vs = f"vs {prev_start:%b %d} to {prev_end:%b %d}"


def delta(key: str) -> str | None:
    """The change against the previous period of the same length, as st.metric's delta (more spend shows red)."""
    value = changes.get(key)
    if value is None:
        return None
    return f"{value * 100:+.1f} points {vs}" if key == "idle_share" else f"{value:+.0%} {vs}"


no_previous = ("" if before else f" No comparison: the {(end - start).days + 1} days before start before the account's "
               f"first day of metering ({through.first_day:%Y-%m-%d}).")
m = st.columns(5)
m[0].metric(f"Credits {start:%b %d} to {end:%b %d}", f"{credits:,.0f}", delta=delta("credits"), delta_color="inverse",
            help="Warehouse credits as metered (compute and cloud services, before the daily cloud-services adjustment); "
                 f"the change is against the same number of days just before ({prev_start:%Y-%m-%d} to {prev_end:%Y-%m-%d})."
                 + no_previous)
m[1].metric(f"Warehouse compute ({currency})", f"{compute * price:,.0f}", delta=delta("compute_money"), delta_color="inverse",
            help=f"Warehouse compute credits only, at {price:,.2f} {currency} per credit; the bill is on the right")
m[2].metric(f"Spend, all services ({currency})", f"{bill['total_money']:,.0f}", delta=delta("total_money"), delta_color="inverse",
            help="The whole account as billed: billed credits of every service type (warehouses, serverless, compute "
                 "pools) at their prices, plus storage per TB-month and data transfer (the Spend tab); not filtered by warehouse")
account_budget = budgets["headline"]  # Snowflake's account budget when it has a limit, else budget_monthly
m[3].metric(f"{forecast.month} forecast", f"{forecast.projected * blended:,.0f} {currency}",
            delta=(f"{account_budget['projected_share']:.0%} of the budget" if account_budget else None),
            delta_color="inverse" if account_budget and account_budget["projected_share"] >= 1 else "off",
            help=f"{forecast.month_to_date:,.0f} billed credits so far + {forecast.daily_rate:,.1f} credits/day (last 7 days) "
                 f"x {forecast.days_left} days left = {forecast.projected:,.0f} credits, whole account; storage and transfer not included")
m[4].metric("Idle compute", f"{idle / compute:.0%}" if compute else "-", delta=delta("idle_share"), delta_color="inverse",
            help=f"{idle:,.0f} credits ({idle * price:,.0f} {currency}) metered while warehouses ran without a query (hours "
                 "whose attribution is in); the change is in percentage points")
if account_budget:
    colour = {"On track": "green", "At risk": "orange", "Over budget": "red"}[account_budget["status"]]
    in_credits = (f" ({account_budget['month_to_date_credits']:,.0f} of {account_budget['budget_credits']:,.0f} credits)"
                  if account_budget.get("budget_credits") is not None else "")
    st.markdown(f":{colour}-badge[{account_budget['status']}] **Budget {budgets['month']}:** "
                f"{account_budget['month_to_date']:,.0f} {currency} of {account_budget['budget']:,.0f} {currency} spent"
                f"{in_credits} ({account_budget['used_share']:.0%}) to {latest:%b %d}; forecast {account_budget['projected']:,.0f} {currency} "
                f"({account_budget['projected_share']:.0%}) by month end")
    st.progress(min(1.0, account_budget["used_share"]))
    if account_budget.get("budget_credits") is not None:
        setting = (f"; the settings' budget_monthly ({budgets['account']['budget']:,.0f} {currency}) is in the Budget tab"
                   if budgets["account"] else "")
        st.caption(f"Budget source: Snowflake's account budget (SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET), its spending limit "
                   f"in credits at this month's {account_budget['budget'] / account_budget['budget_credits']:,.2f} {currency} "
                   f"per credit; month to date: billed credits of every service (METERING_DAILY_HISTORY){setting}.")
    else:
        st.caption("Budget source: the settings' budget_monthly (no spending limit of Snowflake's account budget is "
                   "readable; the Budget tab says why).")
else:
    st.caption("No monthly budget: Snowflake's account budget has no readable spending limit, and budget_monthly is not "
               "set. Set a limit on the account budget or budget_monthly (and budget_by_warehouse) in the settings; the "
               "Budget tab says why Snowflake's budgets cannot be read.")
st.caption(f"{through.caption()} · {'demo account (local stand-in)' if services.settings.mode == 'demo' else 'SNOWFLAKE.ACCOUNT_USAGE'}")

MONEY = "accounting"  # 1,234.56: two decimals with thousands separators; the currency is in each label


def money(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(f"{label} ({currency})", format=MONEY)


def number(label: str, fmt: str = "accounting", help: str | None = None) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format=fmt, help=help)


def share(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="percent")


LABELS = {
    "DAY": st.column_config.DateColumn("Day (UTC)"), "WAREHOUSE_NAME": "Warehouse", "USER_NAME": "User", "ROLE_NAME": "Role",
    "CREDITS_USED": number("Credits"), "CREDITS_COMPUTE": number("Compute credits"), "CREDITS": number("Credits"),
    "CREDITS_CLOUD_SERVICES": number("Cloud services credits"), "CREDITS_QUERIES": number("Credits on queries"),
    "CREDITS_IDLE": number("Idle credits"), "CREDITS_NOT_YET_ATTRIBUTED": number("Credits not yet attributed"),
    "MONEY": money("Money"), "IDLE_MONEY": money("Idle money"), "IDLE_SHARE": share("Idle share"), "QUERIES": number("Queries", "localized"),
    "RUNNING_HOURS": number("Hours with compute", "localized"), "DAYS_METERED": number("Days metered", "localized"),
    "line": "Line", "unit": "Unit", "quantity": number("Quantity"), "price": money("Price"), "money": money("Money"),
    "credits_compute": number("Compute credits"), "credits_cloud_services": number("Cloud services credits"),
    "credits_adjustment": number("Cloud services adjustment"), "DATABASE_NAME": "Database", "DATABASE_GB": number("Database (GiB)"),
    "FAILSAFE_GB": number("Fail-safe (GiB)"), "TOTAL_GB": number("Total (GiB)"), "START_TIME": st.column_config.DatetimeColumn("Started (UTC)"),
    "ELAPSED_SECONDS": number("Elapsed (s)"), "GB_SCANNED": number("Scanned (GiB)"), "QUERY_TEXT": st.column_config.TextColumn("Query", width="large"),
    "MONITOR": "Monitor", "FREQUENCY": "Resets", "PERIOD_START": st.column_config.DatetimeColumn("Period start (UTC)"),
    "WAREHOUSES": "Warehouses", "CREDIT_QUOTA": number("Quota (credits)"), "USED_SHARE": share("Used"), "STATUS": "Status",
    "TOP_WAREHOUSE": "Largest warehouse", "TOP_WAREHOUSE_CREDITS": number("Its credits"), "BASELINE_CREDITS": number("Usual (28-day mean)"),
    "BASELINE_STDDEV": number("Usual spread (sd)"), "Z_SCORE": number("z-score", "%.1f"),
    "user": "User", "credits": number("Credits"), "queries": number("Queries", "localized"),
    "share": share("Share"), "warehouse": "Warehouse", "sample_text": st.column_config.TextColumn("Query (newest run)", width="large"),
    "average_credits": number("Average credits", "%.4f"), "average_seconds": number("Average (s)"), "users": number("Users", "localized"),
    "top_user": "Top user", "pattern": "Pattern (QUERY_PARAMETERIZED_HASH)",
    "month": "Month", "month_to_date": money("Month to date"), "daily_rate": number("Credits per day"),
    "days_left": number("Days left", "localized"), "projected": number("Credits by month end"), "projected_money": money("By month end"),
    "budget": money("Budget"), "budget_credits": number("Limit (credits)"), "source": "Source",
    "month_to_date_credits": number("Month to date (credits)"), "used_share": share("Used"), "projected_share": share("Forecast share"), "status": "Status",
}
# Shown only with "Show technical columns": identifiers and intermediate figures a reader does not need first.
TECHNICAL = {"QUERY_ID", "pattern", "CREDITS_NOT_YET_ATTRIBUTED", "BASELINE_STDDEV", "IS_ANOMALY", "credits_compute",
             "credits_cloud_services", "credits_adjustment", "DAYS_METERED", "currency"}
technical = st.session_state.get("cost.technical", False)


def table(frame: pd.DataFrame, name: str, **kwargs) -> None:
    """A table with readable labels, units and formats; technical columns hidden unless asked for (the CSV has all)."""
    config = {c: LABELS[c] for c in frame.columns if c in LABELS}
    config.update(kwargs.pop("column_config", {}))
    order = [c for c in frame.columns if technical or c not in TECHNICAL]
    widgets.table(frame, name, "cost", column_config=config, column_order=order, **kwargs)


st.altair_chart(charts.credits_by_warehouse(daily, price, currency, causes), width="stretch")
for c in causes:
    st.caption(f":red[▼ Anomaly] {md_escape(c['text'])}")

st.subheader("Recommendations")
if not recommendations:
    st.caption("No recommendation: every warehouse's idle time, size and monitor look right for its last 30 days.")
for i, r in enumerate(recommendations):
    cols = st.columns([1.3, 6, 1.6, 1.4])
    cols[0].badge(r.code.removeprefix("WAREHOUSE_").lower().replace("_", " "), color="orange" if r.severity == "medium" else "gray")
    cols[1].text(f"{r.warehouse}: {r.message}")
    if r.saving_money:
        cols[2].markdown(f"**saves ~{r.saving_money:,.0f} {currency}**/month", help=f"{r.current_credits:,.1f} -> "
                         f"{r.projected_credits:,.1f} credits per month, the projection the request's review shows")
    else:
        cols[2].caption("no saving: caps spend" if r.code == "WAREHOUSE_NO_MONITOR" else "no saving")
    if r.fix:
        cols[3].button("Fix" if r.fix.complete else "Fix ...", key=f"cost.fix.{i}", icon=":material/healing:",
                       on_click=recipe_form.start_fix, args=(r,), help=f"Opens the {r.fix.recipe} request, filled in")
    else:
        cols[3].caption("no recipe")
if sum(1 for r in recommendations if r.saving_money) > 1:
    st.caption("Savings of two recommendations for one warehouse overlap: they do not add up.")

st.subheader("Top five spenders")
if spenders:
    table(pd.DataFrame(spenders), "top_spenders")
else:
    st.caption("No query attributed in the range yet (QUERY_ATTRIBUTION_HISTORY lags up to 8 hours).")

over_time, spend_tab, people, idle_tab, storage_tab, top, budget = st.tabs(
    ["Over time", "Spend", "Users and roles", "Idle", "Storage", "Expensive queries", "Budgets and forecast"])
with over_time:
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
    table(usage.assign(IDLE_MONEY=usage["CREDITS_IDLE"] * price), "idle_by_warehouse")
with storage_tab:
    st.altair_chart(charts.storage_growth(storage), width="stretch")
    table(storage, "storage_by_database")
with top:
    st.caption("Query patterns: runs of one query that differ only in literals share QUERY_PARAMETERIZED_HASH; the 20 "
               "costliest by attributed compute credits in the range (idle time is not attributed).")
    table(pd.DataFrame(patterns, columns=["sample_text", "queries", "credits", "average_credits", "money", "average_seconds",
                                          "users", "top_user", "warehouse", "pattern"]), "query_patterns")
    with st.expander("Single queries: the 20 with the most attributed credits"):
        st.caption("Query text cut to 300 characters.")
        table(queries.assign(MONEY=queries["CREDITS"] * price), "expensive_queries")
with budget:
    rows = [{k: v for k, v in b.items()} for b in budgets["snowflake"]]
    rows += ([{"budget_of": "Account (billed, all services)", "source": "Setting: budget_monthly", **budgets["account"]}]
             if budgets["account"] else [])
    rows += [{"budget_of": w["warehouse"], "source": "Setting: budget_by_warehouse",
              **{k: v for k, v in w.items() if k != "warehouse"}} for w in budgets["warehouses"]]
    if rows:
        table(pd.DataFrame(rows, columns=["budget_of", "source", "budget", "budget_credits", "month_to_date",
                                          "month_to_date_credits", "projected", "used_share", "projected_share", "status"]),
              "budgets", column_config={"budget_of": "Budget of", "projected": money("Forecast by month end")})
    for note in budgets["notes"]:  # Snowflake's budgets that cannot be read or have no limit, and why (plain text)
        st.caption(md_escape(note))
    st.altair_chart(charts.monitor_quota(monitors), width="stretch")
    table(monitors, "resource_monitors")
    st.altair_chart(charts.daily_anomalies(spend[pd.to_datetime(spend["DAY"]).dt.date >= start]), width="stretch")
    anomalies = spend[spend["IS_ANOMALY"].fillna(False).astype(bool) & (pd.to_datetime(spend["DAY"]).dt.date >= start)]
    table(anomalies.reset_index(drop=True), "anomalous_days")
    table(pd.DataFrame([forecast.to_dict() | {"projected_money": forecast.projected * blended, "currency": currency}]),
          "month_end_forecast")
st.toggle("Show technical columns", key="cost.technical", help="Query ids, pattern hashes and intermediate figures")
