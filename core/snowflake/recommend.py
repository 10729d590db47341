"""Recommendations with a fix: warehouses that cost more than their work needs, each with its estimated
monthly saving and the change-warehouse (or remove-warehouse) request that realises it (core.findings.Fix, which the portal opens
filled in and previewed, as a finding's Fix).

The saving is the difference between today's and the projected monthly cost of that very request, computed by
core.snowflake.projection.project_request, the function the preview and the review's cost projection call: the
review of the request shows the same figures. Savings of two recommendations for one warehouse overlap (a
smaller size also shortens the idle time a shorter auto-suspend saves): they do not add up.

Sources: WAREHOUSE_METERING_HISTORY (idle share, last metering), QUERY_HISTORY (queueing, spilling, query
length; warehouse_load.sql), the SnowDDL config (size, auto-suspend, resource monitor).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from core.findings import Fix
from core.snowflake.cost import last_day, window
from core.snowflake.projection import CREDITS_PER_HOUR, PROJECTION_DAYS, credits_per_hour, project_request
from core.snowflake.queries import ask

IDLE_SHARE = 0.5  # a warehouse idle for at least half of its metered compute ...
SUSPEND_TO = 60  # ... is proposed this auto-suspend (seconds), when it waits longer now
# Oversized: queries wait for the warehouse less than this share of their elapsed time, none spills to local or
# remote storage, and they run this long on average or less: half the size runs them about twice as long.
QUEUED_SHARE = 0.01
SHORT_QUERY_SECONDS = 60.0
UNUSED_DAYS = 30
SIZES = list(CREDITS_PER_HOUR)  # smallest first


@dataclass(frozen=True)
class Recommendation:
    """One recommendation for `warehouse`. `code` is stable: WAREHOUSE_IDLE, WAREHOUSE_OVERSIZED,
    WAREHOUSE_NO_MONITOR, WAREHOUSE_UNUSED. Money per month in the settings' currency at `price_per_credit`;
    `saving_*` None when the fix caps spend rather than lowering it (a monitor) or the change cannot be projected."""
    code: str
    severity: str  # medium | low
    warehouse: str
    message: str  # one sentence with the evidence
    current_credits: float | None  # per month today (projection.project_request)
    projected_credits: float | None  # per month after the fix
    price_per_credit: float
    fix: Fix | None

    @property
    def saving_credits(self) -> float | None:
        if self.current_credits is None or self.projected_credits is None:
            return None
        return self.current_credits - self.projected_credits

    @property
    def saving_money(self) -> float | None:
        return None if self.saving_credits is None else self.saving_credits * self.price_per_credit

    @property
    def title(self) -> str:
        """As a request's "fixes" note names it: 'WAREHOUSE_IDLE on BI_WH'."""
        return f"{self.code} on {self.warehouse}"

    def to_dict(self) -> dict:
        return {**asdict(self), "saving_credits": self.saving_credits, "saving_money": self.saving_money,
                "fix": asdict(self.fix) if self.fix else None}


def smaller(size: str | None) -> str | None:
    """The next smaller standard size, None for XSMALL or an unknown size."""
    size = str(size or "").upper().replace("-", "")
    return SIZES[SIZES.index(size) - 1] if size in SIZES and SIZES.index(size) > 0 else None


def _note(code: str, name: str, what: str) -> str:
    return f"Cost recommendation {code} on {name}: {what}"


