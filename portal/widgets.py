"""Shared widgets: diff view, validation result, SnowDDL plan, status timeline."""
from __future__ import annotations

import streamlit as st

from core.changes.model import Event
from core.plaintext import csv_cell, inline_code, md_escape
from portal.ui import when

_ACTIONS = {
    "submitted": "Submitted", "approved": "Approved", "changes_requested": "Changes requested",
    "commented": "Commented", "resubmitted": "Resubmitted", "rejected": "Rejected", "withdrawn": "Withdrawn", "rebased": "Branch updated",
    "voided": "Back to review", "merged": "Merged", "deployed": "Deployed", "deploy_failed": "Deployment failed",
    "deploy-failed": "Deployment failed", "deploy-waiting": "Partly deployed",
}


DIFF_LINES, DIFF_HEIGHT = 30, 560  # a diff longer than this many lines is shown in a box this many pixels high


def diff_view(diff: str) -> None:
    if not diff.strip():
        st.info("No file changes.")
        return
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    st.caption(f"{added} line(s) added, {removed} removed")
    # A long diff scrolls in its own box, so what follows it (flags, the decision) stays near the top.
    lines = diff.count("\n") + 1
    st.code(diff, language="diff", line_numbers=False, height="content" if lines <= DIFF_LINES else DIFF_HEIGHT)


ACCESS_USERS = 8  # users listed before the effective access scrolls in its own box


def access_change(access=None, key: str = "access", *, services=None, cr=None) -> None:
    """The effective access a change adds and removes, per person, in plain sentences (what an approver
    needs first), then the blast radius of each changed business or technical role, and every line with
    its roles and SnowDDL grants in a folded table. `access`: core.findings.access.AccessChange (or its
    dict, as a preview's JSON carries it); or `services` and a change request `cr`: the request's, from
    app.access.for_request (cached per pair of commits). None shows nothing. Names show as plain text."""
    from core.findings.access import AccessChange

    if access is None and cr is not None:
        from app.access import for_request

        access = for_request(services, cr)
    if access is None:
        return
    access = AccessChange.from_dict(access) if isinstance(access, dict) else access
    st.markdown("**Effective access**")
    if access.error:
        st.warning(md_escape(f"Effective access not computed: {access.error}", starts_line=True), icon=":material/warning:")
        return
    gained = sum(a.change == "gained" for a in access.changes)
    lost = len(access.changes) - gained
    people = access.by_user()
    if not access.changes:
        st.success("No change in access: nobody gains or loses a privilege.", icon=":material/check_circle:")
    else:
        st.caption(f"{len({a.user for a in access.changes})} person(s) affected: {gained} gain(s), {lost} loss(es)")
    if access.roles:  # a business or technical role changed: how far it reaches, first
        st.markdown("\n".join(f"- {md_escape(r.sentence())}" for r in access.roles))
    box = st.container(height=360) if len(people) > ACCESS_USERS else st.container()
    with box:
        for _, _, lines in people:
            st.markdown("\n".join(f"- {md_escape(line)}" for line in lines))
    rows = access.changes + access.unchanged
    if rows:
        import pandas as pd

        with st.expander(f"Details ({len(rows)} line(s): roles and SnowDDL grants)"):
            st.dataframe(pd.DataFrame([{"Person": a.name, "User": a.user, "Change": a.change, "Privilege": a.privilege,
                                        "Object": a.object, "Via": ", ".join(a.via), "Path": " > ".join(a.path),
                                        "Grants": "; ".join(a.grants)} for a in rows]),
                         hide_index=True, width="stretch", height=min(36 + 35 * len(rows), 320), key=f"{key}.details")


FOLD_AT, FOLD_KEEP = 160, 100  # a diff line longer than FOLD_AT characters shows its first FOLD_KEEP


def _path(line: str) -> str:
    """The file of a `--- a/x` or `+++ b/x` line; "" for /dev/null."""
    path = line[4:].split("\t", 1)[0]
    return "" if path == "/dev/null" else path[2:] if path[:2] in ("a/", "b/") else path


