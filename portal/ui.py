"""What every page needs from the shell: the backends (built once) and the signed-in viewer."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import streamlit as st

from core.changes.model import Actor, Status
from app.paths import PAGES_DIR  # the checkout's pages/, or the installed wheel's bundle
from app.services import Services, build_services
from app.mode import Mode
from app.settings import load_settings
from portal import streamlit_adapter

# Every page and the entry script import this module: the process's settings and viewer are Streamlit's
# (app.host) from here on, whichever portal module was imported first. Without it a server configured in
# secrets.toml alone would read as the demo (the default mode) until portal.auth was imported.
streamlit_adapter.install()

_FROZEN = False  # whether freeze_loaded_objects has run in this process


def freeze_loaded_objects() -> None:
    """Once per server process, after the portal's modules are imported: move every object alive now out of
    the garbage collector's reach (gc.freeze). Streamlit collects all generations after each script run
    (runner.postScriptGC); with the portal's modules loaded (about 200,000 objects: Streamlit, pandas, SnowDDL,
    the Snowflake connector) each of those collections took about 95 ms of CPU on the script thread, and after
    the freeze under 1 ms. A run's own garbage is still collected; what is frozen lives as long as the process
    anyway (modules, classes, functions)."""
    global _FROZEN
    if not _FROZEN:
        import gc

        gc.collect()
        gc.freeze()
        _FROZEN = True


VIEWER_KEY = "snowtower.viewer"


@dataclass(frozen=True)
class PageRecord:
    """One page of the portal: everything the navigation, the authorization and their tests know of it."""

    key: str  # its address is the key with dashes (/grant-role); recipes name it (Recipe.page)
    title: str
    icon: str
    # Its navigation section, in the order of PAGE_RECORDS: "" is Home's (and the hidden addresses').
    section: str
    # Its script in pages/; None: the page is the form of the recipe whose page it is, drawn from RECIPES
    # (portal.recipe_form.recipe_form_page).
    file: str | None = None
    # The role a page needs; None: every signed-in viewer. The entry script lists a page only for viewers
    # with its role; one without it who opens its address is told so (denied_page), and the page checks
    # again itself (require_page): the navigation is not the guard.
    role: str | None = None
    # Pages that need the workspace (users file, sign-in lock-out): not offered in Streamlit in Snowflake,
    # where viewers are Snowflake users and there is no workspace.
    needs_workspace: bool = False

    @property
    def url_path(self) -> str:
        return self.key.replace("_", "-")


# Navigation sections of the request pages (the entry script adds My requests and the review queue).
REQUEST_SECTION_TITLES = ("Access", "Infrastructure")

# Every page, in the order of the navigation; the entry script chooses which of these a viewer gets. A request
# page without a file is its recipe's form (the recipe whose `page` is its key).
PAGE_RECORDS = (
    PageRecord("home", "Home", ":material/home:", "", file="home.py"),
    PageRecord("my_requests", "My requests", ":material/list_alt:", "Request", file="my_requests.py"),
    PageRecord("new_user", "New user", ":material/person_add:", "Access"),
    PageRecord("new_service_user", "New service user", ":material/smart_toy:", "Access"),
    PageRecord("grant_role", "Grant roles", ":material/add_moderator:", "Access"),
    PageRecord("revoke_role", "Revoke roles", ":material/remove_moderator:", "Access", file="revoke_role.py"),
    PageRecord("rotate_key", "Rotate a key", ":material/key:", "Access", file="rotate_key.py"),
    PageRecord("offboard_user", "Offboard a user", ":material/person_off:", "Access"),
    PageRecord("remove_password", "Remove a password", ":material/password:", "Access"),
    PageRecord("business_role", "New business role", ":material/badge:", "Infrastructure"),
    PageRecord("change_business_role", "Change a business role", ":material/edit_note:", "Infrastructure"),
    PageRecord("database", "New database", ":material/database:", "Infrastructure"),
    PageRecord("warehouse", "New warehouse", ":material/factory:", "Infrastructure"),
    PageRecord("change_warehouse", "Resize a warehouse", ":material/speed:", "Infrastructure", file="change_warehouse.py"),
    PageRecord("remove_warehouse", "Remove a warehouse", ":material/delete:", "Infrastructure"),
    PageRecord("review", "Review queue", ":material/fact_check:", "Review", file="review.py", role="approver"),
    # every signed-in viewer may open it; it shows admins everything and others only the items they review
    PageRecord("access_review", "Access review", ":material/verified_user:", "Review", file="access_review.py"),
    PageRecord("logins", "Logins", ":material/lock_person:", "Admin", file="logins.py", role="admin", needs_workspace=True),
    PageRecord("cost", "Cost", ":material/payments:", "Admin", file="cost.py", role="admin"),
    PageRecord("security", "Security", ":material/security:", "Admin", file="security.py", role="admin"),
    PageRecord("infrastructure", "Infrastructure", ":material/account_tree:", "Admin", file="infrastructure.py", role="admin"),
    PageRecord("audit", "Audit log", ":material/history:", "Admin", file="audit.py", role="admin"),
    PageRecord("status", "Status", ":material/monitor_heart:", "Admin", file="status.py", role="admin"),
)


def page_views(records: tuple[PageRecord, ...]) -> dict[str, Any]:
    """What the rest of the portal reads of the registry, derived from `records` (never declared again):
    PAGE_RECORDS; PAGES by key; PAGE_ROLES, the pages a role guards (key -> role); WORKSPACE_PAGES, the
    pages that need the workspace; REQUEST_SECTIONS, the request pages by section (title -> keys)."""
    return {
        "PAGE_RECORDS": records,
        "PAGES": {p.key: p for p in records},
        "PAGE_ROLES": {p.key: p.role for p in records if p.role},
        "WORKSPACE_PAGES": {p.key for p in records if p.needs_workspace},
        "REQUEST_SECTIONS": {title: [p.key for p in records if p.section == title] for title in REQUEST_SECTION_TITLES},
    }


_VIEWS = page_views(PAGE_RECORDS)
PAGES: dict[str, PageRecord] = _VIEWS["PAGES"]
PAGE_ROLES: dict[str, str] = _VIEWS["PAGE_ROLES"]
WORKSPACE_PAGES: set[str] = _VIEWS["WORKSPACE_PAGES"]
REQUEST_SECTIONS: dict[str, list[str]] = _VIEWS["REQUEST_SECTIONS"]


def may_open(actor: Actor, key: str) -> bool:
    role = PAGE_ROLES.get(key)
    return role is None or actor.can(role)


def offered(key: str) -> bool:
    """Whether this deployment has page `key` at all (not the pages that need a workspace, in SiS)."""
    return key not in WORKSPACE_PAGES or not Mode.of(load_settings()).in_sis


def _not_offered(key: str) -> None:
    st.title(PAGES[key].title)
    st.info(f"{PAGES[key].title} is not part of SnowTower in Streamlit in Snowflake: viewers are Snowflake users, "
            "with portal roles from their Snowflake roles (the setting sis_role_mapping).", icon=":material/info:")


def absent_page(key: str) -> st.Page:
    """A hidden page at `key`'s address saying this deployment does not offer it."""
    record = PAGES[key]
    return st.Page(lambda: _not_offered(key), title=record.title, icon=record.icon, url_path=record.url_path,
                   visibility="hidden")


