"""Rotate a user's RSA key: add the new key as rsa_public_key_2, then promote it."""
import streamlit as st

from portal.recipe_form import recipe_page

step = st.segmented_control("Step", ["1. Add the new key", "2. Promote it"], default="1. Add the new key",
                            key="rotate_key.step")
if step == "2. Promote it":
    recipe_page("promote-key", "promote_key.",
                "Once every client uses the new key: it becomes rsa_public_key and rsa_public_key_2 is removed.")
else:
    recipe_page("rotate-key", "rotate_key.",
                "Adds the new key as rsa_public_key_2: both keys work, so clients can switch without downtime. "
                "Then promote it (step 2).")
