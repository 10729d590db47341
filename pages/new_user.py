"""New user: a form filled from the current configuration, a preview, then submit."""
import streamlit as st

from core.changes.base import ChangeError
from core.keys import PRIVATE_KEY_MESSAGE
from portal import ui, widgets
from portal.operations import PreviewRequest, SubmitRequest
from recipes import RECIPES, FieldErrors

RECIPE = RECIPES["new-user"]
K = "new_user."  # session_state keys of this page
services, actor = ui.services(), ui.viewer()
snapshot = services.snapshot()
config = snapshot.config


def raw_from_form() -> dict:
    person = st.session_state[K + "type"] == "PERSON"
    raw = {
        "name": st.session_state[K + "name"],
        "type": st.session_state[K + "type"],
        "rsa_public_key": st.session_state[K + "rsa_public_key"],
        "business_roles": st.session_state[K + "business_roles"],
        "default_warehouse": st.session_state[K + "default_warehouse"] or None,
        "comment": st.session_state[K + "comment"],
        "justification": st.session_state[K + "justification"],
    }
    if person:
        raw.update(first_name=st.session_state[K + "first_name"], last_name=st.session_state[K + "last_name"],
                   email=st.session_state[K + "email"])
    return raw


def on_preview() -> None:
    st.session_state.pop(K + "submitted", None)
    raw = raw_from_form()
    preview = PreviewRequest(services, RECIPE, raw).execute()
    if preview.field_errors.get("rsa_public_key") == PRIVATE_KEY_MESSAGE:
        # A private key was pasted: drop it from the form and from memory at once.
        st.session_state[K + "rsa_public_key"] = ""
        raw.pop("rsa_public_key", None)
    st.session_state[K + "preview"] = preview
    st.session_state[K + "raw"] = raw


def on_submit() -> None:
    preview = st.session_state.get(K + "preview")
    try:
        cr = SubmitRequest(services, actor, RECIPE, st.session_state[K + "raw"], preview.base_sha).execute()
    except FieldErrors as exc:
        st.session_state[K + "error"] = "; ".join(str(e) for e in exc.errors)
    except ChangeError as exc:
        st.session_state[K + "error"] = str(exc)
    else:
        st.session_state[K + "submitted"] = f"{cr.ref} ({cr.title})"
        for key in ("preview", "raw", "name", "first_name", "last_name", "email", "rsa_public_key",
                    "business_roles", "default_warehouse", "comment", "justification"):
            st.session_state.pop(K + key, None)


def field_error(name: str) -> None:
    preview = st.session_state.get(K + "preview")
    if preview and name in preview.field_errors:
        st.error(f"{RECIPE.field(name).label if RECIPE.field(name) else name} {preview.field_errors[name]}", icon=":material/error:")


st.title("New user")
st.caption("A Snowflake user with RSA key-pair authentication. The request becomes a change to user.yaml that an approver reviews.")

submitted = st.session_state.get(K + "submitted")
if submitted:
    st.success(f"Submitted as {submitted}. Follow it under My requests.", icon=":material/task_alt:")
    st.page_link(ui.page("my_requests"), label="My requests", icon=":material/list_alt:")

st.radio("Type", ["PERSON", "SERVICE"], horizontal=True, key=K + "type",
         captions=["A human: names, email, key pair", "A program (dbt, a loader, a BI tool): key pair only"])
person = st.session_state[K + "type"] == "PERSON"

with st.form("new_user_form", border=True):
    st.text_input("User name", key=K + "name", placeholder="JANE_SMITH", help=RECIPE.field("name").help)
    field_error("name")
    if person:
        c1, c2 = st.columns(2)
        with c1:
            st.text_input("First name", key=K + "first_name")
            field_error("first_name")
        with c2:
            st.text_input("Last name", key=K + "last_name")
            field_error("last_name")
        st.text_input("Email", key=K + "email", placeholder="jane.smith@company.com")
        field_error("email")
    st.text_area("RSA public key", key=K + "rsa_public_key", height=140,
                 placeholder="-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----",
                 help=RECIPE.field("rsa_public_key").help)
    field_error("rsa_public_key")
    st.multiselect("Business roles", config.business_roles, key=K + "business_roles", help=RECIPE.field("business_roles").help)
    field_error("business_roles")
    st.selectbox("Default warehouse", [""] + config.warehouses, key=K + "default_warehouse",
                 format_func=lambda w: w or "(none: the first role's warehouse)")
    field_error("default_warehouse")
    st.text_input("Comment", key=K + "comment", placeholder="Optional, e.g. team or purpose")
    field_error("comment")
    st.text_area("Justification", key=K + "justification", height=90, help=RECIPE.field("justification").help,
                 placeholder="Why is this access needed?")
    field_error("justification")
    st.form_submit_button("Preview", type="primary", on_click=on_preview)

preview = st.session_state.get(K + "preview")
if preview and not submitted:
    if preview.field_errors:
        st.error(f"Fix the {len(preview.field_errors)} field(s) marked above; nothing was written.")
    else:
        widgets.preview_panel(preview)
        if preview.ok:
            st.button("Submit request", type="primary", key=K + "submit", on_click=on_submit)
error = st.session_state.pop(K + "error", None)
if error:
    st.error(error, icon=":material/error:")
