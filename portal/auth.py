"""Who the viewer is: the Streamlit side of sign-in, over the identity port (app.identity).

- local: streamlit-authenticator against the bcrypt hashes of the users file. The users file
  (`auth.yaml` in the workspace) is the admins' to edit (`snowtower users ...`): the portal never
  writes to it. It is read again on every run, so a changed role or a disabled login takes effect at
  the viewer's next click. Failed sign-ins are counted in the workspace database (core.lockout), never
  in the users file: the library gets a fresh in-memory copy of the credentials on every run. The
  cookie key comes from the secrets (app.identity.cookie_key); outside the demo a missing, default or
  short key stops the portal at a setup page.
- oidc: `st.login()` with the identity provider in secrets `[auth]`; roles from the group claim.
- sis: Streamlit in Snowflake: the viewer is `st.user`, roles from their Snowflake roles; no form, and
  streamlit-authenticator is never imported.
Sign-in, refused sign-in and sign-out are recorded in the audit log for every provider; a refused OIDC
sign-in under the provider's subject (`oidc:<iss>#<sub>`), never a claimed e-mail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from app.identity import (  # noqa: F401  (the portal's names for the users file)
    DEMO_PASSWORD, DEMO_USERS, ROLES, LocalLogins, Oidc, SetupError, Sis, UsersFileError, add_user,
    cookie_key, ensure_demo_logins, lockout_for, new_users_file, oidc_subject, overage, read_users,
)
from app.identity.local import _actor
from app.mode import Mode
from core.changes.model import Actor
from portal import streamlit_adapter

# The portal's process reads its secrets and its viewer through Streamlit (app.host's ports); importing
# the adapter imports no Streamlit, so a command that imports this module stays without it.
streamlit_adapter.install()

UNKNOWN_LOGIN = "(not a login)"  # the audit log's actor of a sign-in under a name that is no login
_MESSAGE_KEY = "snowtower.signin_message"  # why a session was just signed out, for the next run
_RECORDED_KEY = "snowtower.signin_recorded"  # oidc/sis: who this session's sign-in was recorded for


@dataclass(frozen=True)
class SignInResult:
    actor: Actor | None
    authenticator: object = None  # local logins: streamlit-authenticator's object (None for oidc, sis)
    message: str = ""  # why the viewer is not signed in (locked, refused), shown above the form
    sign_out: Callable[[Callable[[], None]], None] | None = None  # draws the sign-out control; arg: on sign-out


SIGN_OUT_KEY = "signout"  # the sidebar's Sign out button
_COOKIE_KEY = "snowtower.session_cookie"  # (username, token, expires) of this session's cookie


def _keep_cookie(authenticator, cookie: dict) -> None:
    """Draw streamlit-authenticator's cookie component with this session's token (made once per session
    and signed-in user, with the library's own encoding and the cookie's expiry in days)."""
    import datetime as dt

    import streamlit as st

    model = authenticator.cookie_controller.cookie_model
    kept = st.session_state.get(_COOKIE_KEY)
    if not kept or kept[0] != st.session_state.get("username"):
        expires = dt.datetime.now() + dt.timedelta(days=float(cookie["expiry_days"]))
        model.exp_date = expires.timestamp()
        kept = (st.session_state.get("username"), model._token_encode(), expires)
        st.session_state[_COOKIE_KEY] = kept
    model.cookie_manager.set(model.cookie_name, kept[1], expires_at=kept[2])


def _authenticator(config: dict):
    import streamlit_authenticator as stauth

    cookie = config["cookie"]
    # The library's pre-login pause (0.7 s, params.PRE_LOGIN_SLEEP_TIME) stays: it lets the cookie component
    # load before the sign-in's run goes on. Without it, under load, a sign-in's trailing run lost the
    # navigation that followed it (two browser tests in a clean-clone run on this 2-core machine).
    return stauth.Authenticate(config["credentials"], cookie["name"], cookie["key"], cookie["expiry_days"], auto_hash=False)


def record_signin(audit, action: str, login: str, roles=(), outcome: str = "ok", reason: str = "") -> None:
    """One audit record of a sign-in event (sign_in, sign_in_failed, sign_out); `audit` None: none.
    `login` is what was typed (clipped), never a password."""
    if audit is not None:
        audit.write(login, roles, action, outcome, reason)


def sign_in(settings, identity, audit=None) -> SignInResult:
    """The viewer of this run, signed in through the provider `settings.auth` names (`identity`:
    app.identity's, behind the jobs' names), with roles as that provider gives them now. Draws the
    sign-in form or button while nobody is signed in. Every sign-in, refused sign-in and sign-out is
    recorded in `audit` (an app.audit.AuditLog). Raises UsersFileError (local: no usable users file)
    or SetupError (sign-in not configured: cookie key, [auth] secrets)."""
    people = getattr(identity, "people", identity)
    if isinstance(people, Sis):
        return _sign_in_sis(people, audit)
    if isinstance(people, Oidc):
        return _sign_in_oidc(people, audit)
    return _sign_in_local(settings, people, audit)


def _record_once(audit, actor: Actor | None, refused_login: str = "", reason: str = "") -> None:
    """oidc and sis: one sign_in (or sign_in_failed) record per session and person, not one per run."""
    import streamlit as st

    key = ("ok", actor.username) if actor else ("refused", refused_login)
    if st.session_state.get(_RECORDED_KEY) == key:
        return
    st.session_state[_RECORDED_KEY] = key
    if actor:
        record_signin(audit, "sign_in", actor.username, actor.roles)
    else:
        record_signin(audit, "sign_in_failed", refused_login, outcome="refused", reason=reason)


def _sign_in_sis(sis: Sis, audit) -> SignInResult:
    """Streamlit in Snowflake: Snowflake signed the viewer in; st.user names them. No form, no sign-out."""
    claims = sis.user()
    actor = sis.viewer()
    if actor is None:
        login = str(claims.get("user_name") or "")[:200].lower() or UNKNOWN_LOGIN  # never the profile's e-mail
        reason = ("Your Snowflake user holds none of the roles SnowTower maps to its roles ("
                  + ", ".join(sorted(k.upper() for k in sis.role_mapping)) + "). Ask an admin for one.")
        _record_once(audit, None, login, reason)
        return SignInResult(None, message=reason)
    _record_once(audit, actor)
    return SignInResult(actor)


def _oidc_configured() -> bool:
    import streamlit as st

    try:
        section = dict(st.secrets.get("auth", {}))
    except Exception:  # no secrets file
        return False
    return bool(section.get("redirect_uri") and section.get("cookie_secret"))


def _sign_in_oidc(oidc: Oidc, audit) -> SignInResult:
    """st.login against the identity provider of secrets [auth]; roles from the group claim."""
    import streamlit as st

    if not _oidc_configured():
        raise SetupError("auth = oidc needs an [auth] section in the secrets with redirect_uri, cookie_secret and "
                         "the identity provider's client_id, client_secret and server_metadata_url.")
    claims = oidc.claims()
    if not claims or not claims.get("is_logged_in", True):
        with st.columns([1, 2, 1])[1]:
            st.subheader("Sign in to SnowTower")
            if st.button("Sign in with your company account", type="primary"):
                st.login()
        return SignInResult(None, message=st.session_state.pop(_MESSAGE_KEY, ""))
    actor = oidc.actor_from(claims)
    if actor is None:
        # Why the subject: it is what the provider vouches for; an e-mail may be unverified (typed by
        # whoever made the account), and a refused sign-in must not be recorded under someone else's name.
        login = oidc_subject(claims) or UNKNOWN_LOGIN
        reason = "Your account is in none of the groups SnowTower gives a role to. Ask an admin."
        if overage(claims, oidc.group_claim):
            reason = ("Your identity provider left your groups out of the sign-in (you are in too many groups). "
                      "Ask an admin to send only the groups assigned to SnowTower, or app roles.")
        _record_once(audit, None, login, reason)
        st.session_state[_MESSAGE_KEY] = reason
        st.session_state.pop(_RECORDED_KEY, None)
        st.logout()
        return SignInResult(None, message=reason)
    _record_once(audit, actor)

    def sign_out(on_sign_out: Callable[[], None]) -> None:
        if st.button("Sign out", key="signout"):
            on_sign_out()
            st.session_state.pop(_RECORDED_KEY, None)
            st.logout()
    return SignInResult(actor, sign_out=sign_out)


def _sign_in_local(settings, logins: LocalLogins, audit) -> SignInResult:
    """The users file's logins through streamlit-authenticator's form and cookie."""
    import bcrypt
    import streamlit as st

    path, mode = logins.path, settings.mode
    lockout = logins.lockout or lockout_for(settings)
    config = read_users(path, mode)
    config["cookie"]["key"] = cookie_key(settings, config["cookie"]["key"])
    users = config["credentials"]["usernames"]
    # A locked login looks to the library as one at its limit: refused before its password is checked.
    locked = {login for login, (_, until) in lockout.status().items() if until}
    for login in locked & users.keys():
        users[login]["failed_login_attempts"] = 1
    authenticator = _authenticator(config)
    message = ""
    pending = st.session_state.pop(_MESSAGE_KEY, "")
    was_signed_in = bool(st.session_state.get("authentication_status"))
    center = st.columns([1, 2, 1])[1] if not was_signed_in else st.container()
    if st.session_state.get("authentication_status") is False:
        st.session_state["authentication_status"] = None  # so that a False below is this run's attempt
    recorded = False
    with center:
        try:
            authenticator.login(
                location="main", max_login_attempts=1,
                fields={"Form name": "Sign in to SnowTower", "Username": "Username", "Password": "Password", "Login": "Sign in"},
            )
        except Exception as exc:  # the library raises LoginError for a locked or unknown login
            st.session_state["authentication_status"] = None
            message = ("Too many wrong passwords: this login is locked for a while. Try again later, or ask an "
                       "admin to unlock it." if "attempts" in str(exc) else "Sign-in refused.")
            record_signin(audit, "sign_in_failed", st.session_state.get("username") or "", outcome="refused",
                          reason=message)
            recorded = True
    # The library counted a wrong password in our in-memory copy: record it where it lasts.
    for login, entry in users.items():
        if entry.get("failed_login_attempts") == 1 and login not in locked:
            if lockout.record_failure(login):
                message = (f"Too many wrong passwords: this login is locked for {lockout.minutes} minutes. "
                           "Try again later, or ask an admin to unlock it.")
            record_signin(audit, "sign_in_failed", login, outcome="refused",
                          reason="wrong password" + ("; the login is now locked" if message else ""))
            recorded = True
        elif entry.get("failed_login_attempts") == 0:  # the form's password was right
            lockout.clear(login)
    if st.session_state.get("authentication_status") is False and not recorded:
        # Why: guesses at logins that do not exist are failed sign-ins too. The name typed is not kept: it
        # is often the password, typed into the wrong field.
        record_signin(audit, "sign_in_failed", UNKNOWN_LOGIN, outcome="refused", reason="no such login")
    if st.session_state.get("authentication_status") is False and not message:
        message = "Username or password is wrong."
    username = st.session_state.get("username") if st.session_state.get("authentication_status") else None
    entry = users.get(username) if username else None
    refused = ""
    if username and (entry is None or not entry["roles"]):
        # Why: the users file is the authority on every run; a removed login loses its session at once.
        refused = "Your login is no longer allowed to use SnowTower."
    elif username and not was_signed_in and not Mode.of(settings).is_demo and bcrypt.checkpw(DEMO_PASSWORD.encode(), entry["password"].encode()):
        refused = "Demo logins are refused outside demo mode."  # why: the demo's password is public
    if refused:
        record_signin(audit, "sign_in_failed", username, entry["roles"] if entry else (), "refused", refused)
        authenticator.logout(location="unrendered")
        st.session_state[_MESSAGE_KEY] = refused
        st.rerun()  # the next run draws the sign-in form, with the reason above it
    if not username:
        return SignInResult(None, authenticator, message or pending)
    if not was_signed_in:
        record_signin(audit, "sign_in", username, entry["roles"])
    elif config["cookie"]["name"] not in st.context.cookies and not st.session_state.get(SIGN_OUT_KEY):
        # Why: the session cookie is written by a component the browser loads after the sign-in's run; a
        # rerun or page switch that drops it before it loaded leaves the browser without the cookie, and
        # the next reload or link asks to sign in again. So a session signed in by the form draws it on
        # every run (the same element, kept mounted) until the browser has the cookie; never on the run
        # of a click on Sign out, which deletes it. The same token and expiry every run: a component whose
        # arguments change is run again by the browser, and each of those would rerun the page.
        _keep_cookie(authenticator, config["cookie"])

    def sign_out(on_sign_out: Callable[[], None]) -> None:
        authenticator.logout("Sign out", location="sidebar", key=SIGN_OUT_KEY, callback=lambda _: on_sign_out())
    return SignInResult(_actor(username, entry), authenticator, sign_out=sign_out)
