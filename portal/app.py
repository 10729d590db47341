"""SnowTower's entry script: a frame of sign-in, navigation for the viewer's roles and the sidebar.

Run by `snowtower demo` / `snowtower serve` (or `streamlit run portal/app.py`). Everything below runs
inside errors.guard: an unexpected exception shows an error id, never a traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Streamlit puts the script's folder (portal/) first on the path, where this file would shadow the
# `app` package as module "app": the project's root goes first, and portal/ off the path. From a copy of the
# path: other sessions' runs change it meanwhile (Streamlit adds portal/ for each run), and a run that read the
# live list while another inserted into it skipped an entry, so that the server lost the standard library's
# folder for good ("No module named 'unittest'", tests/test_entry_path.py).
sys.path[:] = [str(ROOT)] + [p for p in list(sys.path) if Path(p or ".").resolve() not in (ROOT, ROOT / "portal")]

import streamlit as st  # noqa: E402

from core.plaintext import inline_code, md_escape  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from portal import auth, errors, ui  # noqa: E402
from app.mode import Mode  # noqa: E402
from app.settings import SettingsError, check_setup  # noqa: E402

ui.freeze_loaded_objects()
st.set_page_config(page_title="SnowTower", page_icon=":material/ac_unit:", layout="wide")
st.logo(str(ROOT / "portal" / "assets" / "logo.svg"), size="large")


WANTED_KEY = "snowtower.wanted_page"  # the url_path a signed-out visitor asked for


def signed_out_navigation(render, title: str) -> None:
    """While nobody is signed in, every page's address draws `render` (the sign-in form, or the setup
    page): a reload or a link to /review keeps its address, and the run after sign-in opens that page
    (st.navigation picks the page by its url_path). Nothing of a page runs before sign-in."""
    pages = [st.Page(render, title=title, url_path=title.lower().replace(" ", "-"), default=True)]
    pages += [st.Page(render, title=record.title, url_path=record.url_path, visibility="hidden")
              for record in ui.PAGE_RECORDS if record.key != "home"]
    chosen = st.navigation(pages, position="hidden")
    if chosen.url_path != pages[0].url_path:
        # Remembered too: on a cold start the cookie check's rerun can reach the server before the browser
        # knows the page, and lands on the default page; the first signed-in run goes back (open_wanted).
        st.session_state[WANTED_KEY] = chosen.url_path
    chosen.run()


def remember_wanted() -> None:
    """Before the sign-in draws anything: the page this run was asked for (the address's path), kept
    for after sign-in. Read here because the sign-in's own reruns (the cookie check) can reach the
    server before the browser knows its page, and would land on the default page."""
    if st.session_state.get(ui.VIEWER_KEY) is not None:
        return
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        name = get_script_run_ctx().pages_manager.intended_page_name or ""
    except Exception:  # another Streamlit: the navigation's own choice (signed_out_navigation) still counts
        name = ""
    if name.replace("-", "_") in ui.PAGES:
        st.session_state[WANTED_KEY] = name


def open_wanted(chosen: st.Page, sections: dict) -> None:
    """A signed-in run on Home opens the page the visitor asked for first (a deep link or a reload) instead,
    until a run on that page has ended (run_page). Streamlit runs a reload's first run on its default
    page (the browser sends the main script's hash, not the address), so the wanted page is one switch away;
    a rerun the browser sent meanwhile, for the page it still showed (Home) or for no page (which is Home
    too), cut that switch short and stayed on Home (a clean-clone CI run). A run on another page (the viewer
    chose one) forgets it."""
    wanted = st.session_state.get(WANTED_KEY)
    if not wanted or chosen.url_path == wanted:
        return
    if chosen.url_path != "":  # "": Streamlit's default page, Home, at /
        st.session_state.pop(WANTED_KEY, None)
        return
    page = next((p for pages in sections.values() for p in pages if p.url_path == wanted), None)
    if page is None:  # no such page for this viewer any more
        st.session_state.pop(WANTED_KEY, None)
    else:
        st.switch_page(page)


def run_page(chosen: st.Page) -> None:
    """Run the chosen page; a run on the wanted page that ends reaches it: nothing is wanted any more. Ends: it
    finished, stopped itself (st.stop() ends many pages' ordinary runs: an empty review queue) or raised (the
    guard shows its error id). Cut short, and still wanted: a rerun took over (RerunException: the browser's
    rerun, a click, the page's own st.rerun or st.switch_page). Forgotten before the run and written back only
    when a rerun cuts it short, because a stopped run cannot write the session state any more (its every
    access raises the stop again). Kept through a stop, the wanted page took every click on Home back to it
    (tests/test_landing.py)."""
    from streamlit.runtime.scriptrunner import RerunException

    wanted = st.session_state.get(WANTED_KEY)
    reaching = wanted is not None and wanted == chosen.url_path
    if reaching:
        st.session_state.pop(WANTED_KEY, None)
    try:
        chosen.run()
    except RerunException:
        if reaching:
            st.session_state[WANTED_KEY] = wanted  # (a rerun's exception leaves the session state writable)
        raise


def settings_page(error: SettingsError) -> None:
    """Every problem with the settings, one plain line each (never a traceback, never a secret)."""
    def render() -> None:
        st.title("SnowTower's settings need fixing")
        st.error(f"SnowTower cannot start: {len(error.problems)} setting(s) are missing or wrong.", icon=":material/settings:")
        for problem in error.problems:
            st.text(str(problem) + ("" if problem.blocking else " (the portal starts without it)"))
        st.caption("Fix them in the environment (SNOWTOWER_<NAME>), .streamlit/secrets.toml ([snowtower], "
                   "[connections.snowflake], [auth]) or the workspace's settings.toml ([snowtower]), then reload. `snowtower check` lists the same problems; "
                   "docs/settings.md describes every setting.")
    signed_out_navigation(render, "Settings")


def frame() -> None:
    try:
        # Every missing or wrong item at once (the list `snowtower check` prints), not one per restart.
        settings, problems = check_setup()
        if settings is None or any(p.blocking for p in problems):
            raise SettingsError(problems)
        st.set_option("client.showErrorDetails", errors.error_details(settings.mode))
        signed_in(settings)
    except SettingsError as exc:  # also a setting found missing while building a backend (SiS signing key)
        st.set_option("client.showErrorDetails", "none")  # whichever mode it is meant to be: not known
        st.session_state.pop(ui.VIEWER_KEY, None)
        settings_page(exc)


def signed_in(settings) -> None:
    if Mode.of(settings).demo_logins:
        auth.ensure_demo_logins(Workspace(settings.workspace).auth_path)
    remember_wanted()
    try:
        signed = auth.sign_in(settings, ui.identity(), ui.audit_log())
    except auth.SetupError as exc:
        st.session_state.pop(ui.VIEWER_KEY, None)
        # Why a copy: Python unbinds `exc` when the except block ends; the page below may draw after that.
        setup_problem = str(exc)

        def setup_signin() -> None:
            st.title("SnowTower's sign-in is not set up")
            st.text(f"Sign-in is not possible: {setup_problem}")
            st.caption("Set it in .streamlit/secrets.toml (or the environment), then restart SnowTower.")
            if settings.auth == "local":
                st.code("[snowtower]\ncookie_key = \"<64 random characters: python -c 'import secrets; "
                        "print(secrets.token_urlsafe(48))'>\"", language="toml")

        signed_out_navigation(setup_signin, "Set up")
        return
    except auth.UsersFileError as exc:
        st.session_state.pop(ui.VIEWER_KEY, None)
        users_problem = str(exc)  # (as above: `exc` is unbound after its block)

        def setup() -> None:
            st.title("SnowTower needs its first users")
            st.text(f"Sign-in is not possible: {users_problem}")
            st.caption("On the server, in the SnowTower workspace, an operator runs:")
            st.code("snowtower users add LOGIN --role admin --name 'First Last' --email name@company.com", language="bash")
            st.caption("Then reload this page. `snowtower users --help` lists the other user commands.")

        signed_out_navigation(setup, "Set up")
        return
    actor = signed.actor
    if actor is None:
        st.session_state.pop(ui.VIEWER_KEY, None)

        def signed_out() -> None:
            with st.columns([1, 2, 1])[1]:
                if signed.message:
                    st.error(signed.message, icon=":material/lock:")
                if Mode.of(settings).demo_logins:
                    st.info("Demo logins: **requester**, **approver** or **admin**, password **demo**.", icon=":material/info:")
                st.caption("SnowTower: self-service Snowflake access, reviewed as code.")

        signed_out_navigation(signed_out, "Sign in")
        return
    st.session_state[ui.VIEWER_KEY] = actor
    services = ui.services()

    # The viewer's navigation, from the page registry (ui.PAGE_RECORDS): each page they may open in its section,
    # in the registry's order (role owners may open the access reviews: the page itself shows each viewer only
    # their items). A page the viewer may not open is still at its address, saying so (not a silent jump to Home).
    sections: dict[str, list[st.Page]] = {}
    hidden: list[st.Page] = []
    for record in ui.PAGE_RECORDS:
        if not ui.offered(record.key):
            hidden.append(ui.absent_page(record.key))
        elif not ui.may_open(actor, record.key):
            hidden.append(ui.denied_page(record.key))
        else:
            sections.setdefault(record.section, []).append(ui.page(record.key, default=record.key == "home"))
    sections[""] += hidden

    with st.sidebar:
        st.markdown(f"Signed in as **{md_escape(actor.name)}**  \n{inline_code(actor.username)} · {', '.join(actor.roles)}")
        if signed.sign_out is not None:  # Streamlit in Snowflake: Snowflake's session, no sign-out here
            signed.sign_out(lambda: auth.record_signin(services.audit, "sign_out", actor.username, actor.roles))
        if services.mode.is_demo:
            st.caption(f"Demo workspace: `{services.workspace.root}`")

    chosen = st.navigation(sections, expanded=True)  # expanded: every request page stays visible
    open_wanted(chosen, sections)
    run_page(chosen)


errors.guard(frame, "portal")
