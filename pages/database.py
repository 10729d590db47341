"""New database: schemas, params, the team's business roles and an optional dedicated warehouse."""
from portal.recipe_form import recipe_page

recipe_page(
    "new-database", "database.",
    "Creates <DB>/params.yaml and one <DB>/<SCHEMA>/params.yaml per schema, the READ / WRITE / OWNER business roles "
    "a team needs, and optionally a dedicated warehouse <DB>_WH with a monthly resource monitor.",
    placeholders={"name": "PROJ_PRICING", "schemas": "RAW, MODELS", "retention_time": "e.g. 1 (empty: the account default)",
                  "credit_quota": "e.g. 50 (empty: no resource monitor)"},
)
