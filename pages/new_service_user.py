"""New service user: a program's user, key pair only (never a password)."""
from portal.recipe_form import recipe_page

recipe_page(
    "new-service-user", "new_service_user.",
    "A user for a program (dbt, a loader, a BI tool): type SERVICE, RSA key pair only, never a password, no names or email.",
    placeholders={"name": "SVC_AIRBYTE", "comment": "Optional: which tool, which team"},
)
