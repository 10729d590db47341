-- The custom budgets this role can see (instances of the class SNOWFLAKE.CORE.BUDGET).
-- Answers: which budgets has someone created in the account, and where do they live?
-- Units: BUDGETS is JSON text: a list of {DATABASE, SCHEMA, NAME, ID, CREATED_ON (epoch ms), CURRENT_VERSION, COMMENT}.
-- Source: system function SYSTEM$SHOW_BUDGETS_IN_ACCOUNT (budgets the role holds no privilege on are left out).
-- Binds: none.
SELECT SYSTEM$SHOW_BUDGETS_IN_ACCOUNT() AS BUDGETS
