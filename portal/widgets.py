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


def preview_panel(preview) -> None:
    """What a requester sees before submitting: summary, the effective access per person, SnowDDL's
    verdict, the diff (and, with the core's offline plan, the DDL it would run)."""
    st.subheader("Preview")
    if preview.changes is not None:
        st.markdown(md_escape(preview.changes.summary, starts_line=True))
    access_change(getattr(preview, "access", None), key="preview.access")
    validation_view(preview.validation.to_dict() if preview.validation else None)
    if getattr(preview, "base_errors", 0) and not preview.ok:  # not the request's fault: say whose it is
        st.warning(md_escape(preview.rejection()[0].upper() + preview.rejection()[1:] + "."), icon=":material/warning:")
    diff_view(preview.diff)
    plan_view(preview.plan)


PLAN_PAGE = 20  # objects per page of the plan's SQL


def plan_groups(plan) -> list[tuple[str, str, list]]:
    """The plan's statements grouped by object: [(object type, object, statements)], groups with an
    unsafe statement first (unsafe statements first inside each group), then in plan order."""
    groups: dict[tuple[str, str], list] = {}
    for s in plan.statements:
        groups.setdefault((s.object_type, s.object or ""), []).append(s)
    ordered = sorted(groups.items(), key=lambda kv: not any(s.unsafe for s in kv[1]))
    return [(t, o, [s for s in ss if s.unsafe] + [s for s in ss if not s.unsafe]) for (t, o), ss in ordered]


def plan_view(plan, key: str = "plan") -> None:
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
        with st.expander(f"SQL by object ({len(plan.statements)} statements)"):
            pages = (len(groups) + PLAN_PAGE - 1) // PLAN_PAGE
            page = 1
            if pages > 1:
                page = st.number_input(f"Page (of {pages}, {PLAN_PAGE} objects each)", 1, pages, 1, key=f"{key}.page")
            for t, o, ss in groups[(page - 1) * PLAN_PAGE: page * PLAN_PAGE]:
                st.caption(f"{t} {inline_code(o)}" if o else t)
                st.code("\n".join(header(s) + s.sql.rstrip() + ";" for s in ss), language="sql")
    if plan.not_previewed:
        st.caption("Not previewed offline: " + ", ".join(plan.not_previewed))


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
    for column in [c for c, dtype in frame.dtypes.items() if dtype == object or pd.api.types.is_string_dtype(dtype)]:
        frame[column] = frame[column].map(csv_cell)
    return frame.to_csv(index=False, lineterminator="\r\n").encode()  # RFC 4180: a CR in a cell is quoted too


def table(frame, name: str, key_prefix: str, **kwargs) -> None:
    """A dashboard table (cells shown as plain text) and its CSV download `name`.csv."""
    st.dataframe(frame, hide_index=True, width="stretch", **kwargs)
    st.download_button(f"Download {name}.csv", csv_bytes(frame), file_name=f"{name}.csv",
                       mime="text/csv", on_click="ignore", key=f"{key_prefix}.csv.{name}", icon=":material/download:")


def finding_row(finding, key: str, on_fix) -> None:
    """One finding: severity, code, message (plain text) and, when a recipe fixes it, a Fix button."""
    cols = st.columns([1, 6, 1.4])
    colour = {"high": "red", "medium": "orange", "low": "gray"}[finding.severity]
    cols[0].badge(finding.severity, color=colour)
    cols[1].text(f"{finding.code} · {finding.object}: {finding.message}")
    if finding.fix:
        cols[2].button("Fix" if finding.fix.complete else "Fix ...", key=key, on_click=on_fix, args=(finding,),
                       icon=":material/healing:", help=f"Opens the {finding.fix.recipe} request, filled in"
                       + ("" if finding.fix.complete else " (pick the rest)"))
    else:
        cols[2].caption("no recipe")
