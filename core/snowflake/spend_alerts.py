"""Spend events for `snowtower alerts` (`spend_events`): anomalous days with their cause, days over the daily
threshold, and budgets (the settings' and Snowflake's own) reaching a share of their limit; each with an id stable
across runs, so a sender that remembers the ids it sent sends each at most once. Figures from core.snowflake.cost."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from core.snowflake.cost import Prices, _blended, anomaly_causes, budget_status, last_day, spend, window
from core.snowflake.queries import ask


ALERT_LOOKBACK_DAYS = 30  # days whose anomalies and threshold crossings are events; each id is sent at most once


def spend_events(source, prices: Prices, *, budget_monthly: float = 0.0, budget_by_warehouse: dict | None = None,
                 threshold_per_day: float = 0.0, budget_shares: tuple[float, ...] | list[float] = (0.8, 1.0),
                 day: dt.date | None = None, lookback_days: int = ALERT_LOOKBACK_DAYS,
                 snowflake: dict | None = None) -> list[dict]:
    """Spend events up to `day` (default: the account's last complete day), each {"id", "severity", "title", "text"}
    with an `id` stable across runs, so a sender that remembers the ids it sent sends each at most once:

    - `cost.anomaly.<YYYY-MM-DD>` (high): an anomalous day (daily_spend: more than 3 standard deviations above its
      trailing 28 days) in the last `lookback_days`, with its cause (anomaly_causes);
    - `cost.day-over-threshold.<YYYY-MM-DD>` (medium): a day in the last `lookback_days` whose billed credits of every
      service type, at the window's blended price per credit, cost more than `threshold_per_day` (0: off);
    - `cost.budget.<YYYY-MM>.<percent>` and `cost.budget.<YYYY-MM>.<WAREHOUSE>.<percent>` (high from 100 %, else
      medium): the month to date of the account (`budget_monthly`) or a warehouse (`budget_by_warehouse`) reached
      that share of its budget (budget_status);
    - `cost.budget.<YYYY-MM>.snowflake.<BUDGET>.<percent>` (same severities): the month to date of one of Snowflake's
      own budgets (`snowflake`, from budgets.read_budgets; <BUDGET> is ACCOUNT_ROOT_BUDGET or DB.SCHEMA.NAME) reached
      that share of its spending limit in credits.
    Money in the settings' currency. Returns [] when the account has no complete day of metering."""
    day = day or last_day(source)
    if day is None:
        return []
    first = day - dt.timedelta(days=max(1, int(lookback_days)) - 1)
    events: list[dict] = []
    binds = window(first - dt.timedelta(days=28), day)
    for a in anomaly_causes(source, ask(source, "daily_spend", **binds), first, prices.credit("WAREHOUSE_METERING")):
        events.append({"id": f"cost.anomaly.{a['day']}", "severity": "high",
                       "title": f"Spend anomaly on {a['day']}: {a['credits']:,.0f} credits (usual {a['baseline']:,.0f})",
                       "text": a["text"]})
    if threshold_per_day:
        blended = _blended(spend(source, first, day, prices), prices)
        daily = ask(source, "billed_daily", **{k: v for k, v in window(first, day).items() if k.endswith("_date")})
        for r in daily.itertuples(index=False):
            money = float(r.CREDITS) * blended
            if money > threshold_per_day:
                d = pd.Timestamp(r.DAY).date().isoformat()
                events.append({"id": f"cost.day-over-threshold.{d}", "severity": "medium",
                               "title": f"Spend on {d}: {money:,.0f} over the daily threshold of {threshold_per_day:,.0f}",
                               "text": f"{d} billed {float(r.CREDITS):,.1f} credits of every service type at {blended:,.2f} "
                                       f"per credit: {money:,.2f}, above alert_spend_threshold {threshold_per_day:,.2f}."})
    if budget_monthly or budget_by_warehouse or snowflake:
        status = budget_status(source, day, prices, budget_monthly, budget_by_warehouse, snowflake)
        rows = ([("", "The account", status["account"])] if status["account"] else [])
        rows += [(f"{w['warehouse']}.", w["warehouse"], w) for w in status["warehouses"] if w["budget"]]
        rows += [(f"snowflake.{b['source'].removeprefix('Snowflake: ').removeprefix('SNOWFLAKE.LOCAL.')}.",
                  f"Snowflake's budget {b['source'].removeprefix('Snowflake: ')}", b)
                 for b in status["snowflake"] if b["used_share"] is not None]
        for key, who, b in rows:
            for share in sorted(budget_shares):
                if b["used_share"] >= share:
                    pct = round(share * 100)
                    credits = (f" ({b['month_to_date_credits']:,.1f} of a spending limit of {b['budget_credits']:,.0f} credits, "
                               f"read from Snowflake)" if b.get("budget_credits") is not None else "")
                    events.append({"id": f"cost.budget.{status['month']}.{key}{pct}", "severity": "high" if share >= 1 else "medium",
                                   "title": f"{who} reached {pct} % of its {status['month']} budget",
                                   "text": f"{who}: {b['month_to_date']:,.2f} spent in {status['month']} up to {status['day']} "
                                           f"of a budget of {b['budget']:,.2f}{credits} ({b['used_share']:.0%}); forecast by month end "
                                           f"{b['projected']:,.2f} ({b['projected_share']:.0%})."})
    return events
