"""Remove a warehouse nobody in the config uses, with what it cost in the last 30 days (the saving)."""
from portal.recipe_form import recipe_page

recipe_page(
    "remove-warehouse", "remove_warehouse.",
    "Pick a warehouse that no user's default_warehouse and no role's grant names (the form refuses one that is still "
    "used). The preview shows what it cost in its last 30 days of metering, the saving, and that SnowDDL drops it "
    "only with --apply-unsafe.",
    outside=("name",),
)
