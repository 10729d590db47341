"""Risk flags of time-bound grants (core.expiry): end_date, an end date moved later or removed while the
user keeps the role: the one change a requester could make to their own access that the plan does not show."""
from __future__ import annotations

from core.risk.flags import RiskFlag
from core.risk.places import _line_text
from core.snowddl import yaml_reader


def _end_date_flags(base, head) -> list[RiskFlag]:
    from core import expiry

    def grants(snapshot) -> dict:
        try:
            found, _ = expiry.all_grants(snapshot.text(expiry.EXPIRY_FILE), snapshot.text(snapshot.file("user")))
        except expiry.ExpiryError:
            return {}  # validation reports an unreadable file
        return {(g.user, g.role): g for g in found}

    before, after = grants(base), grants(head)
    if not before:
        return []
    users = yaml_reader.load(head.text(head.file("user")) or "")
    held = {str(k).upper(): {str(r).upper() for r in (v.get("business_roles") or []) if isinstance(r, str)}
            for k, v in users.items() if isinstance(v, dict) and isinstance(v.get("business_roles") or [], list)}
    out = []
    head_text = (head.text(expiry.EXPIRY_FILE) or "").split("\n")  # to find an entry's `until:` line
    for key, old in sorted(before.items()):
        new = after.get(key)
        if new is None and old.role in held.get(old.user, ()):
            rel = base.file("user") if old.legacy else expiry.EXPIRY_FILE
            out.append(RiskFlag("end_date", "medium", f"{old.user} keeps business role {old.role} for good: its end "
                                f"date {old.until.isoformat()} is removed", rel, old.line,
                                _line_text(base.text(rel) or "", old.line)))
        elif new is not None and new.until > old.until:
            rel, line = (head.file("user"), new.line) if new.legacy else (expiry.EXPIRY_FILE, new.line)
            if line and not new.legacy:  # the entry's `until:` line, a few lines below its role
                line = next((n for n in range(line, min(line + 4, len(head_text)) + 1)
                             if head_text[n - 1].strip().startswith("until:")), line)
            text = _line_text(head.text(rel) or "", line)
            out.append(RiskFlag("end_date", "medium", f"{old.user}'s business role {old.role} is extended from "
                                f"{old.until.isoformat()} to {new.until.isoformat()} ({(new.until - old.until).days} days)",
                                rel, line, text))
    return out
