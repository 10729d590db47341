"""Snowflake's own budgets (https://docs.snowflake.com/en/user-guide/budgets): the account budget
SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET and custom budgets (instances of the class SNOWFLAKE.CORE.BUDGET), read through
the query layer (SQL files budget_*.sql, contract.ROUTINES).

A budget holds a calendar month (UTC) to a spending limit in credits. Reading one needs a role the account may not
have given SnowTower, and the account may have no budget at all, so nothing here raises: every figure that cannot
be read is None with a plain sentence saying why and what grant or step would make it readable
(https://docs.snowflake.com/en/user-guide/budgets/monitor). Callers fall back to the settings' budget.
"""
from __future__ import annotations

import json
from typing import Any

from core.snowflake.queries import QueryError, ask, ask_instance

ACCOUNT_BUDGET = ("SNOWFLAKE", "LOCAL", "ACCOUNT_ROOT_BUDGET")
ACCOUNT_GRANT = ("GRANT APPLICATION ROLE SNOWFLAKE.BUDGET_VIEWER TO ROLE <portal role> (and IMPORTED PRIVILEGES on "
                 "database SNOWFLAKE)")
MAX_CUSTOM_BUDGETS = 50  # read at most this many custom budgets (one call each for the limit and the objects)


def _limit(frame) -> float | None:
    """GET_SPENDING_LIMIT's one value in credits; None for -1 (no limit set) or no answer."""
    if frame is None or not len(frame) or not len(frame.columns):
        return None
    value = frame.iloc[0, 0]
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def read_budgets(source) -> dict:
    """Snowflake's budgets as the source's role can read them:

    {"account": {"name", "limit_credits" (float, or None), "note" (None, or why there is no limit)},
     "custom": [{"name" ("DB.SCHEMA.NAME"), "comment", "limit_credits" (or None), "warehouses" (names, or None when
                 what it monitors cannot be read), "other_objects" (objects that are not warehouses: their spend is
                 not counted here), "note"}],
     "custom_note": None, or why custom budgets cannot be listed}

    The limit of the account budget comes from its method GET_SPENDING_LIMIT (-1: none set); custom budgets from
    SYSTEM$SHOW_BUDGETS_IN_ACCOUNT, each limit from GET_SPENDING_LIMIT and what it monitors from GET_LINKED_RESOURCES
    (needs the budget's ADMIN instance role). At most MAX_CUSTOM_BUDGETS custom budgets are read."""
    account: dict[str, Any] = {"name": ".".join(ACCOUNT_BUDGET), "limit_credits": None, "note": None}
    try:
        account["limit_credits"] = _limit(ask(source, "budget_account_limit"))
        if account["limit_credits"] is None:
            account["note"] = ("Snowflake's account budget has no spending limit (it is not activated, or activated "
                               "without a limit): CALL SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET!ACTIVATE() and "
                               "!SET_SPENDING_LIMIT(<credits>), or set budget_monthly in the settings.")
    except QueryError as exc:
        account["note"] = (f"Snowflake's account budget cannot be read ({exc}). The portal's role needs an application "
                           f"role of the account budget: {ACCOUNT_GRANT}.")
    out: dict[str, Any] = {"account": account, "custom": [], "custom_note": None}
    try:
        frame = ask(source, "budget_instances")
        listed = json.loads(frame.iloc[0, 0]) if len(frame) and frame.iloc[0, 0] else []
        if isinstance(listed, dict):
            listed = [listed]
    except (QueryError, ValueError, TypeError) as exc:
        out["custom_note"] = f"Custom budgets cannot be listed ({exc})."
        return out
    listed = [b for b in listed if isinstance(b, dict) and (b.get("DATABASE"), b.get("SCHEMA"), b.get("NAME")) != ACCOUNT_BUDGET]
    if len(listed) > MAX_CUSTOM_BUDGETS:
        out["custom_note"] = f"{len(listed)} custom budgets: the first {MAX_CUSTOM_BUDGETS} by name are shown."
    listed = sorted(listed, key=lambda b: (str(b.get("DATABASE")), str(b.get("SCHEMA")), str(b.get("NAME"))))
    for b in listed[:MAX_CUSTOM_BUDGETS]:
        parts = (str(b.get("DATABASE") or ""), str(b.get("SCHEMA") or ""), str(b.get("NAME") or ""))
        row: dict[str, Any] = {"name": ".".join(parts), "comment": b.get("COMMENT"), "limit_credits": None, "warehouses": None,
               "other_objects": [], "note": None}
        notes = []
        try:
            row["limit_credits"] = _limit(ask_instance(source, "budget_limit", parts))
            if row["limit_credits"] is None:
                notes.append("no spending limit set")
        except QueryError as exc:
            notes.append(f"its limit cannot be read ({exc}); the portal's role needs one of its instance roles "
                         f"(GRANT SNOWFLAKE.CORE.BUDGET ROLE {row['name']}!VIEWER TO ROLE <portal role>)")
        try:
            objects = ask_instance(source, "budget_linked_resources", parts)
            row["warehouses"] = sorted(str(r.NAME) for r in objects.itertuples(index=False) if str(r.DOMAIN).upper() == "WAREHOUSE")
            row["other_objects"] = sorted(f"{r.DOMAIN} {r.NAME}" for r in objects.itertuples(index=False)
                                          if str(r.DOMAIN).upper() != "WAREHOUSE")
        except QueryError:
            notes.append("what it monitors cannot be read: that needs its ADMIN instance role, so its spend is not shown")
        row["note"] = "; ".join(notes) or None
        out["custom"].append(row)
    return out
