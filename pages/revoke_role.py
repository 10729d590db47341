"""Revoke business roles from a user."""
import streamlit as st

from portal.recipe_form import recipe_page
from recipes.common import entry


def show_current(form) -> None:
    name = st.session_state.get("revoke_role.name")
    if name:
        user = entry(form.snapshot, form.snapshot.file("user"), name) or {}
        st.caption(f"{name} has today: {', '.join(user.get('business_roles') or []) or 'no business roles'}")


recipe_page(
    "revoke-role", "revoke_role.", "Takes business roles away from a person.",
    outside=("name",), extra=show_current,
)
