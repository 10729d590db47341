"""Infrastructure: what the config defines, who can reach any object and what a user can reach (through
the role hierarchy SnowDDL derives), and the resource monitors (admins)."""
import pandas as pd
import streamlit as st

from core.findings.reach import KINDS, ReachGraph, dot, fold, privilege_kind, summary, summary_text
from core.snowddl.plan import PlanError
from core.plaintext import md_escape
from portal import account, ui, widgets

services, actor = ui.services(), ui.viewer()
# Why: the full map of who reaches which data is for the platform's admins only.
if not actor.can("admin"):
    st.error("The infrastructure page is for admins.")
    st.stop()

st.title("Infrastructure")
snapshot = services.snapshot()
if snapshot.config.snowddl is None or snapshot.baseline() is None:
    st.error("The configuration on the base branch does not validate: fix it first (see `snowtower validate`).")
    st.stop()


@st.cache_resource(show_spinner=False, max_entries=4)
def reach_graph(root: str, sha: str | None, _snapshot) -> ReachGraph:
    return ReachGraph.from_baseline(_snapshot.baseline())


graph = reach_graph(str(snapshot.root), snapshot.sha, snapshot)
config = account.describe_config()
loaded = snapshot.config


def table(frame, name: str, **kwargs) -> None:
    widgets.table(frame, name, "infrastructure", **kwargs)


def grouped(rows: list[dict], noun: str, key: str, drawing) -> None:
    """The reach rows summed up first (plain text: names come from the config), then, on demand, the graph."""
    st.text(summary_text(rows, noun))
    groups = summary(rows)
    table(pd.DataFrame([{"THROUGH": role, noun.upper(): n, "OWNER": kinds.get("owner", 0), "WRITE": kinds.get("write", 0),
                         "READ": kinds.get("read", 0)} for role, n, kinds in groups]), f"{key}_summary")
    if st.toggle("Draw the graph", key=f"infrastructure.graph.{key}",
                 help="Users, their roles and the object; edges coloured by privilege: owner (red, bold), write "
                      "(orange), read (blue, dashed). At most 30 rows are drawn."):
        st.graphviz_chart(drawing(), width="content")


