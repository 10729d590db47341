-- A custom budget's monthly spending limit.
-- Answers: what spending limit does the budget <instance> hold a calendar month (UTC) to?
-- Units: credits; -1 when the budget has no spending limit.
-- Source: method GET_SPENDING_LIMIT of the SNOWFLAKE.CORE.BUDGET instance (needs any of its instance roles and
-- USAGE on its database and schema).
-- Binds: the instance, as a quoted identifier (queries.ask_instance), no values.
CALL <instance>!GET_SPENDING_LIMIT()
