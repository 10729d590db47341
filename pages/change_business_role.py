"""Change a business role: start from its current access, edit, preview the diff."""
from portal.recipe_form import recipe_page

recipe_page(
    "change-business-role", "change_business_role.",
    "Pick a role: the form starts from its current access. Only the lines you change appear in the diff; every user "
    "holding the role gets the new access.",
    outside=("name",),
)