def readable_diff(diff: str) -> list[tuple[str, str]]:
    """A unified diff as [(file, its hunks)], for people: git's header lines (diff --git, index, modes,
    ---/+++) dropped, the file named instead; each line longer than FOLD_AT characters (a key, a long
    comment) cut to FOLD_KEEP and marked with how many characters are folded. Lines inside a hunk are
    never taken for headers (a removed "-- x" line reads "--- x")."""
    lines = diff.splitlines()
    files: list[list] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            files.append([line.split(" b/", 1)[1] if " b/" in line else "", []])
            i += 1
            while i < len(lines) and not lines[i].startswith(("@@", "diff --git ")):
                if lines[i].startswith(("--- ", "+++ ")) and _path(lines[i]):
                    files[-1][0] = _path(lines[i])
                i += 1
            continue
        if (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")
                and (i + 2 == len(lines) or lines[i + 2].startswith("@@"))):
            files.append([_path(lines[i + 1]) or _path(line), []])
            i += 2
            continue
        if not files:
            files.append(["", []])
        if len(line) > FOLD_AT:
            line = f"{line[:FOLD_KEEP]} … ({len(line) - FOLD_KEEP} more characters folded)"
        files[-1][1].append(line)
        i += 1
    return [(path, "\n".join(body)) for path, body in files if body]


def readable_diff_view(diff: str, key: str = "diff") -> None:
    """readable_diff, one block per file named above it, and the diff as git shows it (folded away)."""
    if not diff.strip():
        st.info("No file changes.")
        return
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    st.caption(f"{added} line(s) added, {removed} removed")
    # A long change scrolls in one box of DIFF_HEIGHT, so what follows it stays near the top.
    with st.container(height="content" if len(lines) <= DIFF_LINES else DIFF_HEIGHT, border=False):
        for path, text in readable_diff(diff):
            if path:
                st.caption(inline_code(path))
            st.code(text, language="diff", line_numbers=False)
    with st.expander("The diff as git shows it (nothing folded)"):
        st.code(diff, language="diff", line_numbers=False, height="content" if len(lines) <= DIFF_LINES else DIFF_HEIGHT)


def duration_badge(recipe_name: str, request: dict) -> str:
    """For a request with a time-bound field (grant-role's until): ":blue-badge[until 2027-01-31]", or
    ":orange-badge[permanent]" when it has no end date; "" for other requests."""
    from recipes import RECIPES

    recipe = RECIPES.get(recipe_name)
    field = recipe.field("until") if recipe else None
    if field is None or field.kind != "until":
        return ""
    until = str((request or {}).get("until") or "")
    return f":blue-badge[until {md_escape(until)}]" if until else ":orange-badge[permanent]"


def preview_panel(preview) -> None:
    """What a requester sees before submitting: summary (and how long the access lasts), the effective
    access per person, SnowDDL's verdict; the diff and the offline plan's DDL behind Details."""
    st.subheader("Preview")
    if preview.changes is not None:
        st.markdown(md_escape(preview.changes.summary, starts_line=True))
        badge = duration_badge(preview.recipe, preview.request_dict or {})
        if badge:
            st.markdown(badge)
    access_change(getattr(preview, "access", None), key="preview.access")
    validation_view(preview.validation.to_dict() if preview.validation else None)
    if getattr(preview, "base_errors", 0) and not preview.ok:  # not the request's fault: say whose it is
        st.warning(md_escape(preview.rejection()[0].upper() + preview.rejection()[1:] + "."), icon=":material/warning:")
    # Files, git's diff, SnowDDL's statements and what the offline plan cannot preview are for those who want
    # them: behind Details, so the form speaks in the requester's words first.
    with st.expander("Details: the files this changes and SnowDDL's plan"):
        diff_view(preview.diff)
        plan_view(preview.plan, nested=True)


PLAN_PAGE = 20  # objects per page of the plan's SQL


def plan_groups(plan) -> list[tuple[str, str, list]]:
    """The plan's statements grouped by object: [(object type, object, statements)], groups with an
    unsafe statement first (unsafe statements first inside each group), then in plan order."""
    groups: dict[tuple[str, str], list] = {}
    for s in plan.statements:
        groups.setdefault((s.object_type, s.object or ""), []).append(s)
    ordered = sorted(groups.items(), key=lambda kv: not any(s.unsafe for s in kv[1]))
    return [(t, o, [s for s in ss if s.unsafe] + [s for s in ss if not s.unsafe]) for (t, o), ss in ordered]