def search(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rows whose any cell contains the search text (case-insensitive, plain text, not a pattern)."""
    text = st.text_input("Search", key=f"infrastructure.search.{key}", placeholder="e.g. ANALYST", max_chars=200)
    if not text:
        return frame
    hay = frame.astype(str).apply(lambda col: col.str.upper())
    return frame[hay.apply(lambda col: col.str.contains(text.upper(), regex=False)).any(axis=1)].reset_index(drop=True)


m = st.columns(6)
for col, (label, count) in zip(m, [("Users", len(loaded.users)), ("Business roles", len(loaded.business_roles)),
                                   ("Technical roles", len(loaded.technical_roles)), ("Warehouses", len(loaded.warehouses)),
                                   ("Databases", len(loaded.databases)), ("Schemas", len(loaded.schemas))], strict=True):
    col.metric(label, f"{count:,}")
st.caption(f"The configuration on the base branch{f' at {snapshot.sha[:10]}' if snapshot.sha else ''}; roles and grants as "
           "SnowDDL derives them from it.")

who_tab, what_tab, inventory_tab, monitors_tab, drift_tab = st.tabs(["Who can reach X", "What can user Y reach", "Inventory",
                                                                     "Resource monitors", "Drift"])
with who_tab:
    cols = st.columns([1, 3])
    kind = cols[0].selectbox("Kind", KINDS, key="infrastructure.kind", format_func=str.title)
    target = cols[1].selectbox(kind.title(), graph.objects(kind), index=None, key="infrastructure.object",
                               placeholder=f"Choose a {kind.lower()} ...")
    if target:
        rows = graph.who_can_reach(kind, target)
        st.markdown(f"**{len(rows)} user(s)** can reach {md_escape(kind.lower())} **{md_escape(target)}**.")
        if rows:
            grouped(rows, "users", "who", lambda: dot(rows, f"{kind} {target}"))
            table(pd.DataFrame([{"USER": r["user"], "THROUGH": " > ".join(fold(r["path"])),
                                 "ACCESS": privilege_kind(r["privileges"]), "PRIVILEGES": ", ".join(r["privileges"])}
                                for r in rows]), "who_can_reach")
with what_tab:
    user = st.selectbox("User", loaded.users, index=None, key="infrastructure.user", placeholder="Choose a user ...")
    if user:
        rows = graph.what_can_reach(user)
        st.markdown(f"**{md_escape(user)}** reaches **{len(rows)}** object(s).")
        if rows:
            grouped(rows, "objects", "what", lambda: dot([dict(r, user=user) for r in rows]))
            table(pd.DataFrame([{"KIND": r["kind"], "OBJECT": r["object"], "THROUGH": " > ".join(fold(r["path"])),
                                 "ACCESS": privilege_kind(r["privileges"]), "PRIVILEGES": ", ".join(r["privileges"])}
                                for r in rows]), "what_user_can_reach")
with inventory_tab:
    users = pd.DataFrame(config["users"])
    holders = users.explode("roles").groupby("roles")["name"].count() if len(users) else pd.Series(dtype=int)
    kinds = {
        "Users": users.assign(roles=users["roles"].map(", ".join)) if len(users) else users,
        "Business roles": pd.DataFrame({"name": loaded.business_roles,
                                        "users": [int(holders.get(r, 0)) for r in loaded.business_roles]}),
        "Technical roles": pd.DataFrame({"name": loaded.technical_roles}),
        # config_name (the name without the env prefix) is for recipes' fields; the inventory shows SnowDDL's name
        "Warehouses": pd.DataFrame(config["warehouses"]).drop(columns=["config_name"], errors="ignore"),
        "Databases": pd.DataFrame({"name": loaded.databases}),
        "Schemas": pd.DataFrame({"name": loaded.schemas}),
    }
    which = st.radio("Show", list(kinds), horizontal=True, key="infrastructure.inventory")
    table(search(kinds[which], which), which.lower().replace(" ", "_"))
with monitors_tab:
    monitors = pd.DataFrame(config["monitors"])
    if monitors.empty:
        st.info("The configuration defines no resource monitors.")
    else:
        whs = pd.DataFrame(config["warehouses"])
        monitors["warehouses"] = monitors["name"].map(lambda n: ", ".join(whs[whs["monitor"] == n]["name"]))
        table(monitors, "resource_monitors")
        unmonitored = whs[whs["monitor"].isna() | (whs["monitor"] == "")]["name"].tolist()
        if unmonitored:
            st.warning(f"Without a resource monitor: {md_escape(', '.join(unmonitored))} (see Security > All "
                       "findings).", icon=":material/warning:")
        st.caption("Credits used against each quota this period: the Cost page, Budgets and forecast.")
with drift_tab:
    st.caption("What SnowDDL would run to make the account match the configuration on the base branch "
               "(its live plan: `snowtower plan --live`). Statements exist where the account drifted from the config, "
               "or where a merged change has not been deployed yet.")
    if not services.live_configured():
        st.info("No live Snowflake connection is configured, so drift cannot be checked here (the demo has no real "
                "account). Set SnowDDL's SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PRIVATE_KEY_PATH (or "
                "SNOWFLAKE_PRIVATE_KEY) for the portal.", icon=":material/cloud_off:")
    else:
        drift_key = "infrastructure.drift"
        known = st.session_state.get(drift_key)
        known = known if known and known[0] == snapshot.sha else None  # cached per commit of the base branch
        if st.button("Compare again" if known else "Compare the account with the config", key="infrastructure.drift.run",
                     icon=":material/sync:"):
            with st.spinner("SnowDDL is reading the account ..."):
                try:
                    known = (snapshot.sha, services.drift(snapshot.sha), None)
                except PlanError as exc:
                    known = (snapshot.sha, None, str(exc))
            st.session_state[drift_key] = known
        if known:
            _, drift, problem = known
            if problem:
                st.error(f"Drift could not be checked: {md_escape(problem)}", icon=":material/error:")
            else:
                for error in drift.errors:
                    st.warning(f"Part of the account could not be compared: {md_escape(error)}", icon=":material/warning:")
                if not drift.statements:
                    st.success("No drift: the account matches the configuration." if not drift.errors
                               else "No drift in the parts that could be compared.")
                else:
                    counts = ", ".join(f"{n} {a}" for a, n in drift.counts().items())
                    st.markdown(f"**{len(drift.statements)} statement(s)** would run: {md_escape(counts)}.")
                    if drift.unsafe_count:
                        st.error(f"{drift.unsafe_count} unsafe statement(s): they drop or revoke something that exists "
                                 "in the account but not in the config, or need an --apply-* flag.", icon=":material/warning:")
                    # Unsafe first, then grouped by object type; SQL carries account text: code blocks only.
                    ordered = sorted(drift.statements, key=lambda s: (not s.unsafe, s.object_type))
                    table(pd.DataFrame([{"UNSAFE": "unsafe" if s.unsafe else "", "OBJECT TYPE": s.object_type,
                                         "ACTION": s.action, "OBJECT": s.object or "", "WHY UNSAFE": s.reason}
                                        for s in ordered]), "drift")
                    groups: dict[tuple[bool, str], list] = {}
                    for s in ordered:
                        groups.setdefault((s.unsafe, s.object_type), []).append(s)
                    for (unsafe, object_type), statements in groups.items():
                        with st.expander(f"{'Unsafe: ' if unsafe else ''}{md_escape(object_type.replace('_', ' ').lower())} "
                                         f"({len(statements)})"):
                            st.code("\n\n".join((f"-- UNSAFE: {s.reason}\n" if s.unsafe else "") + s.sql.rstrip() + ";"
                                                 for s in statements), language="sql")
