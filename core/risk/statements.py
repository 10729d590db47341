"""Risk flags of the plan's statements: drop (high), revoke (medium) and ownership (a statement that grants
OWNERSHIP on something the plan does not create); each points at the statement's number in the plan."""
from __future__ import annotations

from core.risk.flags import PLAN_PATH, RiskFlag


def _statement_flags(plan) -> list[RiskFlag]:
    out = []
    statements = plan.statements if plan is not None else []
    # Objects the plan itself creates: granting OWNERSHIP on them (a new database's owner roles) is their
    # first owner, not an ownership change; dropping what SnowDDL finds inside them (PUBLIC) removes nothing.
    created = {s.object for s in statements if s.action == "CREATE"}
    for number, s in enumerate(statements, 1):
        sql = " ".join(s.sql.split())
        parent = (s.object or "").rpartition(".")[0]
        if s.action == "DROP" and parent in created:
            pass  # the PUBLIC schema of a database this plan creates: nothing that existed is dropped
        elif s.action == "DROP":
            out.append(RiskFlag("drop", "high", f"drops {s.object_type} {s.object or ''}".rstrip(), PLAN_PATH, number, sql))
        elif s.action == "REVOKE":
            out.append(RiskFlag("revoke", "medium", f"revokes from {s.object_type} {s.object or ''}".rstrip(), PLAN_PATH, number, sql))
        if " OWNERSHIP " in f" {sql.upper()} " and s.object not in created:
            out.append(RiskFlag("ownership", "medium", f"changes the owner of {s.object or s.object_type}", PLAN_PATH, number, sql))
    return out
