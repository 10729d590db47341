"""Home: what the viewer can ask for, and where their requests stand."""
import streamlit as st

from app.ending_soon import ending_soon
from core.changes.model import Status
from core.plaintext import md_escape
from portal import account, ui
from app.inbox import next_step, ready_to_merge, waiting_for
from app.review import person
from portal.recipe_form import start_renew
from recipes import RECIPES

services, actor = ui.services(), ui.viewer()
snapshot = services.snapshot()

st.title(f"Welcome, {md_escape(actor.name.split()[0])}")
st.caption("Ask for Snowflake access here. Every request becomes a reviewed change to the SnowDDL configuration; merging it deploys.")

# -- the inbox: what needs the viewer, per role; every count is a link to the page, filtered -----------
mine = services.changes.list(requester=actor.username)
pending = [cr for cr in mine if not cr.status.resolved]
inbox = st.container(border=True, key="home-inbox")
with inbox:
    st.subheader("Needs your attention" if pending or actor.can("approver") else "Your requests")
    st.page_link(ui.page("my_requests"), label=f"{len(pending)} of my requests open", icon=":material/list_alt:",
                 query_params={"status": "open"})
    for cr in sorted(pending, key=lambda cr: (cr.status != Status.CHANGES_REQUESTED, cr.created_at))[:5]:
        st.markdown(f"{ui.status_badge(cr.status)} **{cr.ref}** {md_escape(cr.title)} · next: {next_step(cr)}")
    if actor.can("approver"):
        waiting = waiting_for(services, actor)
        st.page_link(ui.page("review"), label=f"{len(waiting)} waiting for your review (oldest first)",
                     icon=":material/fact_check:", query_params={"status": "open"})
        for cr in waiting[:5]:
            st.page_link(ui.page("review"), label=f"{cr.ref} {md_escape(cr.title)} · {md_escape(person(services, cr.requester, snapshot))} · since {cr.created_at[:10]}",
                         query_params={"request": str(cr.id)})
    if actor.can("admin"):
        ready = ready_to_merge(services)
        st.page_link(ui.page("review"), label=f"{len(ready)} ready to merge", icon=":material/merge:",
                     query_params={"status": "approved"})
        account.home_figures()  # findings and spend, from the account (cached; one line each, each a link)

sent_back = [cr for cr in mine if cr.status == Status.CHANGES_REQUESTED]
if sent_back:
    st.warning(f"{len(sent_back)} of your requests need changes: edit and resubmit them under My requests.",
               icon=":material/rate_review:")


def link(key: str, description: str) -> None:
    """A page link labelled with the page's short title, its description underneath (wrapping)."""
    st.page_link(ui.page(key), label=ui.PAGES[key].title, icon=ui.PAGES[key].icon)
    if description:
        st.caption(description)


# Time-bound access ending within 14 days: the viewer's own with a Renew button; everything for admins.
ending = ending_soon(services, actor, 14)
if ending:
    st.subheader("Access ending soon" if not actor.can("admin") else "Time-bound access ending soon (everyone's)")
    for item in ending:
        g = item.grant
        when_text = (f"ended {-item.days_left} day(s) ago: its revoke request is on its way" if item.days_left < 0
                     else "ends today" if item.days_left == 0 else f"ends in {item.days_left} day(s)")
        by = f", granted by {item.granted_by.ref}" if item.granted_by else ""
        text_col, button_col = st.columns([5, 1])
        text_col.text(f"{g.user} · {g.role} · until {g.until.isoformat()} ({when_text}{by})")  # names as plain text
        if item.mine and button_col.button("Renew", key=f"home.renew.{g.user}.{g.role}"):
            start_renew(item.renewal(services.clock().date()),
                        f"Renewing {g.role} for {g.user}: pick the new end date, say why it is still needed, preview, submit.")

left, right = st.columns(2)
with left:
    st.subheader("Ask for")
    by_page: dict[str, list] = {}
    for recipe in RECIPES.values():
        by_page.setdefault(recipe.page, []).append(recipe)
    for section, keys in ui.REQUEST_SECTIONS.items():
        st.markdown(f"**{section}**")
        for key in keys:
            recipes = by_page.get(key, [])
            # Why the description is a caption, not part of the link: a link is one line that Streamlit cuts
            # off with an ellipsis when the column is narrower (half of 1280 px was), a caption wraps.
            link(key, " · ".join(r.description for r in recipes))
    st.markdown("**Follow up**")
    link("my_requests", "Each step, the reviewer's comments; edit and resubmit, or withdraw")
    if actor.can("approver"):
        link("review", "Requests waiting for your decision")
with right:
    st.subheader("The configuration")
    c = snapshot.config
    st.markdown(
        f"{len(c.users)} users · {len(c.business_roles)} business roles · {len(c.technical_roles)} technical roles · "
        f"{len(c.warehouses)} warehouses · {len(c.databases)} databases · {len(c.schemas)} schemas"
    )
    st.caption(f"{services.settings.base_branch} at `{snapshot.sha[:8]}`")
    for commit in services.changes.recent_commits(5):
        st.markdown(f"- `{commit['sha'][:8]}` {md_escape(commit['subject'])} · {md_escape(commit['author'])} · {ui.when(commit['at'])}")
