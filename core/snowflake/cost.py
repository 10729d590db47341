"""Cost figures built on the questions in sql/: the same numbers for the cost page, the review page
and `snowtower cost`. Inputs are sources (see queries.py) and small aggregated frames; nothing here
pulls raw history. All times are UTC.

Money is billed credits (METERING_DAILY_HISTORY.CREDITS_BILLED: compute plus cloud services net of the
daily adjustment) times the price per credit of each service type (`Prices`), plus storage per TB-month
and data transfer per TB as their own lines. Figures from WAREHOUSE_METERING_HISTORY (per warehouse, per
hour) are metered, not billed: they cover warehouses only and say so. Windows end on the last complete
day the views have filled (`data_through`).

Here: the window and prices, how far the views reach, resource monitors' periods and usage, the bill
(`spend`), the month-end forecast, `summary` (`snowtower cost`), the figures against the period before,
budgets, top spenders, query patterns and the causes of anomalies. A warehouse request's projection is in
projection.py; the spend events `snowtower alerts` sends are in spend_alerts.py.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass, field

import pandas as pd

from core.snowflake.budgets import read_budgets
from core.snowflake.queries import ask


def window(start: dt.date, end: dt.date) -> dict:
    """Binds for the days `start`..`end` inclusive: start_time/end_time (timestamps, end exclusive) and
    start_date/end_date (dates, end exclusive)."""
    stop = end + dt.timedelta(days=1)
    return {"start_time": dt.datetime.combine(start, dt.time()), "end_time": dt.datetime.combine(stop, dt.time()),
            "start_date": start, "end_date": stop}


@dataclass(frozen=True)
class Prices:
    """What things cost, in the settings' currency: `per_credit` for every service type unless
    `per_credit_by_service` names it (METERING_DAILY_HISTORY.SERVICE_TYPE, e.g. SNOWPARK_CONTAINER_SERVICES),
    storage per TB-month (2^40 bytes, daily averages), data transfer per TB leaving the region or cloud."""
    per_credit: float
    per_credit_by_service: dict = field(default_factory=dict)
    storage_per_tb_month: float = 0.0
    transfer_per_tb: float = 0.0

    def credit(self, service_type: str) -> float:
        return float(self.per_credit_by_service.get(str(service_type).upper(), self.per_credit))

    @classmethod
    def of(cls, settings) -> "Prices":
        """From SnowTower's settings (price_per_credit, price_per_credit_by_service, storage_price_per_tb_month,
        data_transfer_price_per_tb); a settings object without the newer fields prices only credits."""
        return cls(float(settings.price_per_credit),
                   {str(k).upper(): float(v) for k, v in (getattr(settings, "price_per_credit_by_service", None) or {}).items()},
                   float(getattr(settings, "storage_price_per_tb_month", 0.0) or 0.0),
                   float(getattr(settings, "data_transfer_price_per_tb", 0.0) or 0.0))


def _utc(value) -> dt.datetime | None:
    """A TIMESTAMP_LTZ value (aware, in the session's zone) or a naive UTC one, as a naive UTC datetime."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).to_pydatetime()


@dataclass(frozen=True)
class DataThrough:
    """How far the account's metering reaches (UTC). `last_day` is the last complete day: the day before the
    one the newest metering hour ends in (WAREHOUSE_METERING_HISTORY lags up to 3 hours, so today is never
    complete); `filled_to` the end of that newest hour; `attributed_to` the end of the newest hour with
    attributed query credits (they lag up to 6 hours: idle is only known up to there)."""
    first_day: dt.date
    last_day: dt.date
    filled_to: dt.datetime
    attributed_to: dt.datetime | None

    def caption(self) -> str:
        """One line for a page: up to when the figures are complete."""
        attributed = f"; query attribution to {self.attributed_to:%Y-%m-%d %H:%M}" if self.attributed_to else ""
        return (f"Complete days up to {self.last_day:%Y-%m-%d} (UTC); metering filled to {self.filled_to:%Y-%m-%d %H:%M}"
                f"{attributed} UTC")


def data_through(source) -> DataThrough | None:
    """How far the account's metering reaches, or None when it has no complete day of metering yet."""
    frame = ask(source, "data_range")
    if not len(frame) or pd.isna(frame["FIRST_HOUR"].iloc[0]) or pd.isna(frame["FILLED_TO"].iloc[0]):
        return None
    first, filled = _utc(frame["FIRST_HOUR"].iloc[0]), _utc(frame["FILLED_TO"].iloc[0])
    if first is None or filled is None:  # not after the check above; says so to the type checker
        return None
    last = filled.date() - dt.timedelta(days=1)
    if last < first.date():
        return None
    return DataThrough(first.date(), last, filled, _utc(frame["ATTRIBUTED_TO"].iloc[0]))


def attribution_filled(source, since: dt.datetime) -> dt.datetime | None:
    """The start (UTC) of QUERY_ATTRIBUTION_HISTORY's newest query since `since`: per-query credits count
    queries up to there (the view lags up to 8 hours, more than the metering). None when it has none."""
    frame = ask(source, "attribution_filled", start_time=since)
    return _utc(frame["LAST_QUERY_START"].iloc[0]) if len(frame) else None


def metered_days(source) -> tuple[dt.date, dt.date] | None:
    """The first day the account has metering for and its last complete day, or None if it has no complete day."""
    through = data_through(source)
    return (through.first_day, through.last_day) if through else None


def last_day(source) -> dt.date | None:
    """The last complete day of metering (ACCOUNT_USAGE lags by hours: today is never complete), or None."""
    days = metered_days(source)
    return days[1] if days else None


def period_starts(day: dt.date) -> dict:
    """Starts of the day, ISO week (Monday), month and year containing `day`: when monitor quotas reset."""
    at = lambda d: dt.datetime.combine(d, dt.time())  # noqa: E731
    return {"day_start": at(day), "week_start": at(day - dt.timedelta(days=day.weekday())),
            "month_start": at(day.replace(day=1)), "year_start": at(day.replace(month=1, day=1)),
            "end_time": at(day + dt.timedelta(days=1))}


def _add_months(at: dt.datetime, months: int) -> dt.datetime:
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def monitor_period_start(frequency: str, start_time: dt.datetime | None, day: dt.date) -> dt.datetime:
    """When the current quota period of a monitor started, as of the end of `day` (UTC). A monitor's
    quota resets every DAILY / WEEKLY / MONTHLY / YEARLY interval counted from its own START_TIME (SHOW
    RESOURCE MONITORS; https://docs.snowflake.com/en/user-guide/resource-monitors); NEVER never resets.
    Without a known start (a SnowDDL config does not set one) the intervals are the calendar's: the day,
    the ISO week from Monday, the month, the year, at 00:00 UTC."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    frequency = str(frequency or "").upper()
    start = _utc(start_time)  # None without a start (None, or a NaT read from the account)
    if start is None:
        starts = period_starts(day)
        return {"DAILY": starts["day_start"], "WEEKLY": starts["week_start"], "MONTHLY": starts["month_start"]}.get(
            frequency, starts["year_start"])
    if frequency == "NEVER" or start >= end:
        return start
    if frequency in ("DAILY", "WEEKLY"):
        step = dt.timedelta(days=1 if frequency == "DAILY" else 7)
        return start + ((end - start - dt.timedelta(microseconds=1)) // step) * step
    months = 1 if frequency == "MONTHLY" else 12
    n = ((end.year - start.year) * 12 + end.month - start.month) // months * months
    at = _add_months(start, n)
    while at >= end:
        n -= months
        at = _add_months(start, n)
    return at


def monitor_usage(source, day: dt.date, warehouses: list[dict], monitors: list[dict]) -> pd.DataFrame:
    """Each resource monitor's quota (from the SnowDDL config) against the credits its warehouses used in
    its current period up to the end of `day` (monitor_period_start: from the monitor's own `start_time`
    when the monitor dict has one, else calendar periods). `warehouses`/`monitors` as
    core.snowflake.demo.describe gives them. Credits are metered warehouse credits (CREDITS_USED), which is
    what a resource monitor counts.

    Columns: MONITOR, FREQUENCY, PERIOD_START, WAREHOUSES, CREDIT_QUOTA, CREDITS_USED (credits), USED_SHARE
    (0..), STATUS ("Over quota" >= 100%, "At risk" >= 75%, else "On track")."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    asked: dict[dt.datetime, pd.DataFrame] = {}
    rows = []
    for m in monitors:
        names = sorted(w["name"] for w in warehouses if w.get("monitor") == m["name"])
        since = monitor_period_start(m["frequency"], m.get("start_time"), day)
        if since not in asked:
            asked[since] = ask(source, "warehouse_usage", start_time=since, end_time=end).set_index("WAREHOUSE_NAME")
        used = asked[since]
        credits = float(used.reindex(names)["CREDITS_USED"].fillna(0).sum()) if names else 0.0
        share = credits / m["credit_quota"] if m["credit_quota"] else 0.0
        status = "Over quota" if share >= 1 else "At risk" if share >= 0.75 else "On track"
        rows.append({"MONITOR": m["name"], "FREQUENCY": m["frequency"], "PERIOD_START": since, "WAREHOUSES": ", ".join(names) or "(none)",
                     "CREDIT_QUOTA": float(m["credit_quota"]), "CREDITS_USED": credits, "USED_SHARE": share, "STATUS": status})
    return pd.DataFrame(rows, columns=["MONITOR", "FREQUENCY", "PERIOD_START", "WAREHOUSES", "CREDIT_QUOTA", "CREDITS_USED",
                                       "USED_SHARE", "STATUS"])


@dataclass(frozen=True)
class Forecast:
    """Month-end forecast: month-to-date credits plus the recent daily rate for the days left."""
    month: str  # YYYY-MM
    month_to_date: float  # credits
    daily_rate: float  # credits per day, mean of the last 7 days with data
    days_left: int
    projected: float  # credits by month end

    def to_dict(self) -> dict:
        return asdict(self)


def forecast_month(daily: pd.DataFrame, day: dt.date) -> Forecast:
    """From daily_spend's frame (DAY, CREDITS), the credits the month containing `day` will end at."""
    frame = daily[["DAY", "CREDITS"]].copy()
    frame["DAY"] = pd.to_datetime(frame["DAY"]).dt.date
    frame = frame[frame["DAY"] <= day]
    month_start = day.replace(day=1)
    mtd = float(frame.loc[frame["DAY"] >= month_start, "CREDITS"].sum())
    recent = frame.sort_values("DAY").tail(7)
    rate = float(recent["CREDITS"].mean()) if len(recent) else 0.0
    left = calendar.monthrange(day.year, day.month)[1] - day.day
    return Forecast(month_start.strftime("%Y-%m"), mtd, rate, left, mtd + rate * left)


def spend(source, start: dt.date, end: dt.date, prices: Prices) -> dict:
    """What the account cost on the days `start`..`end` (UTC, inclusive), one line per kind, as billed:

    - one line per METERING_DAILY_HISTORY service type (WAREHOUSE_METERING, SERVERLESS_TASK,
      SNOWPARK_CONTAINER_SERVICES for compute pools, ...): CREDITS_BILLED x that type's price per credit;
    - STORAGE: TB-months (STORAGE_USAGE) x price per TB-month;
    - DATA_TRANSFER: TB (DATA_TRANSFER_HISTORY) x price per TB.

    Returns {"lines": [{"line", "unit", "quantity", "price", "money", ...}], "total_money", "billed_credits",
    "warehouse_billed_credits"}. Leaves out what ACCOUNT_USAGE does not hold: support, reader accounts'
    own views, marketplace and AI services priced per token outside METERING_DAILY_HISTORY."""
    binds = window(start, end)
    billed = ask(source, "billed_by_service", start_date=binds["start_date"], end_date=binds["end_date"])
    lines = []
    for r in billed.itertuples(index=False):
        price = prices.credit(r.SERVICE_TYPE)
        lines.append({"line": r.SERVICE_TYPE, "unit": "credits", "quantity": float(r.CREDITS_BILLED), "price": price,
                      "money": float(r.CREDITS_BILLED) * price, "credits_compute": float(r.CREDITS_COMPUTE),
                      "credits_cloud_services": float(r.CREDITS_CLOUD_SERVICES),
                      "credits_adjustment": float(r.CREDITS_ADJUSTMENT)})
    storage = ask(source, "storage_billed", start_date=binds["start_date"], end_date=binds["end_date"])
    tb_months = float(storage["TB_MONTHS"].fillna(0).iloc[0]) if len(storage) else 0.0
    lines.append({"line": "STORAGE", "unit": "TB-months", "quantity": tb_months, "price": prices.storage_per_tb_month,
                  "money": tb_months * prices.storage_per_tb_month})
    transfer = ask(source, "data_transfer", start_time=binds["start_time"], end_time=binds["end_time"])
    tb = float(transfer["TB"].fillna(0).sum())
    lines.append({"line": "DATA_TRANSFER", "unit": "TB", "quantity": tb, "price": prices.transfer_per_tb,
                  "money": tb * prices.transfer_per_tb})
    credits = [x for x in lines if x["unit"] == "credits"]
    return {"lines": lines, "total_money": sum(x["money"] for x in lines),
            "billed_credits": sum(x["quantity"] for x in credits),
            "warehouse_billed_credits": sum(x["quantity"] for x in credits if x["line"] == "WAREHOUSE_METERING")}


def summary(source, days: int, price_per_credit: float, day: dt.date | None = None, prices: Prices | None = None,
            budget_monthly: float = 0.0, budget_by_warehouse: dict | None = None,
            warehouses: list[dict] | None = None) -> dict:
    """What `snowtower cost` prints, over the last `days` days up to `day` (default: the account's last
    complete day); `start` is never before the account's first day of metering.

    - `spend`: the bill as billed (see `spend`), its `total_money` is `total_money` here;
    - `warehouses`: per warehouse, metered credits (CREDITS_USED: compute and cloud services before the daily
      adjustment), compute credits, `compute_money` (compute credits x price: warehouse compute only), idle;
    - `total_credits`: the warehouses' metered credits; `billed_credits`: all service types as billed;
    - `forecast`: month-end billed credits (all service types) and money; `anomalies`: days far above their
      trailing 28 days of warehouse credits;
    - `data_through`: up to when the views are filled;
    - `previous`: the same figures (period_figures) for as many days just before, with `change` per figure
      (with_changes), or None when those days reach before the first metered day;
    - `budget`: budget_status of the month containing the end day (`budget_monthly`, `budget_by_warehouse`, and
      Snowflake's own budgets as core.snowflake.budgets.read_budgets reads them);
    - `top_spenders` (top_spenders, five users), `query_patterns` (query_patterns, 20 patterns), `anomalies` with
      their cause (anomaly_causes: warehouse, user, query pattern);
    - `recommendations` (core.snowflake.recommend) for the config's `warehouses` (describe rows); [] without them."""
    prices = prices or Prices(price_per_credit)
    config_warehouses = warehouses  # `warehouses` is the report's list below
    through = data_through(source)
    day = day or (through.last_day if through else None)
    empty: dict = {"days": days, "start": None, "end": None, "price_per_credit": prices.per_credit, "warehouses": [],
                   "total_credits": 0.0, "billed_credits": 0.0, "total_money": 0.0, "spend": None, "forecast": None,
                   "anomalies": [], "data_through": None, "previous": None, "budget": None, "top_spenders": [],
                   "query_patterns": [], "recommendations": []}
    if day is None:
        return empty
    start = min(day, max(day - dt.timedelta(days=days - 1), through.first_day if through else day))
    usage = ask(source, "warehouse_usage", **window(start, day))
    spend_window = window(min(start, day.replace(day=1)) - dt.timedelta(days=28), day)
    anomalous = ask(source, "daily_spend", **spend_window)
    shown = anomalous[pd.to_datetime(anomalous["DAY"]).dt.date >= start]
    warehouses = [{"warehouse": r.WAREHOUSE_NAME, "credits": float(r.CREDITS_USED), "compute_credits": float(r.CREDITS_COMPUTE),
                   "compute_money": float(r.CREDITS_COMPUTE) * prices.credit("WAREHOUSE_METERING"),
                   "idle_credits": float(r.CREDITS_IDLE), "idle_share": float(r.IDLE_SHARE)}
                  for r in usage.sort_values("CREDITS_USED", ascending=False).itertuples()]
    bill = spend(source, start, day, prices)
    price = prices.credit("WAREHOUSE_METERING")
    anomalies = [{**a, "top_warehouse": a["warehouse"]} for a in anomaly_causes(source, shown, start, price)]
    prev_start, prev_end = previous_period(start, day)
    figures = period_figures(source, start, day, prices)
    previous = None
    if through and prev_start >= through.first_day:
        previous = period_figures(source, prev_start, prev_end, prices)
        previous["change"] = with_changes(figures, previous)
    from core.snowflake.recommend import recommend  # it builds on this module

    recommendations = [r.to_dict() for r in recommend(source, config_warehouses, price_per_credit, day)] if config_warehouses else []
    daily = ask(source, "billed_daily", start_date=spend_window["start_date"], end_date=spend_window["end_date"])
    forecast = forecast_month(daily, day).to_dict()
    credit_money = [x for x in bill["lines"] if x["unit"] == "credits"]
    blended = (sum(x["money"] for x in credit_money) / bill["billed_credits"]) if bill["billed_credits"] else prices.per_credit
    forecast["projected_money"] = forecast["projected"] * blended
    forecast["basis"] = "billed credits per day, all service types (METERING_DAILY_HISTORY); storage and transfer not included"
    return {**empty, "start": start.isoformat(), "end": day.isoformat(), "warehouses": warehouses,
            "total_credits": sum(w["credits"] for w in warehouses), "billed_credits": bill["billed_credits"],
            "total_money": bill["total_money"], "spend": bill, "forecast": forecast, "anomalies": anomalies,
            "previous": previous, "budget": budget_status(source, day, prices, budget_monthly, budget_by_warehouse,
                                   read_budgets(source)),
            "top_spenders": top_spenders(source, start, day, price), "query_patterns": query_patterns(source, start, day, price),
            "recommendations": recommendations,
            "data_through": {"last_day": through.last_day.isoformat(), "filled_to": through.filled_to.isoformat(),
                             "attributed_to": through.attributed_to.isoformat() if through.attributed_to else None}
            if through else None}


# --- meaning: the same figures for the period before, the budget, who and what spends ---------------------------------

def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The days just before `start`..`end` (inclusive), as many of them: 1-30 Nov -> 2-31 Oct."""
    length = (end - start).days + 1
    return start - dt.timedelta(days=length), start - dt.timedelta(days=1)


def change(current: float | None, previous: float | None) -> float | None:
    """The relative change of `current` against `previous` (0.25 is +25 %); None when either is unknown or
    `previous` is 0 (no change can be stated against nothing)."""
    if current is None or previous is None or not previous:
        return None
    return (current - previous) / previous


def period_figures(source, start: dt.date, end: dt.date, prices: Prices, warehouses: list[str] | None = None) -> dict:
    """The cost page's headline figures for the days `start`..`end` (UTC, inclusive):
    `credits` (warehouse credits as metered, WAREHOUSE_METERING_HISTORY.CREDITS_USED), `compute_credits`,
    `compute_money` (compute credits x the WAREHOUSE_METERING price), `idle_credits`, `idle_share` (0..1 of
    compute whose attribution is in; None without any), each of the named `warehouses` only (None: all);
    `total_money` and `billed_credits`: the whole account as billed (see `spend`), never filtered."""
    usage = ask(source, "warehouse_usage", **window(start, end))
    if warehouses is not None:
        usage = usage[usage["WAREHOUSE_NAME"].isin(warehouses)]
    compute = float(usage["CREDITS_COMPUTE"].sum())
    idle = float(usage["CREDITS_IDLE"].sum())
    attributed = compute - float(usage["CREDITS_NOT_YET_ATTRIBUTED"].sum())
    bill = spend(source, start, end, prices)
    return {"start": start.isoformat(), "end": end.isoformat(), "credits": float(usage["CREDITS_USED"].sum()),
            "compute_credits": compute, "compute_money": compute * prices.credit("WAREHOUSE_METERING"),
            "idle_credits": idle, "idle_share": idle / attributed if attributed > 0 else None,
            "total_money": bill["total_money"], "billed_credits": bill["billed_credits"]}


def with_changes(current: dict, previous: dict) -> dict:
    """{figure: relative change} for every number `period_figures` gives (see `change`); `idle_share` is a
    difference in points (0.05 is 5 points more idle), not a relative change."""
    out = {k: change(current[k], previous[k]) for k in ("credits", "compute_credits", "compute_money", "idle_credits",
                                                           "total_money", "billed_credits")}
    out["idle_share"] = (None if current["idle_share"] is None or previous["idle_share"] is None
                         else current["idle_share"] - previous["idle_share"])
    return out


def _blended(bill: dict, prices: Prices) -> float:
    """Money per billed credit over a bill (`spend`): service types priced apart weigh in; the credit price without credits."""
    money = sum(x["money"] for x in bill["lines"] if x["unit"] == "credits")
    return money / bill["billed_credits"] if bill["billed_credits"] else prices.per_credit


def _status(used: float, projected: float, budget: float) -> str:
    return "Over budget" if used >= budget else "At risk" if projected >= budget else "On track"


def budget_status(source, day: dt.date, prices: Prices, monthly: float = 0.0,
                  by_warehouse: dict[str, float] | None = None, snowflake: dict | None = None) -> dict:
    """The month containing `day` (UTC) against its budgets, up to the end of `day`.

    - `account` (None without `monthly`): the settings' budget_monthly: `budget`, `month_to_date` (billed credits of
      every service type at their prices, METERING_DAILY_HISTORY), `projected` (forecast_month's credits at the
      month's blended price), `used_share` and `projected_share` (0..), `status` ("Over budget" when the month to
      date reached the budget, "At risk" when the forecast does, else "On track");
    - `warehouses`: per warehouse of `by_warehouse`, the same with metered credits (WAREHOUSE_METERING_HISTORY) at
      the WAREHOUSE_METERING price, projected at its month-to-date daily rate;
    - `snowflake`: Snowflake's own budgets as budgets.read_budgets gave them (`snowflake`), each with a limit:
      {"budget_of", "source", "budget_credits" (the limit), "budget" (the limit at the month's price),
      "month_to_date_credits", "month_to_date", "projected", "used_share", "projected_share", "status"}. The account
      budget's month to date is the account's billed credits (METERING_DAILY_HISTORY, as `account`); a custom
      budget's is the metered credits of the warehouses it monitors, None (status "Spend not readable") when what
      it monitors cannot be read or is not only warehouses. Budgets without a limit are left out;
    - `headline`: the budget a reader should see first: Snowflake's account budget when it has a limit (what
      Snowflake itself notifies on), else the settings' `account` (None without either);
    - `notes`: why a Snowflake budget is not shown (no limit, not readable), as plain sentences.
    Money in the settings' currency; storage and transfer are not in any of them."""
    month_start = day.replace(day=1)
    month = month_start.strftime("%Y-%m")
    out: dict = {"month": month, "day": day.isoformat(), "account": None, "warehouses": [], "snowflake": [],
                 "headline": None, "notes": []}
    snowflake = snowflake or {}
    sf_account = (snowflake.get("account") or {})
    elapsed, days = day.day, calendar.monthrange(day.year, day.month)[1]
    fc: Forecast | None = None  # the month's forecast and blended price, read when a budget of the account needs them
    blended = prices.per_credit
    if monthly or sf_account.get("limit_credits") is not None:
        bill = spend(source, month_start, day, prices)
        blended = _blended(bill, prices)
        daily = ask(source, "billed_daily", start_date=month_start - dt.timedelta(days=7), end_date=day + dt.timedelta(days=1))
        fc = forecast_month(daily, day)
    if monthly and fc is not None:
        used = fc.month_to_date * blended
        projected = fc.projected * blended
        out["account"] = {"budget": float(monthly), "month_to_date": used, "projected": projected,
                          "used_share": used / monthly, "projected_share": projected / monthly,
                          "status": _status(used, projected, monthly)}
    wh_price = prices.credit("WAREHOUSE_METERING")
    custom = [b for b in snowflake.get("custom") or [] if b.get("limit_credits") is not None]
    if by_warehouse or any(b.get("warehouses") for b in custom):
        usage = ask(source, "warehouse_usage", **window(month_start, day)).set_index("WAREHOUSE_NAME")
    else:  # nothing below reads it
        usage = pd.DataFrame({"CREDITS_USED": pd.Series(dtype=float)})
    for name, budget in sorted((by_warehouse or {}).items()):
        used = float(usage["CREDITS_USED"].get(name, 0.0)) * wh_price
        projected = used / elapsed * days
        out["warehouses"].append({"warehouse": name, "budget": float(budget), "month_to_date": used, "projected": projected,
                                  "used_share": used / budget if budget else None,
                                  "projected_share": projected / budget if budget else None,
                                  "status": _status(used, projected, budget) if budget else "No budget"})

    def row(budget_of: str, source_name: str, limit: float, used: float | None, projected: float | None, price: float) -> dict:
        if used is None or projected is None:  # what the budget monitors cannot be read
            return {"budget_of": budget_of, "source": source_name, "budget_credits": limit, "budget": limit * price,
                    "month_to_date_credits": used, "month_to_date": None, "projected": None, "used_share": None,
                    "projected_share": None, "status": "Spend not readable"}
        return {"budget_of": budget_of, "source": source_name, "budget_credits": limit, "budget": limit * price,
                "month_to_date_credits": used, "month_to_date": used * price, "projected": projected * price,
                "used_share": used / limit if limit else None, "projected_share": projected / limit if limit else None,
                "status": _status(used, projected, limit) if limit else "No budget"}

    if sf_account.get("limit_credits") is not None and fc is not None:
        out["snowflake"].append(row("Account (Snowflake budget)", f"Snowflake: {sf_account['name']}",
                                    float(sf_account["limit_credits"]), fc.month_to_date, fc.projected, blended))
    elif sf_account.get("note"):
        out["notes"].append(sf_account["note"])
    for b in custom:
        whs = b.get("warehouses")
        monitored: float | None = None  # credits of what it monitors; None when that cannot be read
        if whs and not b.get("other_objects"):
            monitored = sum(float(usage["CREDITS_USED"].get(w, 0.0)) for w in whs)
        out["snowflake"].append(row(f"{', '.join(whs) if whs else b['name']} (Snowflake budget)", f"Snowflake: {b['name']}",
                                    float(b["limit_credits"]), monitored,
                                    monitored / elapsed * days if monitored is not None else None, wh_price))
        if b.get("note"):
            out["notes"].append(f"{b['name']}: {b['note']}.")
    for b in snowflake.get("custom") or []:
        if b.get("limit_credits") is None and b.get("note"):
            out["notes"].append(f"{b['name']}: {b['note']}.")
    if snowflake.get("custom_note"):
        out["notes"].append(snowflake["custom_note"])
    if out["snowflake"] and out["snowflake"][0]["budget_of"].startswith("Account"):
        out["headline"] = out["snowflake"][0]
    elif out["account"] and fc is not None:
        out["headline"] = {"budget_of": "Account (setting budget_monthly)", "source": "Setting: budget_monthly",
                           "budget_credits": None, "month_to_date_credits": fc.month_to_date, **out["account"]}
    return out


