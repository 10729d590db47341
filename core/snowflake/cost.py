"""Cost figures built on the questions in sql/: the same numbers for the cost page, the review page
and `snowtower cost`. Inputs are sources (see queries.py) and small aggregated frames; nothing here
pulls raw history. Money is credits x price per credit (a setting); all times are UTC.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass

import pandas as pd

from core.snowflake.queries import ask

DAYS_PER_MONTH = 365.25 / 12
PROJECTION_DAYS = 30  # a warehouse change is projected from its last 30 days of metering
# Snowflake's standard warehouse sizes as SnowDDL writes them, with credits per hour (per cluster).
CREDITS_PER_HOUR = {"XSMALL": 1, "SMALL": 2, "MEDIUM": 4, "LARGE": 8, "XLARGE": 16, "XXLARGE": 32,
                    "XXXLARGE": 64, "X4LARGE": 128, "X5LARGE": 256, "X6LARGE": 512}


def window(start: dt.date, end: dt.date) -> dict:
    """Binds for the days `start`..`end` inclusive: start_time/end_time (timestamps, end exclusive) and
    start_date/end_date (dates, end exclusive)."""
    stop = end + dt.timedelta(days=1)
    return {"start_time": dt.datetime.combine(start, dt.time()), "end_time": dt.datetime.combine(stop, dt.time()),
            "start_date": start, "end_date": stop}


def metered_days(source) -> tuple[dt.date, dt.date] | None:
    """The first and last day the account has metering for (ACCOUNT_USAGE lags by hours), or None if none."""
    frame = ask(source, "data_range")
    if not len(frame) or pd.isna(frame["FIRST_HOUR"].iloc[0]) or pd.isna(frame["LAST_HOUR"].iloc[0]):
        return None
    return pd.Timestamp(frame["FIRST_HOUR"].iloc[0]).date(), pd.Timestamp(frame["LAST_HOUR"].iloc[0]).date()


def last_day(source) -> dt.date | None:
    """The last day the account has metering for (ACCOUNT_USAGE lags by hours), or None if it has none."""
    days = metered_days(source)
    return days[1] if days else None


def period_starts(day: dt.date) -> dict:
    """Starts of the day, ISO week (Monday), month and year containing `day`: when monitor quotas reset."""
    at = lambda d: dt.datetime.combine(d, dt.time())  # noqa: E731
    return {"day_start": at(day), "week_start": at(day - dt.timedelta(days=day.weekday())),
            "month_start": at(day.replace(day=1)), "year_start": at(day.replace(month=1, day=1)),
            "end_time": at(day + dt.timedelta(days=1))}


_PERIOD_COLUMN = {"DAILY": "CREDITS_DAY", "WEEKLY": "CREDITS_WEEK", "MONTHLY": "CREDITS_MONTH", "YEARLY": "CREDITS_YEAR"}


def monitor_usage(source, day: dt.date, warehouses: list[dict], monitors: list[dict]) -> pd.DataFrame:
    """Each resource monitor's quota (from the SnowDDL config) against the credits its warehouses used in
    the current period up to `day`. `warehouses`/`monitors` as core.snowflake.demo.describe gives them.

    Columns: MONITOR, FREQUENCY, WAREHOUSES, CREDIT_QUOTA, CREDITS_USED (credits), USED_SHARE (0..),
    STATUS ("Over quota" >= 100%, "At risk" >= 75%, else "On track"). Monitors with frequency NEVER
    compare against the year so far."""
    used = ask(source, "monitor_usage", **period_starts(day)).set_index("WAREHOUSE_NAME")
    rows = []
    for m in monitors:
        names = sorted(w["name"] for w in warehouses if w.get("monitor") == m["name"])
        column = _PERIOD_COLUMN.get(m["frequency"], "CREDITS_YEAR")
        credits = float(used.reindex(names)[column].fillna(0).sum()) if names else 0.0
        share = credits / m["credit_quota"] if m["credit_quota"] else 0.0
        status = "Over quota" if share >= 1 else "At risk" if share >= 0.75 else "On track"
        rows.append({"MONITOR": m["name"], "FREQUENCY": m["frequency"], "WAREHOUSES": ", ".join(names) or "(none)",
                     "CREDIT_QUOTA": float(m["credit_quota"]), "CREDITS_USED": credits, "USED_SHARE": share, "STATUS": status})
    return pd.DataFrame(rows, columns=["MONITOR", "FREQUENCY", "WAREHOUSES", "CREDIT_QUOTA", "CREDITS_USED", "USED_SHARE", "STATUS"])


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


@dataclass(frozen=True)
class Projection:
    """A warehouse request's projected monthly cost (credits and money at the price per credit)."""
    warehouse: str
    current_credits: float | None  # per month today; None for a new warehouse
    projected_credits: float  # per month after the change
    price_per_credit: float
    estimate: bool  # True when there is no metering of this warehouse to project from
    basis: str  # one sentence: what the figure rests on

    @property
    def current_money(self) -> float | None:
        return None if self.current_credits is None else self.current_credits * self.price_per_credit

    @property
    def projected_money(self) -> float:
        return self.projected_credits * self.price_per_credit

    def to_dict(self) -> dict:
        return {**asdict(self), "current_money": self.current_money, "projected_money": self.projected_money}


def credits_per_hour(size: str | None) -> int | None:
    """Credits per hour per cluster of a size as SnowDDL writes it (XSMALL, X-SMALL ...), None if unknown."""
    return CREDITS_PER_HOUR.get(str(size or "").upper().replace("-", "")) if size else None


