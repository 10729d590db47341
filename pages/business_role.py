"""New business role: a job function composed of schema access, warehouses and technical roles."""
from portal.recipe_form import recipe_page

recipe_page(
    "new-business-role", "business_role.",
    "A business role bundles access for a job function: read / write / own schemas (DB.SCHEMA or DB.*), use "
    "warehouses (the first is the default) and include technical roles. Users then get it with one grant.",
    placeholders={"name": "PRICING_ANALYST"},
)
