"""The change request's description: what reviewers read first (and GitHub shows as the PR body)."""
from __future__ import annotations

from core.changes.model import Actor
from portal.operations.preview import Preview

_HIDDEN = {"rsa_public_key", "rsa_public_key_2", "justification"}


def render_body(preview: Preview, requester: Actor) -> str:
    req = preview.request_dict
    lines = [
        f"**Request:** {preview.recipe}",
        f"**Requested by:** {requester.name or requester.username} (`{requester.username}`)",
        "",
        "**Justification:**",
        "",
        *[f"> {line}" for line in str(req.get("justification", "")).splitlines()],
        "",
        preview.changes.summary if preview.changes else "",
        "",
        "| field | value |",
        "|---|---|",
    ]
    for key, value in req.items():
        if key in _HIDDEN:
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        lines.append(f"| {key} | {str(shown).replace('|', '/')} |")
    v = preview.validation
    lines += ["", f"**Validation:** {'passed' if v and v.valid else 'FAILED'}"
              + (f" ({len(v.warnings)} warning(s))" if v and v.warnings else "")]
    if preview.plan:  # what SnowDDL would run, unsafe statements first, SQL folded
        from core.snowddl.plan import Plan, render_markdown

        lines += ["", render_markdown(Plan.from_dict(preview.plan)).rstrip()]
    return "\n".join(lines).strip() + "\n"
