"""Remove a user's password: they log in with their key pair only."""
from portal.recipe_form import recipe_page

recipe_page(
    "remove-password", "remove_password.",
    "Removes the password from the user in user.yaml. The user must have an RSA key: they log in with it only.",
)