def top_spenders(source, start: dt.date, end: dt.date, price: float, n: int = 5,
                 warehouses: list[str] | None = None) -> list[dict]:
    """The `n` users whose queries were attributed the most compute credits on `start`..`end` (UTC), largest
    first: {"user", "credits", "money" (credits x `price`), "queries", "share" (0..1 of all attributed credits),
    "warehouse" (where most of it ran)}. From QUERY_ATTRIBUTION_HISTORY: idle time is in no one's figure."""
    frame = ask(source, "credits_by_user", **window(start, end))
    if warehouses is not None:
        frame = frame[frame["WAREHOUSE_NAME"].isin(warehouses)]
    if not len(frame):
        return []
    total = float(frame["CREDITS"].sum())
    main = frame.sort_values("CREDITS", ascending=False).drop_duplicates("USER_NAME").set_index("USER_NAME")["WAREHOUSE_NAME"]
    per_user = frame.groupby("USER_NAME", as_index=False)[["CREDITS", "QUERIES"]].sum()
    per_user = per_user.sort_values(["CREDITS", "USER_NAME"], ascending=[False, True]).head(n)
    return [{"user": r.USER_NAME, "credits": float(r.CREDITS), "money": float(r.CREDITS) * price, "queries": int(r.QUERIES),
             "share": float(r.CREDITS) / total if total else 0.0, "warehouse": main[r.USER_NAME]}
            for r in per_user.itertuples(index=False)]


