"""Page tests that seat a viewer directly in the session (without the entry script's sign-in) must give
that viewer a login in the workspace's users file too: the review page's and recipe forms' buttons act
with the roles the file gives the viewer at the click (portal.ui.viewer_now), never the session's."""
from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from portal import ui
from tests.identity_support import give_login

ROOT = Path(__file__).resolve().parents[1]


def as_viewer(at, actor, workspace: Path | None = None) -> None:
    """Seat `actor` as the viewer of `at` and give it a login with its roles in the users file of
    `workspace` (default: $SNOWTOWER_WORKSPACE). The hash is a placeholder: nobody types a password."""
    give_login(Path(workspace or os.environ["SNOWTOWER_WORKSPACE"]) / "auth.yaml", actor)
    at.session_state[ui.VIEWER_KEY] = actor


def _recipe_form_script(key: str) -> None:
    from portal.recipe_form import recipe_form_page

    recipe_form_page(key)


def page_app(key: str, timeout: float) -> AppTest:
    """An AppTest of page `key` of portal.ui.PAGES (not run yet): its script in pages/, or, for a page
    that is its recipe's form (no file), the form the portal draws at its address."""
    record = ui.PAGES[key]
    if record.file:
        return AppTest.from_file(str(ROOT / "pages" / record.file), default_timeout=timeout)
    return AppTest.from_function(_recipe_form_script, args=(key,), default_timeout=timeout)


def open_address(at: AppTest, key: str) -> AppTest:
    """Open page `key` of an AppTest of the entry script by its address, as a browser does (/grant-role):
    AppTest.switch_page only knows pages that run a file, so the session's registered page of that URL
    path is chosen."""
    url_path = "" if key == "home" else ui.PAGES[key].url_path  # Home is the default page, at /
    hashes = [h for h, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    assert len(hashes) == 1, (key, at._registered_pages)
    at._page_hash = hashes[0]
    return at.run()