def plan_view(plan, key: str = "plan", nested: bool = False, notes: bool = True) -> None:
    """SnowDDL's plan, of any length in bounded height: counts by action, the unsafe statements first
    and marked, one row per object (a scrolling table), the SQL folded and paged by object. `key`:
    the widget key prefix (one per plan on a page)."""
    from core.snowddl.plan import Plan

    if not plan:
        return
    plan = Plan.from_dict(plan) if isinstance(plan, dict) else plan
    st.markdown("**SnowDDL plan** (offline, against the deployed configuration)" if plan.mode == "offline" else "**SnowDDL plan** (live)")
    for error in plan.errors:
        st.warning(md_escape(error, starts_line=True), icon=":material/warning:")
    if not plan.statements and not plan.errors:
        st.info("SnowDDL would run no statement.")
    if plan.statements:
        groups = plan_groups(plan)
        counts = ", ".join(f"{n} {action}" for action, n in plan.counts().items())
        st.caption(f"{len(plan.statements)} statement(s) on {len(groups)} object(s): {counts}")
        # Each statement is numbered as in SnowDDL's plan, the number a risk flag names ("plan statement 3"),
        # since the view below reorders them (by object, unsafe first).
        number = {id(s): i for i, s in enumerate(plan.statements, 1)}

        def header(s) -> str:
            return f"-- statement {number[id(s)]}" + (": UNSAFE" + (f": {s.reason}" if s.reason else "") if s.unsafe else "") + "\n"
        unsafe = [s for s in plan.statements if s.unsafe]
        if unsafe:
            st.error(f"{len(unsafe)} unsafe statement(s): they take something away or need an --apply-* flag.",
                     icon=":material/warning:")
            st.code("\n".join(f"{header(s)}{s.sql.rstrip()};" for s in unsafe[:PLAN_PAGE])
                    + (f"\n-- ... and {len(unsafe) - PLAN_PAGE} more unsafe statement(s) below" if len(unsafe) > PLAN_PAGE else ""),
                    language="sql")
        import pandas as pd

        rows = pd.DataFrame([{"Unsafe": sum(s.unsafe for s in ss), "Type": t, "Object": o, "Statements": len(ss),
                              "Actions": ", ".join(sorted({s.action for s in ss}))} for t, o, ss in groups])
        st.dataframe(rows, hide_index=True, width="stretch", height=min(36 + 35 * len(rows), 320), key=f"{key}.objects")
        def sql_pages() -> None:
            pages = (len(groups) + PLAN_PAGE - 1) // PLAN_PAGE
            page = 1
            if pages > 1:
                page = st.number_input(f"Page (of {pages}, {PLAN_PAGE} objects each)", 1, pages, 1, key=f"{key}.page")
            for t, o, ss in groups[(page - 1) * PLAN_PAGE: page * PLAN_PAGE]:
                st.caption(f"{t} {inline_code(o)}" if o else t)
                st.code("\n".join(header(s) + s.sql.rstrip() + ";" for s in ss), language="sql")

        title = f"SQL by object ({len(plan.statements)} statements)"
        if nested:  # inside an expander (the preview's Details) Streamlit allows no second one: a toggle folds it
            if st.toggle(title, key=f"{key}.sql"):
                sql_pages()
        else:
            with st.expander(title):
                sql_pages()
    if plan.not_previewed and notes:  # notes=False: the page shows not_previewed_note itself (behind Details)
        st.caption(not_previewed_note(plan))


def not_previewed_note(plan) -> str:
    """What the offline plan leaves out, in words ("" when nothing)."""
    return ("Not previewed offline (checked when it deploys): " + ", ".join(plan.not_previewed)) if plan.not_previewed else ""


def validation_view(validation: dict | None) -> None:
    if not validation:
        return
    if validation.get("valid"):
        warnings = validation.get("warnings") or []
        st.success("SnowDDL validation passed" + (f", {len(warnings)} warning(s)." if warnings else "."), icon=":material/check_circle:")
    else:
        st.error(f"SnowDDL validation failed with {len(validation.get('errors', []))} error(s).", icon=":material/error:")
    for problem in validation.get("errors", []) + validation.get("warnings", []):
        where = ":".join(str(x) for x in (problem.get("file"), problem.get("line")) if x)
        st.markdown(f"- {inline_code(where or 'config')} {md_escape(problem.get('message'))}")


def timeline(events: list[Event]) -> None:
    """Each status change with its time, oldest first."""
    rows = ["| When | What | Who | Note |", "|---|---|---|---|"]
    for e in events:
        rows.append(f"| {when(e.at)} | **{_ACTIONS.get(e.action, e.action)}** | {md_escape(e.actor)} | {md_escape(e.detail)} |")
    st.markdown("\n".join(rows))