def _refuse(key: str) -> None:
    title, role = PAGES[key].title, PAGE_ROLES[key]
    st.title(title)
    st.error(f"{title} is for {role}s; your login does not have that role. An admin can grant it in the users file.",
             icon=":material/block:")


def denied_page(key: str) -> st.Page:
    """A hidden page at `key`'s address that says the viewer may not open it (instead of a silent Home)."""
    record = PAGES[key]
    return st.Page(lambda: _refuse(key), title=record.title, icon=record.icon, url_path=record.url_path,
                   visibility="hidden")


def require_page(key: str) -> Actor:
    """The viewer, if they may open page `key`; otherwise the page says why and stops."""
    actor = viewer()
    if not offered(key):
        _not_offered(key)
        st.stop()
    if not may_open(actor, key):
        _refuse(key)
        st.stop()
    return actor


def page(key: str, **kwargs) -> st.Page:
    """The st.Page for a key of PAGES (for st.navigation and st.page_link alike): its script, or the form of
    its recipe (a callable: the page's address stays /<key>)."""
    record = PAGES[key]
    target = str(PAGES_DIR / record.file) if record.file else partial(_recipe_form, key)
    return st.Page(target, title=record.title, icon=record.icon, url_path=record.url_path, **kwargs)


def _recipe_form(key: str) -> None:
    from portal.recipe_form import recipe_form_page  # (it draws with this module's helpers)

    recipe_form_page(key)


