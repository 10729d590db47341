-- What a custom budget monitors: the objects added to it.
-- Answers: which warehouses (databases, schemas, tables, ...) does the budget <instance> hold to its limit?
-- Units: one row per object: RESOURCE_ID, NAME, DOMAIN (WAREHOUSE, DATABASE, ...), SCHEMA_NAME, DATABASE_NAME.
-- Source: method GET_LINKED_RESOURCES of the SNOWFLAKE.CORE.BUDGET instance (needs its ADMIN instance role; objects
-- added through a tag are not listed).
-- Binds: the instance, as a quoted identifier (queries.ask_instance), no values.
CALL <instance>!GET_LINKED_RESOURCES()
