"""New warehouse."""
from portal.recipe_form import recipe_page

recipe_page(
    "new-warehouse", "warehouse.",
    "A warehouse per workload keeps credits attributable. Size sets credits per hour (X-Small 1, Small 2, Medium 4, "
    "Large 8, X-Large 16, 2X-Large 32 ...); auto-suspend stops paying when idle.",
    placeholders={"name": "MARKETING_WH"},
)
