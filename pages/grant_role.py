"""Grant business roles to a user, for good or until a date."""
from portal.recipe_form import recipe_page

recipe_page(
    "grant-role", "grant_role.",
    "Gives a person business roles, for 7, 30 or 90 days, until a date, or permanently: you choose. After the last "
    "day SnowTower opens a request to take the roles back. Asking again for a role held until a date renews it "
    "(a new end date, or permanent). Details (the files changed) are under the preview.",
)
