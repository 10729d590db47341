"""Grant business roles to a user, for good or until a date."""
from portal.recipe_form import recipe_page

recipe_page(
    "grant-role", "grant_role.",
    "Adds business roles to a user in user.yaml. With an end date the grant is time-bound: SnowDDL has no expiry, so "
    "SnowTower records the date in __snowtower/expiry.yaml (which SnowDDL skips) and, after that day, opens a request "
    "to revoke the roles. Asking again for a role held until a date renews it (a new end date, or none: for good).",
)