def query_patterns(source, start: dt.date, end: dt.date, price: float, top_n: int = 20,
                   warehouses: list[str] | None = None) -> list[dict]:
    """The `top_n` costliest query patterns on `start`..`end` (UTC): repeats that differ only in literals share
    QUERY_HISTORY.QUERY_PARAMETERIZED_HASH. Each {"pattern" (the hash), "queries", "credits", "average_credits",
    "money", "average_seconds", "users", "top_user", "warehouse" (where most of its credits ran), "sample_text"
    (the newest run, 300 characters)}; credits attributed to queries (idle not included)."""
    frame = ask(source, "query_patterns", **window(start, end), top_n=int(top_n) * (4 if warehouses is not None else 1))
    if warehouses is not None:
        frame = frame[frame["WAREHOUSE_NAME"].isin(warehouses)].head(int(top_n))
    return [{"pattern": r.PATTERN, "queries": int(r.QUERIES), "credits": float(r.CREDITS),
             "average_credits": float(r.AVERAGE_CREDITS), "money": float(r.CREDITS) * price,
             "average_seconds": float(r.AVERAGE_SECONDS or 0.0), "users": int(r.USERS), "top_user": r.TOP_USER,
             "warehouse": r.WAREHOUSE_NAME, "sample_text": r.SAMPLE_TEXT} for r in frame.itertuples(index=False)]


