"""What a warehouse request will cost: a Projection (monthly credits and money today and after the change) for
the recipes new-warehouse, change-warehouse and remove-warehouse, from the warehouse's last PROJECTION_DAYS days
of metering (WAREHOUSE_METERING_HISTORY, credits) or, for a new warehouse, an estimate from the account's other
warehouses; and Snowflake's credits per hour of each warehouse size (CREDITS_PER_HOUR, credits_per_hour). The
same function serves the preview, the review and the recommendations' fixes. All times are UTC."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pandas as pd

from core.snowflake.cost import last_day, window
from core.snowflake.queries import ask


DAYS_PER_MONTH = 365.25 / 12
PROJECTION_DAYS = 30  # a warehouse change is projected from its last 30 days of metering
# Snowflake's standard warehouse sizes as SnowDDL writes them, with credits per hour (per cluster).
CREDITS_PER_HOUR = {"XSMALL": 1, "SMALL": 2, "MEDIUM": 4, "LARGE": 8, "XLARGE": 16, "XXLARGE": 32,
                    "XXXLARGE": 64, "X4LARGE": 128, "X5LARGE": 256, "X6LARGE": 512}


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


def compute_hours(usage: pd.DataFrame, sizes: Mapping[str, str | None]) -> pd.Series:
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
                      day: dt.date | None = None, sizes: Mapping[str, str | None] | None = None) -> Projection:
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


WAREHOUSE_RECIPES = ("new-warehouse", "change-warehouse", "remove-warehouse")


def project_request(source, recipe: str, request: dict, warehouses: list[dict], price_per_credit: float,
                    day: dt.date | None = None) -> Projection | None:
    """The projection for a warehouse request (recipe new-warehouse, change-warehouse or remove-warehouse, `request`
    as the recipe's to_dict gives it), against the base config's `warehouses` (core.snowflake.demo.describe);
    None for any other recipe or a request without a warehouse name. A removed warehouse costs today what it metered
    in its last PROJECTION_DAYS days (WAREHOUSE_METERING_HISTORY, per month; 0 when it did not run) and nothing after.
    The request's name may be the config's (without the env prefix): the warehouse row with that config_name is meant."""
    name = str(request.get("name") or "").upper()
    if recipe not in WAREHOUSE_RECIPES or not name:
        return None
    # A recipe's name is the config's, without SnowDDL's env prefix; the account's views (and `warehouses`' name)
    # carry the prefix: the row whose config_name it is gives the account's name.
    if not any(w["name"] == name for w in warehouses):
        name = next((w["name"] for w in warehouses if str(w.get("config_name") or "").upper() == name), name)
    if recipe == "remove-warehouse":
        day = day or last_day(source) or dt.datetime.now(dt.timezone.utc).date()
        usage = ask(source, "warehouse_usage", **window(day - dt.timedelta(days=PROJECTION_DAYS - 1), day))
        mine = usage[usage["WAREHOUSE_NAME"] == name]
        used = float(mine["CREDITS_USED"].iloc[0]) if len(mine) else 0.0
        basis = (f"{name}'s last {PROJECTION_DAYS} days of metering to {day:%Y-%m-%d}: {used:,.1f} credits"
                 + (" (it did not run: removing it saves nothing now, it only stops anyone running up credits on it)"
                    if not used else "") + "; removed, it costs nothing")
        return Projection(name, used * DAYS_PER_MONTH / PROJECTION_DAYS, 0.0, price_per_credit, False, basis)
    sizes = {w["name"]: w.get("size") for w in warehouses}
    if recipe == "new-warehouse":
        return project_warehouse(source, name, str(request.get("size") or "XSMALL"), request.get("auto_suspend"),
                                 price_per_credit, min_clusters=int(request.get("min_cluster_count") or 1), day=day,
                                 sizes=sizes)
    now = next((w for w in warehouses if w["name"] == name), {})
    return project_warehouse(source, name, str(request.get("size") or now.get("size") or "XSMALL"),
                             request.get("auto_suspend") or now.get("auto_suspend"), price_per_credit,
                             old_size=now.get("size"), old_auto_suspend=now.get("auto_suspend"), day=day, sizes=sizes)
