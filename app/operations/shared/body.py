"""The change request's description: what reviewers read first (and GitHub shows as the PR body)."""
from __future__ import annotations

from core.changes.model import Actor
from core.plaintext import fenced, inline_code, md_escape
from app.operations.shared.preview import Preview

_HIDDEN = {"rsa_public_key", "rsa_public_key_2", "justification"}


ACCESS_LINES = 30  # sentences of the effective access in the body; the review shows them all


def access_section(access) -> list[str]:
    """The effective access (core.findings.access.AccessChange) as a short plain-text list: every sentence
    escaped (names come from the config, display names from what a requester typed), at most ACCESS_LINES."""
    if access is None:
        return []
    sentences = access.sentences()
    lines = ["**Effective access:**", ""]
    lines += [f"- {md_escape(s)}" for s in sentences[:ACCESS_LINES]]
    if len(sentences) > ACCESS_LINES:
        lines.append(f"- ... and {len(sentences) - ACCESS_LINES} more (see the review page)")
    return lines + [""]


def render_body(preview: Preview, requester: Actor) -> str:
    """The PR body in GitHub Markdown. What people typed (justification, names, comments, any field) sits in
    code blocks and escaped text it cannot break out of: it never renders as links, images or headings."""
    req = preview.request_dict
    fields = []
    for key, value in req.items():
        if key in _HIDDEN:
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else value
        fields.append(f"{key}: {shown}")
    lines = [
        f"**Request:** {md_escape(preview.recipe)}",
        f"**Requested by:** {md_escape(requester.name or requester.username)} ({inline_code(requester.username)})",
        "",
        "**Justification:**",
        "",
        fenced(req.get("justification", "")),
        "",
        md_escape(preview.changes.summary, starts_line=True) if preview.changes else "",
        "",
        *access_section(preview.access),
        "**Fields:**",
        "",
        fenced("\n".join(fields)),
    ]
    v = preview.validation
    lines += ["", f"**Validation:** {'passed' if v and v.valid else 'FAILED'}"
              + (f" ({len(v.warnings)} warning(s))" if v and v.warnings else "")]
    if preview.plan:  # what SnowDDL would run, unsafe statements first, SQL folded
        from core.snowddl.plan import Plan, render_markdown

        lines += ["", render_markdown(Plan.from_dict(preview.plan)).rstrip()]
    return "\n".join(lines).strip() + "\n"
