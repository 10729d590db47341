"""New user: a PERSON or a SERVICE user with an RSA key pair; a preview, then submit."""
from portal.recipe_form import recipe_page

recipe_page(
    "new-user", "new_user.",
    "A Snowflake user with RSA key-pair authentication. The request becomes a change to user.yaml that an approver reviews.",
    outside=("type",),
    hidden=lambda state: {"first_name", "last_name", "email"} if state.get("type") == "SERVICE" else set(),
    placeholders={"name": "JANE_SMITH", "email": "jane.smith@company.com", "comment": "Optional, e.g. team or purpose"},
)
