"""Who the viewer is: sign-in with streamlit-authenticator against bcrypt hashes in the workspace."""
from __future__ import annotations

import secrets
from pathlib import Path

import bcrypt
import yaml

from core.changes.model import Actor

DEMO_PASSWORD = "demo"
DEMO_USERS = {
    "requester": ("Riley", "Requester", ["requester"]),
    "approver": ("Avery", "Approver", ["requester", "approver"]),
    "admin": ("Ada", "Admin", ["requester", "approver", "admin"]),
}
COOKIE_NAME = "snowtower_auth"


def ensure_demo_logins(path: Path) -> bool:
    """Write the demo logins (password 'demo', bcrypt-hashed) once; returns True if created."""
    if path.is_file():
        return False
    users = {}
    for username, (first, last, roles) in DEMO_USERS.items():
        users[username] = {
            "email": f"{username}@snowtower.example",
            "first_name": first,
            "last_name": last,
            "password": bcrypt.hashpw(DEMO_PASSWORD.encode(), bcrypt.gensalt()).decode(),
            "roles": roles,
        }
    config = {
        "cookie": {"name": COOKIE_NAME, "key": secrets.token_urlsafe(48), "expiry_days": 1},
        "credentials": {"usernames": users},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return True


def _authenticator(path: Path):
    import streamlit_authenticator as stauth

    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    cookie = config["cookie"]
    return stauth.Authenticate(str(path), cookie["name"], cookie["key"], cookie["expiry_days"], auto_hash=False)


def sign_in(path: Path) -> tuple[Actor | None, object]:
    """Render the sign-in form until the viewer is signed in; returns (actor or None, authenticator)."""
    import streamlit as st

    authenticator = _authenticator(path)
    center = st.columns([1, 2, 1])[1] if not st.session_state.get("authentication_status") else st.container()
    with center:
        try:
            authenticator.login(
                location="main", max_login_attempts=10,
                fields={"Form name": "Sign in to SnowTower", "Username": "Username", "Password": "Password", "Login": "Sign in"},
            )
        except Exception as exc:  # the library raises for locked-out users and the like
            st.error(str(exc))
        status = st.session_state.get("authentication_status")
        if status is False:
            st.error("Username or password is wrong.")
    if not status:
        return None, authenticator
    username = st.session_state.get("username")
    return (
        Actor(
            username=username,
            name=st.session_state.get("name") or username,
            email=st.session_state.get("email") or "",
            roles=tuple(st.session_state.get("roles") or ()),
        ),
        authenticator,
    )
