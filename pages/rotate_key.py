"""Rotate a user's RSA key: add the new key as rsa_public_key_2, then promote it."""
import streamlit as st

from portal.recipe_form import PENDING_KEY, recipe_page

STEPS = {"rotate-key": "1. Add the new key", "promote-key": "2. Promote it"}
pending = st.session_state.get(PENDING_KEY)
if pending and pending["recipe"] in STEPS:  # editing a request sent back: open its step
    st.session_state["rotate_key.step"] = STEPS[pending["recipe"]]
elif not st.session_state.get("rotate_key.step"):
    st.session_state["rotate_key.step"] = STEPS["rotate-key"]
step = st.segmented_control("Step", list(STEPS.values()), key="rotate_key.step")
if step == "2. Promote it":
    recipe_page("promote-key", "promote_key.",
                "Once every client uses the new key: it becomes rsa_public_key and rsa_public_key_2 is removed.")
else:
    recipe_page("rotate-key", "rotate_key.",
                "Adds the new key as rsa_public_key_2: both keys work, so clients can switch without downtime. "
                "Then promote it (step 2).")
