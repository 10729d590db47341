"""Altair charts for the dashboards: every chart has a title, axis titles with units, and tooltips.

Each function takes an aggregated frame from the query layer (upper-case Snowflake column names) and
returns an altair Chart; pages only place them.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

HEIGHT = 360  # pixels of a time chart, legend and axes included (Streamlit fits the chart into it)
ROW = alt.Step(34)  # pixels per bar of a ranked chart


def credits_by_warehouse(daily: pd.DataFrame, price: float, currency: str, anomalies: list[dict] | None = None) -> alt.Chart:
    """Stacked bars: credits per day by warehouse (money in the tooltip). Each of `anomalies` (as
    core.snowflake.cost.anomaly_causes gives them) is marked: a red dashed rule on its day and a red point
    labelled "anomaly" above its bar, the cause (warehouse, user, query pattern) in their tooltip."""
    frame = daily.assign(DAY=pd.to_datetime(daily["DAY"]), MONEY=daily["CREDITS_USED"] * price)
    subtitle = f"money at {price:,.2f} {currency} per credit" + (" · red: anomalous day (hover for its cause)" if anomalies else "")
    bars = _credit_bars(frame, subtitle, currency)
    if not anomalies:
        return bars
    marks = pd.DataFrame([{"DAY": pd.Timestamp(a["day"]), "CREDITS": a["credits"], "BASELINE": a["baseline"],
                           "Z_SCORE": a["z_score"], "WAREHOUSE": a["warehouse"], "USER": a["user"] or "(not attributed yet)",
                           "PATTERN": (a["pattern_text"] or "(not attributed yet)")[:120], "LABEL": "anomaly"}
                          for a in anomalies])
    marks["TOP"] = frame.groupby("DAY")["CREDITS_USED"].sum().reindex(marks["DAY"]).fillna(marks["CREDITS"]).to_numpy()
    tooltip = [alt.Tooltip("yearmonthdate(DAY):T", title="Anomalous day"), alt.Tooltip("CREDITS:Q", title="Credits (account)", format=",.1f"),
               alt.Tooltip("BASELINE:Q", title="Usual (28-day mean)", format=",.1f"), alt.Tooltip("Z_SCORE:Q", title="z-score", format=".1f"),
               alt.Tooltip("WAREHOUSE:N", title="Warehouse"), alt.Tooltip("USER:N", title="User"),
               alt.Tooltip("PATTERN:N", title="Query pattern")]
    base = alt.Chart(marks)
    day = alt.X("yearmonthdate(DAY):T", bandPosition=0.5)  # the middle of the day's bar, not its left edge
    rule = base.mark_rule(color="#d62728", strokeDash=[4, 3], strokeWidth=2).encode(x=day, tooltip=tooltip)
    point = base.mark_point(color="#d62728", filled=True, size=140, shape="triangle-down").encode(
        x=day, y=alt.Y("TOP:Q"), tooltip=tooltip)
    label = base.mark_text(color="#d62728", dy=-14, fontWeight="bold").encode(x=day, y="TOP:Q", text="LABEL:N")
    return alt.layer(bars, rule, point, label).properties(height=HEIGHT)


def _credit_bars(frame: pd.DataFrame, subtitle: str, currency: str) -> alt.Chart:
    return alt.Chart(frame, title=alt.Title("Credits per day by warehouse", subtitle=subtitle)).mark_bar().encode(
        x=alt.X("yearmonthdate(DAY):T", title="Day (UTC)"),
        y=alt.Y("sum(CREDITS_USED):Q", title="Credits"),
        color=alt.Color("WAREHOUSE_NAME:N", title="Warehouse", scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="right")),
        tooltip=[alt.Tooltip("yearmonthdate(DAY):T", title="Day"), alt.Tooltip("WAREHOUSE_NAME:N", title="Warehouse"),
                 alt.Tooltip("sum(CREDITS_USED):Q", title="Credits", format=",.2f"),
                 alt.Tooltip("sum(MONEY):Q", title=f"Money ({currency})", format=",.2f"),
                 alt.Tooltip("sum(CREDITS_IDLE):Q", title="Idle credits", format=",.2f")],
    ).properties(height=HEIGHT)


def daily_anomalies(spend: pd.DataFrame) -> alt.Chart:
    """The account's credits per day as a line, its trailing baseline dashed, anomalous days as red points."""
    frame = spend.assign(DAY=pd.to_datetime(spend["DAY"]), IS_ANOMALY=spend["IS_ANOMALY"].fillna(False).astype(bool))
    base = alt.Chart(frame, title=alt.Title("Credits per day, with anomalous days",
                                             subtitle="red: more than 3 standard deviations above the 28 days before"))
    tooltip = [alt.Tooltip("yearmonthdate(DAY):T", title="Day"), alt.Tooltip("CREDITS:Q", title="Credits", format=",.2f"),
               alt.Tooltip("BASELINE_CREDITS:Q", title="Usual (28-day mean)", format=",.2f"),
               alt.Tooltip("TOP_WAREHOUSE:N", title="Largest warehouse"),
               alt.Tooltip("TOP_WAREHOUSE_CREDITS:Q", title="Its credits", format=",.2f")]
    line = base.mark_line(point=True).encode(x=alt.X("yearmonthdate(DAY):T", title="Day (UTC)"),
                                              y=alt.Y("CREDITS:Q", title="Credits"), tooltip=tooltip)
    usual = base.mark_line(strokeDash=[4, 4], color="gray").encode(x="yearmonthdate(DAY):T", y="BASELINE_CREDITS:Q")
    marks = base.transform_filter(alt.datum.IS_ANOMALY).mark_point(color="red", size=160, filled=True).encode(
        x="yearmonthdate(DAY):T", y="CREDITS:Q", tooltip=tooltip)
    return (usual + line + marks).properties(height=HEIGHT)


