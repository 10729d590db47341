"""Risk flags of sign-in: policy (a network or authentication policy, or a network rule a network policy
lists, added, changed or removed; a policy attached to or detached from a user or the account), no_mfa (a
PERSON user no MFA-enforcing authentication policy covers) and service_password (a service user with a
password)."""
from __future__ import annotations

from snowddl.blueprint import AuthenticationPolicyBlueprint, NetworkPolicyBlueprint, NetworkRuleBlueprint, UserBlueprint

from core.risk.flags import RiskFlag
from core.risk.places import _blueprints, _Places

MFA_ENFORCING = ("REQUIRED", "REQUIRED_PASSWORD_ONLY")  # MFA_ENROLLMENT values that make password sign-in need MFA


def _policy_refs(snapshot) -> dict[tuple[str, str], set[str]]:
    """(kind, USER name or "ACCOUNT") -> names of the network / authentication policies attached."""
    out: dict[tuple[str, str], set[str]] = {}
    for kind, cls in (("network_policy", NetworkPolicyBlueprint), ("authentication_policy", AuthenticationPolicyBlueprint)):
        for name, bp in _blueprints(snapshot, cls).items():
            for ref in bp.references:
                target = "ACCOUNT" if ref.object_type.name == "ACCOUNT" else str(ref.object_name)
                out.setdefault((kind, target), set()).add(name)
    return out


def _policy_flags(base, head, head_places: _Places, base_places: _Places) -> list[RiskFlag]:
    out = []
    for kind, cls in (("network policy", NetworkPolicyBlueprint), ("authentication policy", AuthenticationPolicyBlueprint)):
        old, new = _blueprints(base, cls), _blueprints(head, cls)
        plain = lambda bp: bp.model_dump(exclude={"references"})  # noqa: E731  (attachments are flagged below)
        for places, bps, verb in ((head_places, [bp for n, bp in new.items() if n not in old], "added"),
                                  (head_places, [bp for n, bp in new.items() if n in old and plain(old[n]) != plain(bp)], "changed"),
                                  (base_places, [bp for n, bp in old.items() if n not in new], "removed")):
            for bp in bps:
                if cls is NetworkPolicyBlueprint:
                    rel, line, text = places.at("network_policy", places.name(bp.full_name))
                else:
                    rel, line, text = places.schema_object(bp.full_name, "authentication_policy")
                out.append(RiskFlag("policy", "high", f"{kind} {places.name(bp.full_name)} {verb}", rel, line, text))
    # A network policy that lists network rules allows what those rules say: a rule changed in its own file
    # (<db>/<schema>/network_rule/<name>.yaml) changes the policy without a line of the policy changing.
    old_rules, new_rules = _blueprints(base, NetworkRuleBlueprint), _blueprints(head, NetworkRuleBlueprint)
    for _name, bp in _blueprints(head, NetworkPolicyBlueprint).items():
        for listed in ("allowed_network_rule_list", "blocked_network_rule_list"):
            for rule in getattr(bp, listed) or ():
                key = str(rule)
                if old_rules.get(key) == new_rules.get(key):
                    continue
                places = head_places if key in new_rules else base_places
                rel, line, text = places.schema_object(rule, "network_rule")
                if rel and key in old_rules and key in new_rules:  # the line that changed: a new value, else the key
                    before, after = old_rules[key], new_rules[key]
                    field = next(f for f in ("value_list", "mode", "type", "comment") if getattr(before, f) != getattr(after, f))
                    added = [i for i, v in enumerate(after.value_list) if v not in before.value_list]
                    path = [field, added[0]] if field == "value_list" and added else [field]
                    found = places.file_at(rel, path)
                    rel, line, text = found if found[1] else (rel, line, text)
                verb = "added" if key not in old_rules else "removed" if key not in new_rules else "changed"
                out.append(RiskFlag("policy", "high", f"network policy {places.name(bp.full_name)}: its network rule "
                                                      f"{places.name(key)} ({listed.split('_')[0]}) is {verb}", rel, line, text))
    old_refs, new_refs = _policy_refs(base), _policy_refs(head)
    for attached in sorted(set(old_refs) | set(new_refs)):
        before, after = old_refs.get(attached, set()), new_refs.get(attached, set())
        if before == after:
            continue
        kind, target = attached
        places = head_places if after else base_places
        if target == "ACCOUNT":
            rel, line, text = places.file_at(places.snapshot.file("account_policy"), [kind])
            what = "the account"
        else:
            rel, line, text = places.at("user", places.name(target), [kind])
            what = f"user {places.name(target)}"
        change = f"{kind.replace('_', ' ')} of {what}: " + (
            f"{', '.join(places.name(n) for n in sorted(before)) or 'none'} -> {', '.join(places.name(n) for n in sorted(after)) or 'none'}")
        out.append(RiskFlag("policy", "high", change, rel, line, text))
    return out


def _mfa_enforced(snapshot, user: str) -> bool:
    policies = _blueprints(snapshot, AuthenticationPolicyBlueprint)
    refs = _policy_refs(snapshot)
    attached = refs.get(("authentication_policy", user)) or refs.get(("authentication_policy", "ACCOUNT")) or set()
    return any(str(policies[n].mfa_enrollment or "").upper() in MFA_ENFORCING for n in attached if n in policies)


def _user_flags(base, head, places: _Places) -> list[RiskFlag]:
    out = []
    old, new = _blueprints(base, UserBlueprint), _blueprints(head, UserBlueprint)
    old_refs, new_refs = _policy_refs(base), _policy_refs(head)
    for name, bp in new.items():
        before = old.get(name)
        entry = places.name(bp.full_name)
        kind = (bp.type or "PERSON").upper()
        if kind in ("SERVICE", "LEGACY_SERVICE") and bp.password and (
                before is None or before.password != bp.password or (before.type or "PERSON").upper() != kind):
            rel, line, text = places.at("user", entry, ["password"])
            out.append(RiskFlag("service_password", "high",
                                f"{kind} user {entry} has a password: service users should sign in with a key pair", rel, line, text))
        if kind == "PERSON":
            touched = before is None or (before.type, before.password) != (bp.type, bp.password) or any(
                old_refs.get((k, name)) != new_refs.get((k, name)) for k in ("authentication_policy", "network_policy"))
            if touched and not _mfa_enforced(head, name):
                rel, line, text = places.at("user", entry)
                out.append(RiskFlag("no_mfa", "medium",
                                    f"PERSON user {entry} has no authentication policy that enforces MFA "
                                    f"(MFA_ENROLLMENT {' or '.join(MFA_ENFORCING)})", rel, line, text))
    return out
