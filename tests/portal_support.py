"""Page tests that seat a viewer directly in the session (without the entry script's sign-in) must give
that viewer a login in the workspace's users file too: the review page's and recipe forms' buttons act
with the roles the file gives the viewer at the click (portal.ui.viewer_now), never the session's."""
from __future__ import annotations

import os
from pathlib import Path

from portal import ui
from tests.identity_support import give_login


def as_viewer(at, actor, workspace: Path | None = None) -> None:
    """Seat `actor` as the viewer of `at` and give it a login with its roles in the users file of
    `workspace` (default: $SNOWTOWER_WORKSPACE). The hash is a placeholder: nobody types a password."""
    give_login(Path(workspace or os.environ["SNOWTOWER_WORKSPACE"]) / "auth.yaml", actor)
    at.session_state[ui.VIEWER_KEY] = actor