def ranked_bars(frame: pd.DataFrame, label: str, title: str, label_title: str, price: float, currency: str,
                top: int = 15) -> alt.Chart:
    """Horizontal bars of CREDITS by `label` (largest first, the top `top`), money and queries in the tooltip."""
    totals = frame.groupby(label, as_index=False)[["CREDITS", "QUERIES"]].sum().nlargest(top, "CREDITS")
    totals["MONEY"] = totals["CREDITS"] * price
    return alt.Chart(totals, title=title).mark_bar().encode(
        y=alt.Y(f"{label}:N", title=label_title, sort="-x", axis=alt.Axis(labelLimit=260)),
        x=alt.X("CREDITS:Q", title="Credits (attributed to queries)"),
        tooltip=[alt.Tooltip(f"{label}:N", title=label_title), alt.Tooltip("CREDITS:Q", title="Credits", format=",.2f"),
                 alt.Tooltip("MONEY:Q", title=f"Money ({currency})", format=",.2f"),
                 alt.Tooltip("QUERIES:Q", title="Queries", format=",")],
    ).properties(height=alt.Step(26))


def idle_by_warehouse(usage: pd.DataFrame, price: float, currency: str) -> alt.Chart:
    """Stacked horizontal bars per warehouse: compute spent on queries versus idle."""
    frame = usage.melt(id_vars=["WAREHOUSE_NAME", "IDLE_SHARE"], value_vars=["CREDITS_QUERIES", "CREDITS_IDLE"],
                       var_name="PART", value_name="CREDITS")
    frame["PART"] = frame["PART"].map({"CREDITS_QUERIES": "Running queries", "CREDITS_IDLE": "Idle (running, no query)"})
    frame["MONEY"] = frame["CREDITS"] * price
    return alt.Chart(frame, title="Compute credits: queries versus idle").mark_bar().encode(
        y=alt.Y("WAREHOUSE_NAME:N", title="Warehouse", sort=alt.EncodingSortField("CREDITS", op="sum", order="descending"),
                axis=alt.Axis(labelLimit=260)),
        x=alt.X("CREDITS:Q", title="Compute credits", stack="zero"),
        color=alt.Color("PART:N", title=None, scale=alt.Scale(domain=["Running queries", "Idle (running, no query)"],
                                                               range=["#4c78a8", "#f58518"]),
                        legend=alt.Legend(orient="right")),
        tooltip=[alt.Tooltip("WAREHOUSE_NAME:N", title="Warehouse"), alt.Tooltip("PART:N", title="Part"),
                 alt.Tooltip("CREDITS:Q", title="Credits", format=",.2f"),
                 alt.Tooltip("MONEY:Q", title=f"Money ({currency})", format=",.2f"),
                 alt.Tooltip("IDLE_SHARE:Q", title="Idle share of compute", format=".0%")],
    ).properties(height=ROW)


def storage_growth(storage: pd.DataFrame) -> alt.Chart:
    """A line per database: total storage (table data and fail-safe) per day."""
    frame = storage.assign(DAY=pd.to_datetime(storage["DAY"]))
    return alt.Chart(frame, title="Storage by database (table data and fail-safe)").mark_line().encode(
        x=alt.X("yearmonthdate(DAY):T", title="Day (UTC)"),
        y=alt.Y("TOTAL_GB:Q", title="Storage (GiB)"),
        color=alt.Color("DATABASE_NAME:N", title="Database", scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="right")),
        tooltip=[alt.Tooltip("yearmonthdate(DAY):T", title="Day"), alt.Tooltip("DATABASE_NAME:N", title="Database"),
                 alt.Tooltip("TOTAL_GB:Q", title="Total GiB", format=",.1f"),
                 alt.Tooltip("FAILSAFE_GB:Q", title="Fail-safe GiB", format=",.1f")],
    ).properties(height=HEIGHT)


