"""Resize a warehouse or change its auto-suspend, with the credits-per-hour difference."""
import streamlit as st

from portal.recipe_form import recipe_page
from recipes.common import CREDITS_PER_HOUR, credits_note, current_warehouse


def show_current(form) -> None:
    name = st.session_state.get("change_warehouse.name")
    if not name:
        return
    now = current_warehouse(form.snapshot, name)
    size = now["size"] if now["size"] in CREDITS_PER_HOUR else None
    new = st.session_state.get("change_warehouse.size") or None
    cols = st.columns(2)
    cols[0].metric("Today", credits_note(size) or "unknown size", help=f"auto-suspend {now['auto_suspend']} s")
    if new and size and new in CREDITS_PER_HOUR:
        delta = CREDITS_PER_HOUR[new] - CREDITS_PER_HOUR[size]
        cols[1].metric("Requested", credits_note(new), delta=f"{delta:+d} credits/hour", delta_color="inverse")


recipe_page(
    "change-warehouse", "change_warehouse.",
    "Pick a warehouse: the form starts from its size and auto-suspend. The preview shows the credits-per-hour difference.",
    outside=("name",), extra=show_current,
)