def project_warehouse(source, name: str, size: str, auto_suspend: int | None, price_per_credit: float,
                      old_size: str | None = None, old_auto_suspend: int | None = None, min_clusters: int = 1,
                      day: dt.date | None = None) -> Projection:
    """Projected monthly credits of warehouse `name` at `size` and `auto_suspend` (seconds).

    From its last PROJECTION_DAYS days of metering up to `day` (default: the account's last day): the
    query share of compute scales with the size's credits per hour (same running time), the idle share
    also with the auto-suspend delay (each suspension waits that long), cloud services stay. A warehouse
    without metering (a new one) is an estimate: the median running hours of the account's warehouses
    at the requested size's rate and minimum clusters."""
    day = day or last_day(source) or dt.datetime.now(dt.timezone.utc).date()
    usage = ask(source, "warehouse_usage", **window(day - dt.timedelta(days=PROJECTION_DAYS - 1), day))
    per_month = DAYS_PER_MONTH / PROJECTION_DAYS
    new_rate = credits_per_hour(size) or 1
    mine = usage[usage["WAREHOUSE_NAME"] == name]
    if len(mine) and float(mine["CREDITS_USED"].iloc[0]) > 0:
        row = mine.iloc[0]
        old_rate = credits_per_hour(old_size) or new_rate
        size_factor = new_rate / old_rate
        suspend_factor = (auto_suspend / old_auto_suspend) if auto_suspend and old_auto_suspend else 1.0
        current = float(row["CREDITS_USED"]) * per_month
        projected = (float(row["CREDITS_QUERIES"]) * size_factor + float(row["CREDITS_IDLE"]) * size_factor * suspend_factor
                     + float(row["CREDITS_CLOUD_SERVICES"])) * per_month
        basis = (f"{name}'s last {PROJECTION_DAYS} days of metering to {day:%Y-%m-%d}: {float(row['CREDITS_USED']):,.1f} credits, "
                 f"{int(row['RUNNING_HOURS'])} running hours, {float(row['IDLE_SHARE']):.0%} idle")
        return Projection(name, current, projected, price_per_credit, False, basis)
    others = usage[usage["WAREHOUSE_NAME"] != name]
    hours = float(others["RUNNING_HOURS"].median()) if len(others) else 0.0
    projected = hours * new_rate * max(1, min_clusters) * per_month
    basis = (f"estimate: {name} has no metering yet; assumes the median warehouse's {hours:.0f} running hours "
             f"in the last {PROJECTION_DAYS} days at {new_rate} credit(s)/hour")
    return Projection(name, None, projected, price_per_credit, True, basis)


def summary(source, days: int, price_per_credit: float, day: dt.date | None = None) -> dict:
    """What `snowtower cost` prints: per-warehouse credits, money and idle over the last `days` days up to
    `day` (default: the account's last day), totals, the month-end forecast and the anomalous days.
    `start` is the first day covered: never before the account's first day of metering."""
    metered = metered_days(source)
    day = day or (metered[1] if metered else None)
    if day is None:
        return {"days": days, "start": None, "end": None, "price_per_credit": price_per_credit, "warehouses": [],
                "total_credits": 0.0, "total_money": 0.0, "forecast": None, "anomalies": []}
    start = min(day, max(day - dt.timedelta(days=days - 1), metered[0] if metered else day))
    usage = ask(source, "warehouse_usage", **window(start, day))
    spend = ask(source, "daily_spend", **window(min(start, day.replace(day=1)) - dt.timedelta(days=28), day))
    shown = spend[pd.to_datetime(spend["DAY"]).dt.date >= start]
    warehouses = [{"warehouse": r.WAREHOUSE_NAME, "credits": float(r.CREDITS_USED), "money": float(r.CREDITS_USED) * price_per_credit,
                   "idle_credits": float(r.CREDITS_IDLE), "idle_share": float(r.IDLE_SHARE)}
                  for r in usage.sort_values("CREDITS_USED", ascending=False).itertuples()]
    total = sum(w["credits"] for w in warehouses)
    anomalies = [{"day": str(pd.Timestamp(r.DAY).date()), "credits": float(r.CREDITS), "baseline": float(r.BASELINE_CREDITS),
                  "top_warehouse": r.TOP_WAREHOUSE} for r in shown[shown["IS_ANOMALY"].fillna(False).astype(bool)].itertuples()]
    forecast = forecast_month(spend, day).to_dict()
    forecast["projected_money"] = forecast["projected"] * price_per_credit
    return {"days": days, "start": start.isoformat(), "end": day.isoformat(), "price_per_credit": price_per_credit,
            "warehouses": warehouses, "total_credits": total, "total_money": total * price_per_credit,
            "forecast": forecast, "anomalies": anomalies}


WAREHOUSE_RECIPES = ("new-warehouse", "change-warehouse")


def project_request(source, recipe: str, request: dict, warehouses: list[dict], price_per_credit: float,
                    day: dt.date | None = None) -> Projection | None:
    """The projection for a warehouse request (recipe new-warehouse or change-warehouse, `request` as the
    recipe's to_dict gives it), against the base config's `warehouses` (core.snowflake.demo.describe);
    None for any other recipe or a request without a warehouse name."""
    name = str(request.get("name") or "").upper()
    if recipe not in WAREHOUSE_RECIPES or not name:
        return None
    if recipe == "new-warehouse":
        return project_warehouse(source, name, str(request.get("size") or "XSMALL"), request.get("auto_suspend"),
                                 price_per_credit, min_clusters=int(request.get("min_cluster_count") or 1), day=day)
    now = next((w for w in warehouses if w["name"] == name), {})
    return project_warehouse(source, name, str(request.get("size") or now.get("size") or "XSMALL"),
                             request.get("auto_suspend") or now.get("auto_suspend"), price_per_credit,
                             old_size=now.get("size"), old_auto_suspend=now.get("auto_suspend"), day=day)
