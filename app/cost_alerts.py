"""Spend events for `snowtower alerts`: the provider "spend" (core.snowflake.spend_alerts.spend_events with the settings'
budgets and threshold, and Snowflake's own budgets where the account has them and the role can read them:
core.snowflake.budgets). Each event's id is stable across runs ("cost.anomaly.2026-11-24", "cost.budget.2026-12.80",
"cost.budget.2026-12.snowflake.ACCOUNT_ROOT_BUDGET.100", "cost.day-over-threshold.2026-11-24"), so the alerts
ledger sends it at most once.

Registration: importing this module registers the provider with app.alerts (`register("spend", spend_provider)`)
; `snowtower alerts` imports it through app.alerts.PROVIDER_MODULES ("app.cost_alerts").
"""
from __future__ import annotations

from app.alerts import AlertEvent, register
from core.snowflake.budgets import read_budgets
from core.snowflake.cost import Prices
from core.snowflake.spend_alerts import spend_events


def spend_events_for(services, source) -> list[dict]:
    """The account's spend events under `services.settings` (budget_monthly, budget_by_warehouse,
    alert_spend_threshold per UTC day, alert_budget_shares) and Snowflake's budgets with a spending limit (a budget
    the role cannot read is skipped: read_budgets says why, the Cost page shows it), read through `source`:
    [{"id", "severity" (high | medium), "title", "text"}]. Raises core.snowflake.queries.QueryError when the
    account cannot be read."""
    s = services.settings
    return spend_events(source, Prices.of(s), budget_monthly=float(s.budget_monthly),
                        budget_by_warehouse=dict(s.budget_by_warehouse), threshold_per_day=float(s.alert_spend_threshold),
                        budget_shares=list(s.alert_budget_shares), snowflake=read_budgets(source))


def spend_provider(services, source) -> list:
    """The events as app.alerts.AlertEvent (key = the event's id, page "cost")."""
    return [AlertEvent(key=e["id"], source="spend", severity=e["severity"], title=e["title"], details=(e["text"],),
                       page="cost") for e in spend_events_for(services, source)]


register("spend", spend_provider)
