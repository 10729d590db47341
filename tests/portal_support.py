"""Page tests that seat a viewer directly in the session (without the entry script's sign-in) must give
that viewer a login in the workspace's users file too: the review page's and recipe forms' buttons act
with the roles the file gives the viewer at the click (portal.ui.viewer_now), never the session's."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from portal import ui
from portal.auth import new_users_file


def as_viewer(at, actor, workspace: Path | None = None) -> None:
    """Seat `actor` as the viewer of `at` and give it a login with its roles in the users file of
    `workspace` (default: $SNOWTOWER_WORKSPACE). The hash is a placeholder: nobody types a password."""
    path = Path(workspace or os.environ["SNOWTOWER_WORKSPACE"]) / "auth.yaml"
    config = yaml.safe_load(path.read_text()) if path.is_file() else new_users_file({})
    users = config["credentials"].setdefault("usernames", {}) or {}
    config["credentials"]["usernames"] = users
    users[actor.username] = {"password": "$2b$12$" + "x" * 53, "roles": list(actor.roles), "email": actor.email,
                             "first_name": actor.name, "last_name": ""}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    at.session_state[ui.VIEWER_KEY] = actor
