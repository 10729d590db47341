"""Config hygiene from the SnowDDL YAML alone: no Snowflake needed.

`hygiene(loaded)` takes a LoadedConfig (core.snowddl.config_loader.load_config, the project's one config reader;
its SnowDDL blueprints carry the resolved values) and returns Findings, each with the request that fixes
it when a recipe can. Checks:

- WAREHOUSE_NO_AUTO_SUSPEND / WAREHOUSE_LONG_AUTO_SUSPEND: auto_suspend unset or 0 (never suspends), or
  above `long_auto_suspend` seconds (default 600). Fix: change-warehouse to 60 s.
- DEV_WAREHOUSE_TOO_LARGE: a warehouse whose name has a development word (DEV, SANDBOX, TEST, SCRATCH) as
  one of its _-separated parts, above X-Small. Fix: change-warehouse to X-Small.
- WAREHOUSE_NO_MONITOR: no resource_monitor. Fix: change-warehouse with a monitor (the requester picks).
- PERSON_PASSWORD_NO_KEY: a person with a password and no key pair.
- LEGACY_SERVICE_USER_PASSWORD: a LEGACY_SERVICE user with a password (the only service users that can have
  one: SnowDDL refuses a password on type SERVICE, and Snowflake does too). Fix: a key pair (rotate-key,
  the requester pastes the key), then remove-password; when it has a key already, remove-password.
- USER_NO_BUSINESS_ROLE (enabled users), BUSINESS_ROLE_UNUSED (no enabled user holds it).
- ADMIN_ROLE_GRANT: a business role whose global_roles include an admin-level role (ACCOUNTADMIN,
  SECURITYADMIN, SYSADMIN, USERADMIN, ORGADMIN), one finding per user holding it. Fix: revoke-role.
"""
from __future__ import annotations

import re

from core.findings import SEVERITY_ORDER, Finding, Fix, fixes_note  # noqa: F401  (SEVERITY_ORDER: importers of hygiene)

ADMIN_ROLES = ("ACCOUNTADMIN", "ORGADMIN", "SECURITYADMIN", "SYSADMIN", "USERADMIN")
DEV_WORDS = {"DEV", "DEVELOPMENT", "SANDBOX", "TEST", "SCRATCH"}
LONG_AUTO_SUSPEND = 600  # seconds
FIX_AUTO_SUSPEND = 60  # seconds


def _name(ident, suffix: str = "") -> str:
    name = str(getattr(ident, "name", ident))
    return name[: -len(suffix)] if suffix and name.endswith(suffix) else name


def _finding(code, severity, object_type, obj, message, file, recipe=None, fields=None, complete=True) -> Finding:
    finding = Finding(code, severity, object_type, obj, message, file)
    if recipe is None:
        return finding
    fix = Fix(recipe, {**(fields or {}), "justification": fixes_note(finding)}, complete)
    return Finding(code, severity, object_type, obj, message, file, fix)


