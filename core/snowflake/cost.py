"""Cost figures built on the questions in sql/: the same numbers for the cost page, the review page
and `snowtower cost`. Inputs are sources (see queries.py) and small aggregated frames; nothing here
pulls raw history. All times are UTC.

Money is billed credits (METERING_DAILY_HISTORY.CREDITS_BILLED: compute plus cloud services net of the
daily adjustment) times the price per credit of each service type (`Prices`), plus storage per TB-month
and data transfer per TB as their own lines. Figures from WAREHOUSE_METERING_HISTORY (per warehouse, per
hour) are metered, not billed: they cover warehouses only and say so. Windows end on the last complete
day the views have filled (`data_through`).
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import asdict, dataclass, field

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
    if start_time is None:
        starts = period_starts(day)
        return {"DAILY": starts["day_start"], "WEEKLY": starts["week_start"], "MONTHLY": starts["month_start"]}.get(
            frequency, starts["year_start"])
    start = _utc(start_time)
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


def compute_hours(usage: pd.DataFrame, sizes: dict[str, str]) -> pd.Series:
    """Compute-equivalent hours of each warehouse in warehouse_usage's frame: its compute credits divided by
    its size's credits per hour (cluster-hours at full rate). Not RUNNING_HOURS: an hour with any compute
    is not an hour of running (a warehouse up 4 minutes an hour counts 24 hours a day there). Warehouses
    whose size is unknown are left out. Index: WAREHOUSE_NAME."""
    out = {}
    for row in usage.itertuples(index=False):
        rate = credits_per_hour(sizes.get(row.WAREHOUSE_NAME))
        if rate:
            out[row.WAREHOUSE_NAME] = float(row.CREDITS_COMPUTE) / rate
    return pd.Series(out, dtype=float)


def project_warehouse(source, name: str, size: str, auto_suspend: int | None, price_per_credit: float,
                      old_size: str | None = None, old_auto_suspend: int | None = None, min_clusters: int = 1,
                      day: dt.date | None = None, sizes: dict[str, str] | None = None) -> Projection:
    """Projected monthly credits of warehouse `name` at `size` and `auto_suspend` (seconds).

    From its last PROJECTION_DAYS days of metering up to `day` (default: the account's last complete day):
    the query share of compute scales with the size's credits per hour (same running time), the idle share
    also with the auto-suspend delay (each suspension waits that long), cloud services stay. A warehouse
    without metering (a new one) is an estimate: the median compute-equivalent hours (compute_hours) of the
    account's other warehouses whose size `sizes` gives, at the requested size's rate and minimum clusters."""
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
                 f"{float(row['CREDITS_COMPUTE']) / old_rate:,.0f} compute-equivalent hours, {float(row['IDLE_SHARE']):.0%} idle")
        return Projection(name, current, projected, price_per_credit, False, basis)
    hours_each = compute_hours(usage[usage["WAREHOUSE_NAME"] != name], sizes or {})
    hours = float(hours_each.median()) if len(hours_each) else 0.0
    projected = hours * new_rate * max(1, min_clusters) * per_month
    basis = (f"estimate: {name} has no metering yet; assumes the median warehouse's {hours:,.0f} compute-equivalent hours "
             f"(compute credits / credits per hour, {len(hours_each)} warehouse(s)) in the last {PROJECTION_DAYS} days "
             f"at {new_rate} credit(s)/hour")
    return Projection(name, None, projected, price_per_credit, True, basis)


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


def summary(source, days: int, price_per_credit: float, day: dt.date | None = None, prices: Prices | None = None) -> dict:
    """What `snowtower cost` prints, over the last `days` days up to `day` (default: the account's last
    complete day); `start` is never before the account's first day of metering.

    - `spend`: the bill as billed (see `spend`), its `total_money` is `total_money` here;
    - `warehouses`: per warehouse, metered credits (CREDITS_USED: compute and cloud services before the daily
      adjustment), compute credits, `compute_money` (compute credits x price: warehouse compute only), idle;
    - `total_credits`: the warehouses' metered credits; `billed_credits`: all service types as billed;
    - `forecast`: month-end billed credits (all service types) and money; `anomalies`: days far above their
      trailing 28 days of warehouse credits;
    - `data_through`: up to when the views are filled."""
    prices = prices or Prices(price_per_credit)
    through = data_through(source)
    day = day or (through.last_day if through else None)
    empty = {"days": days, "start": None, "end": None, "price_per_credit": prices.per_credit, "warehouses": [],
             "total_credits": 0.0, "billed_credits": 0.0, "total_money": 0.0, "spend": None, "forecast": None,
             "anomalies": [], "data_through": None}
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
    anomalies = [{"day": str(pd.Timestamp(r.DAY).date()), "credits": float(r.CREDITS), "baseline": float(r.BASELINE_CREDITS),
                  "top_warehouse": r.TOP_WAREHOUSE} for r in shown[shown["IS_ANOMALY"].fillna(False).astype(bool)].itertuples()]
    daily = ask(source, "billed_daily", start_date=spend_window["start_date"], end_date=spend_window["end_date"])
    forecast = forecast_month(daily, day).to_dict()
    credit_money = [x for x in bill["lines"] if x["unit"] == "credits"]
    blended = (sum(x["money"] for x in credit_money) / bill["billed_credits"]) if bill["billed_credits"] else prices.per_credit
    forecast["projected_money"] = forecast["projected"] * blended
    forecast["basis"] = "billed credits per day, all service types (METERING_DAILY_HISTORY); storage and transfer not included"
    return {**empty, "start": start.isoformat(), "end": day.isoformat(), "warehouses": warehouses,
            "total_credits": sum(w["credits"] for w in warehouses), "billed_credits": bill["billed_credits"],
            "total_money": bill["total_money"], "spend": bill, "forecast": forecast, "anomalies": anomalies,
            "data_through": {"last_day": through.last_day.isoformat(), "filled_to": through.filled_to.isoformat(),
                             "attributed_to": through.attributed_to.isoformat() if through.attributed_to else None}
            if through else None}


WAREHOUSE_RECIPES = ("new-warehouse", "change-warehouse")


def project_request(source, recipe: str, request: dict, warehouses: list[dict], price_per_credit: float,
                    day: dt.date | None = None) -> Projection | None:
    """The projection for a warehouse request (recipe new-warehouse or change-warehouse, `request` as the
    recipe's to_dict gives it), against the base config's `warehouses` (core.snowflake.demo.describe);
    None for any other recipe or a request without a warehouse name."""
    name = str(request.get("name") or "").upper()
    if recipe not in WAREHOUSE_RECIPES or not name:
        return None
    sizes = {w["name"]: w.get("size") for w in warehouses}
    if recipe == "new-warehouse":
        return project_warehouse(source, name, str(request.get("size") or "XSMALL"), request.get("auto_suspend"),
                                 price_per_credit, min_clusters=int(request.get("min_cluster_count") or 1), day=day,
                                 sizes=sizes)
    now = next((w for w in warehouses if w["name"] == name), {})
    return project_warehouse(source, name, str(request.get("size") or now.get("size") or "XSMALL"),
                             request.get("auto_suspend") or now.get("auto_suspend"), price_per_credit,
                             old_size=now.get("size"), old_auto_suspend=now.get("auto_suspend"), day=day, sizes=sizes)