def anomaly_causes(source, spend_frame: pd.DataFrame, start: dt.date, price: float) -> list[dict]:
    """Each anomalous day of daily_spend's frame on or after `start`, with its cause: the warehouse that used the
    most that day, the user whose queries it attributed the most to, and the costliest query pattern there.
    {"day", "credits", "baseline", "z_score", "warehouse", "warehouse_credits", "user", "user_credits", "pattern",
    "pattern_queries", "pattern_credits", "pattern_text", "text" (one sentence)}; user and pattern are None when
    QUERY_ATTRIBUTION_HISTORY has no query of that day yet (it lags up to 8 hours)."""
    if not len(spend_frame):
        return []
    frame = spend_frame[(pd.to_datetime(spend_frame["DAY"]).dt.date >= start) & spend_frame["IS_ANOMALY"].fillna(False).astype(bool)]
    out = []
    for r in frame.itertuples(index=False):
        day = pd.Timestamp(r.DAY).date()
        wh = r.TOP_WAREHOUSE
        spenders = top_spenders(source, day, day, price, n=1, warehouses=[wh])
        patterns = query_patterns(source, day, day, price, top_n=1, warehouses=[wh])
        user = spenders[0] if spenders else None
        pattern = patterns[0] if patterns else None
        text = (f"{day:%Y-%m-%d}: {float(r.CREDITS):,.0f} credits against a usual {float(r.BASELINE_CREDITS):,.0f} "
                f"(z-score {float(r.Z_SCORE):,.1f}); {wh} used {float(r.TOP_WAREHOUSE_CREDITS):,.0f}")
        if user:
            text += f", most of it {user['user']}'s queries ({user['credits']:,.0f} credits)"
        if pattern:
            text += f", pattern {str(pattern['pattern'])[:8]} run {pattern['queries']:,} times: {pattern['sample_text'][:80]}"
        out.append({"day": day.isoformat(), "credits": float(r.CREDITS), "baseline": float(r.BASELINE_CREDITS),
                    "z_score": float(r.Z_SCORE), "warehouse": wh, "warehouse_credits": float(r.TOP_WAREHOUSE_CREDITS),
                    "user": user["user"] if user else None, "user_credits": user["credits"] if user else None,
                    "pattern": pattern["pattern"] if pattern else None,
                    "pattern_queries": pattern["queries"] if pattern else None,
                    "pattern_credits": pattern["credits"] if pattern else None,
                    "pattern_text": pattern["sample_text"] if pattern else None, "text": text})
    return out