@st.cache_resource(show_spinner=False)
def _services(workspace: str) -> Services:
    settings = load_settings(workspace)
    # In Streamlit in Snowflake the app's session is the Snowflake connection (audit log, queries, roles).
    # (auth = sis outside SiS is the demo's only: app.settings refuses it on a server.)
    return build_services(settings, live_source(settings.snowflake_connection) if Mode.of(settings).in_sis else None)


def identity():
    """Who may sign in (app.identity), for the sign-in before the backends are needed: local logins and
    OIDC need no backend; Streamlit in Snowflake reads roles through the services' Snowflake source."""
    settings = load_settings()
    if settings.auth == "sis":
        return services().identity
    return _identity(str(settings.workspace))


@st.cache_resource(show_spinner=False)
def _identity(workspace: str):
    from app.identity import identity_for

    return identity_for(load_settings(workspace))


def services() -> Services:
    """The backends for the configured workspace, built once per process."""
    return _services(str(load_settings().workspace))


@st.cache_resource(show_spinner=False)
def live_source(name: str = "snowflake"):
    """The query layer's source over st.connection(name): secrets [connections.NAME], or the active
    session in Streamlit in Snowflake. Raises when no connection can be made."""
    from core.snowflake.connect import streamlit_source

    return streamlit_source(st.connection(name))


def audit_log():
    """The audit log of the configured workspace (for the sign-in, before the backends are built)."""
    if Mode.of(load_settings()).in_sis:
        return services().audit  # a Snowflake table through the app's session
    return _audit_log(str(load_settings().workspace))


@st.cache_resource(show_spinner=False)
def _audit_log(workspace: str):
    from app.audit_stores import audit_log_for

    return audit_log_for(load_settings(workspace))


def viewer() -> Actor:
    actor = st.session_state.get(VIEWER_KEY)
    if actor is None:  # pages are only reachable through the entry script, which signs in first
        st.stop()
    return actor


NO_LONGER_ALLOWED = "Your login is no longer allowed to do this; nothing was done."


def viewer_now() -> Actor | None:
    """The viewer with the roles the identity port gives them now (None: signed out, disabled, removed,
    or no role left). Button callbacks use it to draw their answer: they run before the entry script
    reads the roles again. (The operations check again themselves: app.operations.shared.audited.)"""
    actor = st.session_state.get(VIEWER_KEY)
    if actor is None:
        return None
    return identity().actor(actor.username)


def when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


STATUS_COLORS = {
    Status.OPEN: "blue", Status.CHANGES_REQUESTED: "orange", Status.APPROVED: "violet",
    Status.MERGED: "green", Status.DEPLOYED: "green", Status.REJECTED: "red", Status.WITHDRAWN: "gray",
}


def status_badge(status: Status) -> str:
    return f":{STATUS_COLORS[status]}-badge[{status.label}]"