def recommend(source, warehouses: list[dict], price_per_credit: float, day: dt.date | None = None) -> list[Recommendation]:
    """Recommendations for the config's `warehouses` (core.snowddl.inventory.describe rows: name, size, auto_suspend,
    monitor) from their last PROJECTION_DAYS days up to `day` (default: the account's last complete day), largest
    saving first, then those without a saving. [] when the account has no complete day of metering."""
    day = day or last_day(source)
    if day is None:
        return []
    binds = window(day - dt.timedelta(days=PROJECTION_DAYS - 1), day)
    usage = ask(source, "warehouse_usage", **binds).set_index("WAREHOUSE_NAME")
    load = ask(source, "warehouse_load", **binds).set_index("WAREHOUSE_NAME")
    unused_binds = window(day - dt.timedelta(days=UNUSED_DAYS - 1), day)
    used = set(ask(source, "warehouse_usage", **unused_binds).query("CREDITS_USED > 0")["WAREHOUSE_NAME"])
    out: list[Recommendation] = []
    # A Fix opens a recipe, whose name field holds the config's name: without SnowDDL's env prefix (describe's
    # config_name); the account's views and the projection use the prefixed name.
    in_config = {w["name"]: w.get("config_name") or w["name"] for w in warehouses}

    def projected(code, severity, name, message, fields):
        request = {"name": name, **fields}
        p = project_request(source, "change-warehouse", request, warehouses, price_per_credit, day=day)
        form = {"name": in_config.get(name, name), **{k: (str(v) if k == "auto_suspend" else v) for k, v in fields.items()},
                "justification": _note(code, name, message)}
        out.append(Recommendation(code, severity, name, message, p.current_credits if p else None,
                                  p.projected_credits if p else None, float(price_per_credit), Fix("change-warehouse", form)))

    for w in warehouses:
        name, size, suspend = w["name"], str(w.get("size") or "").upper().replace("-", ""), w.get("auto_suspend")
        if name not in used:
            # The fix removes it from the config (recipe remove-warehouse, which SnowDDL applies as a DROP with
            # --apply-unsafe); the saving is what it metered in the period, 0 when it did not run at all.
            p = project_request(source, "remove-warehouse", {"name": name}, warehouses, price_per_credit, day=day)
            users = list(w.get("used_by") or [])
            message = (f"{name} has not run in the last {UNUSED_DAYS} days: it costs nothing while suspended, "
                       "but whoever may use it can run up credits")
            if users:
                message += (f"; it is still named in the config ({'; '.join(users[:3])}{' ...' if len(users) > 3 else ''}): "
                            "move those to another warehouse, then remove it.")
                fix = None
            else:
                message += "; nothing in the config uses it: remove it."
                fix = Fix("remove-warehouse", {"name": in_config[name], "justification": _note("WAREHOUSE_UNUSED", name, message)})
            out.append(Recommendation("WAREHOUSE_UNUSED", "low", name, message, p.current_credits if p else None,
                                      p.projected_credits if p else None, float(price_per_credit), fix))
            continue
        if not w.get("monitor"):
            out.append(Recommendation("WAREHOUSE_NO_MONITOR", "medium", name,
                                      f"{name} has no resource monitor: nothing caps its credits.", None, None,
                                      float(price_per_credit),
                                      Fix("change-warehouse", {"name": in_config[name], "justification": _note(
                                          "WAREHOUSE_NO_MONITOR", name, "a resource monitor caps its credits.")}, complete=False)))
        if name in usage.index:
            row = usage.loc[name]
            idle = float(row["IDLE_SHARE"] or 0.0)
            if idle >= IDLE_SHARE and suspend and int(suspend) > SUSPEND_TO:
                projected("WAREHOUSE_IDLE", "medium", name,
                          f"{name} was idle for {idle:.0%} of its compute in the last {PROJECTION_DAYS} days with auto-suspend "
                          f"after {int(suspend)} s: suspend it after {SUSPEND_TO} s.", {"auto_suspend": SUSPEND_TO})
        down = smaller(size)
        if down and name in load.index:
            lr = load.loc[name]
            queued, spilled, seconds = float(lr["QUEUED_SHARE"] or 0.0), int(lr["QUERIES_SPILLED"]), float(lr["AVERAGE_SECONDS"] or 0.0)
            if queued < QUEUED_SHARE and spilled == 0 and seconds <= SHORT_QUERY_SECONDS and credits_per_hour(size):
                projected("WAREHOUSE_OVERSIZED", "medium", name,
                          f"{name} ({size}) ran {int(lr['QUERIES']):,} queries of {seconds:,.1f} s on average in the last "
                          f"{PROJECTION_DAYS} days, {queued:.1%} of their time queued and none spilling: {down} is enough.",
                          {"size": down})
    return sorted(out, key=lambda r: (r.saving_money is None, -(r.saving_money or 0.0), r.code, r.warehouse))
