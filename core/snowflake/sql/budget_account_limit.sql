-- The account budget's monthly spending limit (Snowflake's Budgets feature).
-- Answers: what has the account's admin set as the account's spending limit for a calendar month (UTC)?
-- Units: credits; -1 when the account budget has no spending limit.
-- Source: method GET_SPENDING_LIMIT of SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET (needs application role
-- SNOWFLAKE.BUDGET_VIEWER or BUDGET_ADMIN; fails "does not exist or not authorized" without one).
-- Binds: none.
CALL SNOWFLAKE.LOCAL.ACCOUNT_ROOT_BUDGET!GET_SPENDING_LIMIT()
