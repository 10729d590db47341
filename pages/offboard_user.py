"""Offboard a user: disable them and remove their business roles."""
from portal.recipe_form import recipe_page

recipe_page(
    "offboard-user", "offboard_user.",
    "Sets disabled: true on the user and removes all of their business roles. The user stays in user.yaml, so the "
    "history is kept and the account can be re-enabled by another request.",
)
