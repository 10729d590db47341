"""Risk flags: what a reviewer must not miss in a change, each with the config line (or plan statement)
that causes it.

The package: `risk_flags` here runs the checks; `flags` holds RiskFlag and its levels, `places` finds
the file, line and text of what a flag points at, and one module per kind of check: `roles` (admin_role,
ownership by config, own_access), `policies` (policy, no_mfa, service_password), `warehouses`
(warehouse_size, warehouse_clusters, warehouse_type, warehouse_removed), `statements` (drop, revoke,
ownership in the plan) and `end_dates` (end_date).

`risk_flags(base, head, plan, reviewer=..., warehouse_size_threshold=...)` compares SnowDDL's own
blueprints of the base and head configs (core.snowddl.commit_snapshot.Snapshot: never YAML read here), the
role hierarchy SnowDDL's resolvers derive from each (core.findings.reach.ReachGraph over the offline
baselines) and the plan's statements. Lines are found by core.snowddl.yaml_reader.line_of in the file SnowDDL
reads the object from: the head's file for what is added or changed, the base's for what is removed.
Pure: no Streamlit, no I/O beyond reading the snapshots' files.

Kinds (level):
- admin_role (high): a role grant that gives someone ACCOUNTADMIN, SECURITYADMIN or SYSADMIN, directly
  or through roles that hold one (business role -> technical role / global role, business role -> a
  schema's owner role -> owner_global_roles in its params file ...); or MANAGE GRANTS on the account
  given to a technical role (account_grants) or a schema's owner role (owner_account_grants).
- ownership (medium): a business role gains database_owner / schema_owner, a technical role an
  OWNERSHIP grant, or the plan grants OWNERSHIP.
- drop (high), revoke (medium): a DROP or REVOKE statement of the plan.
- policy (high): a network or authentication policy added, changed or removed, a network rule a
  network policy lists changed (in the rule's own file), or a policy attached to or detached from a user
  or the account.
- no_mfa (medium): a PERSON user added, or whose type, password or policies changed, that no
  authentication policy with MFA_ENROLLMENT REQUIRED (or REQUIRED_PASSWORD_ONLY) covers.
- service_password (high): a SERVICE (or LEGACY_SERVICE) user with a password, added or changed.
- warehouse_size (medium): a warehouse added or resized above the threshold size.
- warehouse_removed (high): a warehouse the base config has and the head does not: SnowDDL drops it, an "unsafe"
  action it runs only with --apply-unsafe, and a dropped warehouse cannot be undropped (anything outside the
  config that runs on it, a task, a dashboard's connection, fails).
- own_access (high): the change touches the reviewer's own Snowflake user or a role that user holds.
- end_date (medium): a time-bound grant (core.expiry) whose end date is moved later, or removed while the
  user keeps the role (access made permanent): the one change a requester could make to their own access
  that the plan does not show.
"""
from __future__ import annotations

from typing import Iterable

from core.findings.reach import ReachGraph
from core.risk.end_dates import _end_date_flags
from core.risk.flags import LEVELS, PLAN_PATH, RiskFlag, level_of
from core.risk.places import _Places
from core.risk.policies import _policy_flags, _user_flags
from core.risk.roles import _account_grant_flags, _admin_flags, _own_access_flags, _ownership_flags
from core.risk.statements import _statement_flags
from core.risk.warehouses import SIZES, _warehouse_flags, _warehouse_removed_flags, size_rank

# The package's public names: what the review, its page and the tests use.
__all__ = ["LEVELS", "PLAN_PATH", "SIZES", "RiskFlag", "level_of", "risk_flags", "size_rank"]


def risk_flags(base, head, plan=None, *, reviewer: Iterable[str] = (), warehouse_size_threshold: str = "LARGE") -> list[RiskFlag]:
    """The risk flags of the change from `base` to `head` (core.snowddl.commit_snapshot.Snapshot: SnowDDL's
    blueprints and files of each) with its `plan` (core.snowddl.plan.Plan or its dict; None: no statement
    flags). `reviewer`: the names, logins and emails the reviewer goes by, matched (case-insensitively)
    against Snowflake users' name, login_name and email; `warehouse_size_threshold`: a size in SIZES.

    Returns flags high first, then in file and line order. [] when either config is invalid (SnowDDL
    would not apply it; validation says why). Raises ValueError for an unknown threshold size."""
    from core.snowddl.baseline import Baseline
    from core.snowddl.plan import Plan

    size_rank(warehouse_size_threshold)
    if isinstance(plan, dict):
        plan = Plan.from_dict(plan)
    flags = _statement_flags(plan)
    ok = all(s.config.snowddl is not None and s.config.validation.valid for s in (base, head))
    if ok:
        head_places, base_places = _Places(head), _Places(base)
        # The head's roles derived from the base's baseline (only what changed is derived again), kept
        # by nobody: a request's head is no base commit, its baseline is not cached or frozen.
        before = base.baseline()
        graphs = ReachGraph.from_baseline(before), ReachGraph.from_baseline(Baseline.from_config(head.config.snowddl, previous=before))
        flags += _admin_flags(*graphs, head, head_places)
        flags += _account_grant_flags(base, head, head_places)
        flags += _ownership_flags(base, head, head_places)
        flags += _policy_flags(base, head, head_places, base_places)
        flags += _user_flags(base, head, head_places)
        flags += _warehouse_flags(base, head, head_places, warehouse_size_threshold)
        flags += _warehouse_removed_flags(base, head, base_places)
        flags += _own_access_flags(base, head, graphs, head_places, base_places, reviewer)
        flags += _end_date_flags(base, head)
    return sorted(flags, key=lambda f: (LEVELS.index(f.level), f.path == PLAN_PATH, f.path or "", f.line or 0, f.kind))
