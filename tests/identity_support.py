"""Tests that act as a person the users file does not hold give that person a login first: every
operation re-reads its actor's roles through the identity port (app.operations.shared.audited)."""
from __future__ import annotations

from pathlib import Path

import yaml

from app.identity import ensure_demo_logins, new_users_file


def give_login(path: Path, actor) -> None:
    """Write `actor` (login and roles) into the users file at `path` (created with the demo logins if
    missing, as a demo workspace has them). The hash is a placeholder: nobody types a password."""
    ensure_demo_logins(path)
    config = yaml.safe_load(path.read_text()) if path.is_file() else new_users_file({})
    users = config["credentials"].setdefault("usernames", {}) or {}
    config["credentials"]["usernames"] = users
    users[actor.username] = {"password": "$2b$12$" + "x" * 53, "roles": list(actor.roles), "email": actor.email,
                             "first_name": actor.name, "last_name": ""}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
