-- SnowTower in Streamlit in Snowflake: everything the app needs, created once by an administrator.
-- Run as ACCOUNTADMIN (or a role with the same grants) in a worksheet or with `snow sql -f deploy/setup.sql`,
-- after replacing the two <...> values below. Every statement can be run again safely.
-- Then `snow streamlit deploy` with snowflake.yml (docs/deploy.md, "Streamlit in Snowflake").

USE ROLE ACCOUNTADMIN;

-- 1. Roles: SNOWTOWER_APP owns the app and runs it (owner's rights); viewers get a portal role from the
--    Snowflake role they hold (settings.sis_role_mapping: SNOWTOWER_ADMIN -> admin, ...).
CREATE ROLE IF NOT EXISTS SNOWTOWER_APP COMMENT = 'Owns and runs the SnowTower Streamlit app';
CREATE ROLE IF NOT EXISTS SNOWTOWER_REQUESTER COMMENT = 'SnowTower: may request access';
CREATE ROLE IF NOT EXISTS SNOWTOWER_APPROVER COMMENT = 'SnowTower: may review requests';
CREATE ROLE IF NOT EXISTS SNOWTOWER_ADMIN COMMENT = 'SnowTower: may merge, sees cost, security and audit';
GRANT ROLE SNOWTOWER_REQUESTER TO ROLE SNOWTOWER_APPROVER;
GRANT ROLE SNOWTOWER_APPROVER TO ROLE SNOWTOWER_ADMIN;
GRANT ROLE SNOWTOWER_APP TO ROLE SYSADMIN;

-- 2. The warehouse that runs the app's queries.
CREATE WAREHOUSE IF NOT EXISTS SNOWTOWER_WH WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60 AUTO_RESUME = TRUE
    INITIALLY_SUSPENDED = TRUE COMMENT = 'SnowTower queries';
GRANT USAGE ON WAREHOUSE SNOWTOWER_WH TO ROLE SNOWTOWER_APP;

-- 3. Where the app, its files and its tables live.
CREATE DATABASE IF NOT EXISTS SNOWTOWER;
CREATE SCHEMA IF NOT EXISTS SNOWTOWER.APP;
GRANT USAGE ON DATABASE SNOWTOWER TO ROLE SNOWTOWER_APP;
GRANT USAGE ON SCHEMA SNOWTOWER.APP TO ROLE SNOWTOWER_APP;
GRANT CREATE STREAMLIT, CREATE STAGE ON SCHEMA SNOWTOWER.APP TO ROLE SNOWTOWER_APP;

-- 4. The audit log: append-only for the app (INSERT and SELECT only, so the database refuses edits).
--    The columns are app/audit_snowflake.py's (tests/test_deploy_files.py checks that they agree). operation_id
--    links an operation's intent and outcome; seq, prev_hash and hash are the hash chain that
--    `snowtower audit verify` checks (docs/security.md).
--    Upgrading from a table without the chain columns: keep the old one as it is and make a new one,
--      ALTER TABLE SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG RENAME TO SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG_BEFORE_CHAIN;
--    then run this step (the new chain starts at #1; the old rows stay readable by whoever holds SELECT).
CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG (
    occurred_at TIMESTAMP_TZ NOT NULL,
    actor VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    request_id INTEGER,
    outcome VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    commit_before VARCHAR NOT NULL,
    commit_after VARCHAR NOT NULL,
    operation_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
);
GRANT SELECT, INSERT ON TABLE SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG TO ROLE SNOWTOWER_APP;
--    SnowTower's other records (app/snowflake_tables.py; the same columns, a test compares them): the
--    writers' lock rows, the state of each finding (open, resolved, accepted), the alerts' once-only
--    ledger and the access review campaigns. Snowflake enforces no PRIMARY KEY or UNIQUE on these
--    tables, so the app serialises its writers by updating a row of SNOWTOWER_LOCKS inside a
--    transaction (UPDATE, never DELETE, on that table).
CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_LOCKS (
    name VARCHAR NOT NULL,
    held_by VARCHAR NOT NULL,
    held_at VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_FINDING_STATE (
    key VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    first_seen VARCHAR NOT NULL,
    last_seen VARCHAR NOT NULL,
    resolved_at VARCHAR,
    accepted_by VARCHAR,
    accepted_reason VARCHAR,
    accepted_until VARCHAR,
    accepted_at VARCHAR
);
CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_ALERT_SENT (
    key VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    claimed_at VARCHAR NOT NULL,
    sent_at VARCHAR,
    channels VARCHAR NOT NULL
);
--    Access review campaigns and their items (docs/access-reviews.md); ids are given by the app.
CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_CAMPAIGNS (
    id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    deadline VARCHAR NOT NULL,
    days INTEGER NOT NULL,
    created_by VARCHAR NOT NULL,
    created_at VARCHAR NOT NULL,
    config_sha VARCHAR NOT NULL,
    closed_at VARCHAR
);
CREATE TABLE IF NOT EXISTS SNOWTOWER.APP.SNOWTOWER_CAMPAIGN_ITEMS (
    id INTEGER NOT NULL,
    campaign_id INTEGER NOT NULL,
    user_name VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    reviewer VARCHAR NOT NULL,
    verdict VARCHAR NOT NULL,
    evidence_json VARCHAR NOT NULL,
    decision VARCHAR,
    reason VARCHAR NOT NULL,
    until VARCHAR,
    decided_by VARCHAR,
    decided_at VARCHAR,
    request_id INTEGER
);
GRANT SELECT, INSERT, UPDATE ON TABLE SNOWTOWER.APP.SNOWTOWER_LOCKS TO ROLE SNOWTOWER_APP;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE SNOWTOWER.APP.SNOWTOWER_FINDING_STATE TO ROLE SNOWTOWER_APP;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE SNOWTOWER.APP.SNOWTOWER_ALERT_SENT TO ROLE SNOWTOWER_APP;
GRANT SELECT, INSERT, UPDATE ON TABLE SNOWTOWER.APP.SNOWTOWER_CAMPAIGNS TO ROLE SNOWTOWER_APP;
GRANT SELECT, INSERT, UPDATE ON TABLE SNOWTOWER.APP.SNOWTOWER_CAMPAIGN_ITEMS TO ROLE SNOWTOWER_APP;

-- 5. ACCOUNT_USAGE for the cost, security and login pages: the SNOWFLAKE database roles (or, more
--    broadly, GRANT IMPORTED PRIVILEGES ON DATABASE SNOWFLAKE TO ROLE SNOWTOWER_APP).
GRANT DATABASE ROLE SNOWFLAKE.USAGE_VIEWER TO ROLE SNOWTOWER_APP;
GRANT DATABASE ROLE SNOWFLAKE.GOVERNANCE_VIEWER TO ROLE SNOWTOWER_APP;
GRANT DATABASE ROLE SNOWFLAKE.SECURITY_VIEWER TO ROLE SNOWTOWER_APP;
-- Snowflake's account budget (its spending limit on the Cost page and in spend alerts): an application role for it
-- (https://docs.snowflake.com/en/user-guide/budgets/monitor). Custom budgets are read where their owner granted
-- SnowTower an instance role: GRANT SNOWFLAKE.CORE.BUDGET ROLE <db>.<schema>.<budget>!VIEWER TO ROLE SNOWTOWER_APP
-- (!ADMIN to also see what it monitors). Without these the page says so and uses budget_monthly.
GRANT APPLICATION ROLE SNOWFLAKE.BUDGET_VIEWER TO ROLE SNOWTOWER_APP;

-- 6. GitHub: a network rule for the API and the archive host (config tarballs), the secrets, and the
--    external access integration the app is created with (snowflake.yml).
CREATE NETWORK RULE IF NOT EXISTS SNOWTOWER.APP.GITHUB_API_RULE
    MODE = EGRESS TYPE = HOST_PORT VALUE_LIST = ('api.github.com:443', 'codeload.github.com:443');
CREATE SECRET IF NOT EXISTS SNOWTOWER.APP.GITHUB_TOKEN
    TYPE = GENERIC_STRING SECRET_STRING = '<a GitHub token with contents and pull requests write on the repository>';
CREATE SECRET IF NOT EXISTS SNOWTOWER.APP.SIGNING_KEY
    TYPE = GENERIC_STRING SECRET_STRING = '<64 random hex characters, e.g. the output of: openssl rand -hex 32>';
CREATE EXTERNAL ACCESS INTEGRATION IF NOT EXISTS SNOWTOWER_GITHUB_ACCESS
    ALLOWED_NETWORK_RULES = (SNOWTOWER.APP.GITHUB_API_RULE)
    ALLOWED_AUTHENTICATION_SECRETS = (SNOWTOWER.APP.GITHUB_TOKEN, SNOWTOWER.APP.SIGNING_KEY)
    ENABLED = TRUE;
GRANT USAGE ON INTEGRATION SNOWTOWER_GITHUB_ACCESS TO ROLE SNOWTOWER_APP;
GRANT READ ON SECRET SNOWTOWER.APP.GITHUB_TOKEN TO ROLE SNOWTOWER_APP;
GRANT READ ON SECRET SNOWTOWER.APP.SIGNING_KEY TO ROLE SNOWTOWER_APP;

-- 7. The container runtime: a compute pool, and PyPI for deploy/requirements.txt.
CREATE COMPUTE POOL IF NOT EXISTS SNOWTOWER_POOL MIN_NODES = 1 MAX_NODES = 1 INSTANCE_FAMILY = CPU_X64_XS
    AUTO_SUSPEND_SECS = 3600;
GRANT USAGE, MONITOR ON COMPUTE POOL SNOWTOWER_POOL TO ROLE SNOWTOWER_APP;
CREATE EXTERNAL ACCESS INTEGRATION IF NOT EXISTS SNOWTOWER_PYPI_ACCESS
    ALLOWED_NETWORK_RULES = (SNOWFLAKE.EXTERNAL_ACCESS.PYPI_RULE) ENABLED = TRUE;
GRANT USAGE ON INTEGRATION SNOWTOWER_PYPI_ACCESS TO ROLE SNOWTOWER_APP;

-- 8. Who may open the app: the viewer roles (the portal maps them to its roles; approvers and admins
--    inherit the requester's grants). Opening a Streamlit app takes USAGE on it and a privilege on its
--    database and schema ("Privileges required to create and use a Streamlit app").
GRANT USAGE ON DATABASE SNOWTOWER TO ROLE SNOWTOWER_REQUESTER;
GRANT USAGE ON SCHEMA SNOWTOWER.APP TO ROLE SNOWTOWER_REQUESTER;
--    After `snow streamlit deploy` (as SNOWTOWER_APP), which creates the app:
--    GRANT USAGE ON STREAMLIT SNOWTOWER.APP.SNOWTOWER TO ROLE SNOWTOWER_REQUESTER;
--    Roles that SnowDDL manages (e.g. business role SNOWTOWER_ADMIN, i.e. SNOWTOWER_ADMIN__B_ROLE) need the
--    same three grants, or GRANT ROLE SNOWTOWER_REQUESTER TO ROLE <that role>.