def monitor_quota(monitors: pd.DataFrame) -> alt.Chart:
    """Per resource monitor: credits used this period as a bar against its quota as a tick."""
    frame = monitors.assign(LABEL=monitors["MONITOR"] + " (" + monitors["FREQUENCY"].str.lower() + ")")
    base = alt.Chart(frame, title=alt.Title("Resource monitors: credits used this period against the quota",
                                             subtitle="bar: credits used since the quota last reset; black tick: the quota"))
    color = alt.Color("STATUS:N", title="Status", scale=alt.Scale(domain=["On track", "At risk", "Over quota"],
                                                                 range=["#54a24b", "#eeca3b", "#e45756"]),
                      legend=alt.Legend(orient="right"))
    tooltip = [alt.Tooltip("MONITOR:N", title="Monitor"), alt.Tooltip("FREQUENCY:N", title="Resets"),
               alt.Tooltip("WAREHOUSES:N", title="Warehouses"), alt.Tooltip("CREDITS_USED:Q", title="Credits used", format=",.1f"),
               alt.Tooltip("CREDIT_QUOTA:Q", title="Quota (credits)", format=",.0f"),
               alt.Tooltip("USED_SHARE:Q", title="Used", format=".0%"), alt.Tooltip("STATUS:N", title="Status")]
    bars = base.mark_bar().encode(y=alt.Y("LABEL:N", title="Monitor (resets)", axis=alt.Axis(labelLimit=320)),
                                  x=alt.X("CREDITS_USED:Q", title="Credits"),
                                  color=color, tooltip=tooltip)
    quota = base.mark_tick(color="black", thickness=3, size=28).encode(y="LABEL:N", x="CREDIT_QUOTA:Q", tooltip=tooltip)
    return (bars + quota).properties(height=ROW)


def auth_methods(methods: pd.DataFrame) -> alt.Chart:
    """Horizontal bars: successful logins by first and second authentication factor, users in the tooltip."""
    frame = methods[methods["LOGINS"] > 0].assign(
        METHOD=methods["FIRST_AUTHENTICATION_FACTOR"].fillna("UNKNOWN") + " + " + methods["SECOND_AUTHENTICATION_FACTOR"])
    return alt.Chart(frame, title="Authentication methods of successful logins").mark_bar().encode(
        y=alt.Y("METHOD:N", title="First + second factor", sort="-x", axis=alt.Axis(labelLimit=260)),
        x=alt.X("sum(LOGINS):Q", title="Logins"),
        tooltip=[alt.Tooltip("METHOD:N", title="Method"), alt.Tooltip("sum(LOGINS):Q", title="Logins", format=","),
                 alt.Tooltip("distinct(USER_NAME):Q", title="Users")],
    ).properties(height=alt.Step(34))


LOGIN_FAILURE_NAMES = 10  # user names drawn in the failed-logins chart; the rest are one "other" series


def login_failures(failures: pd.DataFrame, names: int = LOGIN_FAILURE_NAMES) -> alt.Chart:
    """Stacked bars: failed logins per day, coloured by user name (as typed) and reason in the tooltip.

    The names are typed by whoever tries to log in (a password spray brings thousands): the `names` with
    the most failures are drawn, the others summed per day and reason as "(N other names)"; totals stay."""
    top = failures.groupby("USER_NAME")["FAILURES"].sum().sort_values(ascending=False, kind="stable")
    if len(top) > names:
        others = ~failures["USER_NAME"].isin(top.index[:names])
        rest = (failures[others].groupby(["DAY", "REASON"], as_index=False)
                .agg(FAILURES=("FAILURES", "sum"), CLIENT_IPS=("CLIENT_IPS", "max"))
                .assign(USER_NAME=f"({len(top) - names:,} other names)"))
        failures = pd.concat([failures[~others], rest], ignore_index=True)
    frame = failures.assign(DAY=pd.to_datetime(failures["DAY"]))
    return alt.Chart(frame, title="Failed logins per day by user").mark_bar().encode(
        x=alt.X("yearmonthdate(DAY):T", title="Day (UTC)"),
        y=alt.Y("sum(FAILURES):Q", title="Failed logins"),
        color=alt.Color("USER_NAME:N", title="User name (as typed)", scale=alt.Scale(scheme="tableau10")),
        tooltip=[alt.Tooltip("yearmonthdate(DAY):T", title="Day"), alt.Tooltip("USER_NAME:N", title="User name"),
                 alt.Tooltip("REASON:N", title="Reason"), alt.Tooltip("sum(FAILURES):Q", title="Failures", format=","),
                 alt.Tooltip("max(CLIENT_IPS):Q", title="Client IPs")],
    ).properties(height=HEIGHT)
