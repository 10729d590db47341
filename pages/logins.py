"""Logins (admins): who may sign in, with which roles, and lifting a sign-in lock-out."""
import streamlit as st

from core.changes.base import ChangeError
from core.plaintext import md_escape
from portal import auth, ui
from app.operations.unlock_login import UnlockLogin

services, actor = ui.services(), ui.require_page("logins")

st.title("Logins")
if services.settings.auth != "local":  # the identity provider holds the logins (app.identity)
    st.info(f"Sign-in is through the identity provider (auth = {services.settings.auth}): people and their roles "
            "are managed there, through the role mapping in the settings.", icon=":material/info:")
    st.stop()
st.caption("As the users file (auth.yaml) says now; it is read on every click. Add a login, change its roles or "
           "disable it with `snowtower users add|set-role|disable|enable` on the server.")
flash = st.session_state.pop("logins.flash", None)
if flash:
    st.success(flash)
settings = services.settings
users = auth.read_users(services.workspace.auth_path, settings.mode)["credentials"]["usernames"]
status = auth.lockout_for(settings).status()
st.dataframe(  # plain-text cells: names are shown as typed
    [{"Login": login, "Name": f"{e['first_name']} {e['last_name']}".strip(), "Roles": ("disabled: " if e["disabled"] else "") + (", ".join(e["stored_roles"]) or "none"),
      "Failed sign-ins": status.get(login, (0, None))[0],
      "Locked until": ui.when(status[login][1].isoformat()) if status.get(login, (0, None))[1] else ""}
     for login, e in sorted(users.items())],
    hide_index=True, use_container_width=True,
)
st.caption(f"{settings.signin_max_attempts} wrong passwords in a row lock a login for {settings.signin_lockout_minutes} "
           "minutes (signin_max_attempts, signin_lockout_minutes).")
locked = sorted(login for login, (_, until) in status.items() if until)
if not locked:
    st.info("No login is locked.")
else:
    login = st.selectbox("Locked login", locked, key="logins.locked")
    if st.button("Unlock", type="primary", key="logins.unlock"):
        try:
            UnlockLogin(services, actor, login).execute()
        except ChangeError as exc:
            st.error(md_escape(exc, starts_line=True))
        else:
            st.session_state["logins.flash"] = f"{login} is unlocked; its failed sign-ins are forgotten."
            st.rerun()