def hygiene(loaded, long_auto_suspend: int = LONG_AUTO_SUSPEND) -> list[Finding]:
    """Findings of a loaded config, most severe first (then by code and object).

    loaded: core.snowddl.config_loader.LoadedConfig. Raises ValueError when SnowDDL could not read the folder
    (`loaded.snowddl` is None); an invalid but readable config is checked as far as SnowDDL read it."""
    from snowddl.blueprint import BusinessRoleBlueprint, UserBlueprint, WarehouseBlueprint

    config = loaded.snowddl
    if config is None:
        raise ValueError("; ".join(p.message for p in loaded.validation.errors) or "SnowDDL could not read the config")
    prefix = config.env_prefix or ""
    b_suffix = "__" + config.BUSINESS_ROLE_SUFFIX

    def plain(ident, suffix=""):
        name = _name(ident, suffix)
        return name[len(prefix):] if prefix and name.startswith(prefix) else name

    out: list[Finding] = []
    for bp in config.get_blueprints_by_type(WarehouseBlueprint).values():
        name = plain(bp.full_name)
        if not bp.auto_suspend:
            out.append(_finding("WAREHOUSE_NO_AUTO_SUSPEND", "high", "warehouse", name,
                                f"{name} never suspends: it bills every running second while idle.", "warehouse",
                                "change-warehouse", {"name": name, "auto_suspend": FIX_AUTO_SUSPEND}))
        elif bp.auto_suspend > long_auto_suspend:
            out.append(_finding("WAREHOUSE_LONG_AUTO_SUSPEND", "medium", "warehouse", name,
                                f"{name} suspends after {bp.auto_suspend} s idle (more than {long_auto_suspend} s): "
                                "idle time is billed.", "warehouse",
                                "change-warehouse", {"name": name, "auto_suspend": FIX_AUTO_SUSPEND}))
        size = str(bp.size or "").upper().replace("-", "")
        if DEV_WORDS & set(re.split(r"[_\W]+", name.upper())) and size not in ("XSMALL", ""):
            out.append(_finding("DEV_WAREHOUSE_TOO_LARGE", "medium", "warehouse", name,
                                f"{name} is a development warehouse of size {size}, above X-Small.", "warehouse",
                                "change-warehouse", {"name": name, "size": "XSMALL"}))
        if bp.resource_monitor is None:
            out.append(_finding("WAREHOUSE_NO_MONITOR", "medium", "warehouse", name,
                                f"{name} has no resource monitor: nothing caps its credits.", "warehouse",
                                "change-warehouse", {"name": name}, complete=False))

    users = list(config.get_blueprints_by_type(UserBlueprint).values())
    roles = {plain(bp.full_name, b_suffix): bp for bp in config.get_blueprints_by_type(BusinessRoleBlueprint).values()}
    held: dict[str, list[str]] = {}
    for bp in users:
        name = plain(bp.full_name)
        user_roles = [plain(r, b_suffix) for r in bp.business_roles or []]
        if not bp.disabled:
            for role in user_roles:
                held.setdefault(role, []).append(name)
        if bp.password and str(bp.type or "").upper() == "LEGACY_SERVICE":
            if bp.rsa_public_key or getattr(bp, "rsa_public_key_2", None):
                out.append(_finding("LEGACY_SERVICE_USER_PASSWORD", "high", "user", name,
                                    f"Service user {name} (LEGACY_SERVICE) has a password besides its key pair: remove the "
                                    "password so it logs in with the key only.", "user", "remove-password", {"name": name}))
            else:
                out.append(_finding("LEGACY_SERVICE_USER_PASSWORD", "high", "user", name,
                                    f"Service user {name} (LEGACY_SERVICE) logs in with a password: give it a key pair "
                                    "(rotate-key), then remove the password (remove-password).", "user",
                                    "rotate-key", {"name": name}, complete=False))
        elif bp.password and not bp.rsa_public_key and bp.type in ("PERSON", None):
            out.append(_finding("PERSON_PASSWORD_NO_KEY", "medium", "user", name,
                                f"{name} logs in with a password and has no key pair.", "user",
                                "rotate-key", {"name": name}, complete=False))
        if not bp.disabled and not user_roles:
            out.append(_finding("USER_NO_BUSINESS_ROLE", "low", "user", name,
                                f"{name} is enabled but holds no business role.", "user",
                                "grant-role", {"name": name}, complete=False))
    for role, bp in sorted(roles.items()):
        holders = sorted(held.get(role, []))
        if not holders:
            out.append(_finding("BUSINESS_ROLE_UNUSED", "low", "business role", role,
                                f"No enabled user holds business role {role}.", "business_role"))
        admin = sorted({_name(g).upper() for g in bp.global_roles or []} & set(ADMIN_ROLES))
        for user in holders if admin else []:
            out.append(_finding("ADMIN_ROLE_GRANT", "high", "user", user,
                                f"{user} holds {role}, which grants {', '.join(admin)}.", "user",
                                "revoke-role", {"name": user, "business_roles": [role]}))
    return sorted(out, key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.object))