def cost_projection(projection, currency: str) -> None:
    """A warehouse request's projected monthly cost: today and after the change, credits and money."""
    st.markdown("**Projected monthly cost**" + (" :orange-badge[estimate]" if projection.estimate else ""))
    cols = st.columns(2)
    if projection.current_credits is not None:
        cols[0].metric("Today, per month", f"{projection.current_money:,.0f} {currency}",
                       help=f"{projection.current_credits:,.1f} credits per month")
    delta = None
    if projection.current_credits is not None:
        delta = f"{projection.projected_money - projection.current_money:+,.0f} {currency}"
    cols[1].metric("After this change, per month", f"{projection.projected_money:,.0f} {currency}", delta=delta,
                   delta_color="inverse", help=f"{projection.projected_credits:,.1f} credits per month")
    st.caption(f"{md_escape(projection.basis)}; {projection.price_per_credit:,.2f} {md_escape(currency)} per credit.")


def csv_bytes(frame) -> bytes:
    """A table as CSV (UTF-8) whose text cells a spreadsheet opens as text, never as formulas: names,
    emails and error messages come from the account, where outsiders choose them."""
    import pandas as pd

    frame = frame.copy()
    for column in [c for c, dtype in frame.dtypes.items() if dtype == object or pd.api.types.is_string_dtype(dtype)]:  # noqa: E721 (a numpy dtype equals object; it is not it)
        frame[column] = frame[column].map(csv_cell)
    return frame.to_csv(index=False, lineterminator="\r\n").encode()  # RFC 4180: a CR in a cell is quoted too


def table(frame, name: str, key_prefix: str, **kwargs) -> None:
    """A dashboard table (cells shown as plain text) and its CSV download `name`.csv."""
    st.dataframe(frame, hide_index=True, width="stretch", **kwargs)
    st.download_button(f"Download {name}.csv", csv_bytes(frame), file_name=f"{name}.csv",
                       mime="text/csv", on_click="ignore", key=f"{key_prefix}.csv.{name}", icon=":material/download:")


SEVERITY_COLOURS = {"critical": "red", "high": "orange", "medium": "blue", "low": "gray"}  # st.badge colours
SEVERITY_ICONS = {"critical": ":material/error:", "high": ":material/warning:", "medium": ":material/info:",
                  "low": ":material/low_priority:"}


def severity_badge(container, severity: str, text: str | None = None) -> None:
    """A badge in the severity's colour (SEVERITY_COLOURS); `text` (ours, never account text) defaults to it."""
    container.badge(text or severity, color=SEVERITY_COLOURS[severity], icon=SEVERITY_ICONS[severity])


def severity_counts(counts: dict[str, int], extra: str = "") -> None:
    """One line of badges, "2 critical · 3 high · ...", each in its severity's colour (numbers and our own
    words only: no account text reaches this Markdown)."""
    marks = [f":{SEVERITY_COLOURS[sev]}-badge[{SEVERITY_ICONS[sev]} {int(n)} {sev}]" for sev, n in counts.items()]
    st.markdown(" ".join(marks) + (f" {extra}" if extra else ""))


def finding_row(finding, key: str, on_fix, state=None, details=None) -> None:
    """One finding: severity, code, message (plain text), its state and first/last seen (app.findings_state,
    when given) and, when a recipe fixes it, a Fix button. `details(finding)` draws below it (evidence, accept)."""
    cols = st.columns([1, 6, 1.4])
    severity_badge(cols[0], finding.severity)
    cols[1].text(f"{finding.code} · {finding.object}: {finding.message}")
    if state is not None:
        seen = f"{state.state} · first seen {state.first_seen:%Y-%m-%d %H:%M} · last seen {state.last_seen:%Y-%m-%d %H:%M} UTC"
        if state.state == "accepted":
            seen += f" · accepted by {state.accepted_by} until {state.accepted_until}: {state.accepted_reason}"
        cols[1].text(seen)
    if details is not None:
        with cols[1]:
            details(finding)
    if finding.fix:
        cols[2].button("Fix" if finding.fix.complete else "Fix ...", key=key, on_click=on_fix, args=(finding,),
                       icon=":material/healing:", help=f"Opens the {finding.fix.recipe} request, filled in"
                       + ("" if finding.fix.complete else " (pick the rest)"))
    else:
        cols[2].caption("no recipe")
