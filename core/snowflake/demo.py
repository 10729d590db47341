"""The demo account: ACCOUNT_USAGE-shaped tables in a DuckDB file, generated from a SnowDDL config.

`generate(folder, config, end_date, query_rows)` writes `SNOWFLAKE.db` (database SNOWFLAKE, schema
ACCOUNT_USAGE) with 90 days that match the config's users, roles, warehouses, databases and resource
monitors. Everything is computed in DuckDB SQL from a seeded integer hash, so the same arguments give
the same rows on every machine. Planted on purpose (the cost and security pages must find them):

- weekday and hour patterns per workload (loader around the clock, dbt at night, people 08-18 UTC);
- a cost spike: the data-science warehouse runs flat out for a whole day (`Planted.spike_day`);
- an idle-heavy warehouse: the BI warehouse is kept awake 08:00-18:00 on weekdays by dashboard
  refreshes and only 25% of its compute goes to queries (`Planted.idle_credits` is the exact idle);
- storage growth (RAW grows fastest, PROJ_CHURN jumps when a training set lands);
- login failures (a password-guessing burst on ADMIN, key-pair failures after a rotation), two stale
  users, a service user logging in with a password, and an ACCOUNTADMIN holder without MFA.

`sync(folder, config, at)` makes a deployed config show up: new users appear in USERS (and their roles
in GRANTS_TO_USERS), removed users are marked deleted, a new warehouse starts metering. It is
idempotent and remembers the config it last applied, so a crash between the merge and the sync is
repaired by running it again (the portal does so on start).

The stand-in in four modules: this one generates, opens, reads and syncs the file; demo_planted.py holds
what is planted (the calendar, the workloads, the planted facts, the Planted record) and the SQL helpers
the table builders share; demo_cost_views.py fills the cost views (billing, budgets, queries, storage);
demo_security_views.py the identity views (users, roles, grants, logins, access history).
"""
from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import duckdb

from core.snowddl.inventory import describe  # noqa: F401  (the one reader of a config's rows; callers use demo.describe too)
from core.snowflake import contract
from core.snowflake.connect import STANDIN_FILE, busy
from core.snowflake.demo_cost_views import _billing, _budgets, _queries, _storage
from core.snowflake.demo_planted import (ATTRIBUTION_LAG_HOURS, DAYS, IDLE_UTILISATION, PARTIAL_HOURS, PROFILES, SEED, Planted,
                                         _MACROS, _QUERY_DENSITY, _RUNNING, _now_sql, _rate, _table, _values, plant)
from core.snowflake.demo_security_views import PLANTED_USE, SNOWDDL_OWNER, _identity, _user_row, access_history
from core.snowflake.queries import QueryError


DEFAULT_QUERY_ROWS = 100_000
MAX_QUERY_ROWS = 50_000_000  # bounded before any work: 10,000,000 takes about a minute and 1 GB
# The ACCOUNT_USAGE views the stand-in has; a file without one of them is damaged and made again.
VIEWS = tuple(sorted(contract.VIEWS))


def generate(folder: str | Path, config, end_date: dt.date | None = None, query_rows: int = DEFAULT_QUERY_ROWS,
             config_sha: str = "") -> Planted:
    """Write `folder/SNOWFLAKE.db` for `config` (a LoadedConfig) with `query_rows` QUERY_HISTORY rows
    (at least one per running warehouse hour) over the 90 days ending on `end_date` (default: yesterday, UTC).

    The file is built under a temporary name and moved into place, so a crash leaves the old account
    (or none), never half of one. Raises ValueError for a row count outside 1 .. MAX_QUERY_ROWS, and
    QueryError when the folder or file cannot be written."""
    if not isinstance(query_rows, int) or not 1 <= query_rows <= MAX_QUERY_ROWS:
        raise ValueError(f"query rows must be between 1 and {MAX_QUERY_ROWS:,}")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QueryError(f"the demo account cannot be made in {folder}: {exc.strerror or exc}") from exc
    end_date = end_date or (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1))
    shape = describe(config)
    planted = plant(shape, end_date, query_rows)
    tmp = folder / (STANDIN_FILE + ".tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    db = _open(tmp, read_only=False)
    try:
        db.execute("SET TimeZone = 'UTC'")
        _build(db, shape, planted)
        _set_meta(db, {"END_DATE": end_date.isoformat(), "QUERY_ROWS": str(query_rows), "SEED": str(SEED),
                       "CONFIG_SHA": config_sha, "SPIKE_DAY": planted.spike_day.isoformat(),
                       "SPIKE_WAREHOUSE": planted.spike_warehouse, "IDLE_WAREHOUSE": planted.idle_warehouse,
                       "IDLE_CREDITS": repr(planted.idle_credits)})
        db.execute("CHECKPOINT")
    finally:
        db.close()
    # The old file's write-ahead log, left by a writer killed after a commit: DuckDB would replay it on the new
    # file (and refuse it: the account then reads as missing). Without it the old file only loses that last sync,
    # which the next start repeats (sync is idempotent by CONFIG_SHA).
    Path(str(folder / STANDIN_FILE) + ".wal").unlink(missing_ok=True)
    os.replace(tmp, folder / STANDIN_FILE)
    return planted


def _build(db, shape: dict, p: Planted) -> None:
    start = p.end_date - dt.timedelta(days=DAYS - 1)
    t0 = f"TIMESTAMP '{start.isoformat()} 00:00:00'"
    db.execute(_MACROS)
    db.execute("CREATE SCHEMA ACCOUNT_USAGE; CREATE SCHEMA SNOWTOWER_DEMO;")
    db.execute("CREATE TABLE SNOWTOWER_DEMO.META (KEY VARCHAR PRIMARY KEY, VALUE VARCHAR)")
    whs = shape["warehouses"]
    db.execute("CREATE TEMP TABLE wh (WAREHOUSE_ID INTEGER, WAREHOUSE_NAME VARCHAR, PROFILE VARCHAR, RATE DOUBLE, DENSITY DOUBLE)")
    if whs:
        db.execute("INSERT INTO wh VALUES " + _values([
            (i + 1, w["name"], PROFILES.get(w["name"], "adhoc"), float(_rate(w["size"])),
             _QUERY_DENSITY[PROFILES.get(w["name"], "adhoc")]) for i, w in enumerate(whs)]))
    # Every hour of the 90 days for every warehouse, with its running share and query utilisation.
    db.execute(f"""
        CREATE TEMP TABLE hours AS
        WITH grid AS (
            SELECT w.*, {t0} + n * INTERVAL 1 HOUR AS START_TIME, n AS HOUR_NO
            FROM wh w, range({DAYS * 24 + PARTIAL_HOURS}) t(n)
        ), h AS (
            SELECT g.*, CAST(START_TIME AS DATE) AS DAY, ISODOW(START_TIME) AS DOW, HOUR(START_TIME) AS HOD,
                   rnd(HOUR_NO, WAREHOUSE_ID) AS r1, rnd(HOUR_NO, WAREHOUSE_ID + 100) AS r2,
                   rnd(HOUR_NO, WAREHOUSE_ID + 200) AS r3
            FROM grid g
        )
        SELECT h.*, LEAST(1.0, {_RUNNING.format(spike=p.spike_day.isoformat(), spike_wh=p.spike_warehouse)}) AS RUNNING,
               CASE WHEN h.WAREHOUSE_NAME = '{p.idle_warehouse}' THEN {IDLE_UTILISATION}
                    WHEN h.DAY = DATE '{p.spike_day.isoformat()}' AND h.WAREHOUSE_NAME = '{p.spike_warehouse}' THEN 0.97
                    ELSE 0.85 + 0.1 * r2 END AS UTIL
        FROM h
    """)
    db.execute("DELETE FROM hours WHERE RUNNING <= 0")
    _table(db, 'WAREHOUSE_METERING_HISTORY')
    db.execute("""
        INSERT INTO ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY BY NAME
        SELECT START_TIME, START_TIME + INTERVAL 1 HOUR AS END_TIME, WAREHOUSE_ID, WAREHOUSE_NAME,
               RUNNING * RATE * (1 + 0.03 + 0.04 * r3) AS CREDITS_USED,
               RUNNING * RATE AS CREDITS_USED_COMPUTE,
               RUNNING * RATE * (0.03 + 0.04 * r3) AS CREDITS_USED_CLOUD_SERVICES,
               CASE WHEN START_TIME < {now} - INTERVAL {ATTRIBUTION_LAG_HOURS} HOUR THEN RUNNING * RATE * UTIL END
                   AS CREDITS_ATTRIBUTED_COMPUTE_QUERIES
        FROM hours ORDER BY START_TIME, WAREHOUSE_NAME
    """.format(now=_now_sql(p), ATTRIBUTION_LAG_HOURS=ATTRIBUTION_LAG_HOURS))
    _billing(db, p)
    _budgets(db, p)
    _queries(db, shape, p)
    _storage(db, shape, p, t0)
    _identity(db, shape, p)
    access_history(db, [u for u in PLANTED_USE if u[0] in {x["name"] for x in shape["users"]}], p.end_date)


def _set_meta(db, values: dict[str, str]) -> None:
    for k, v in values.items():
        db.execute("INSERT OR REPLACE INTO SNOWTOWER_DEMO.META VALUES (?, ?)", [k, v])


def _open(path: Path, read_only: bool, wait_seconds: float = 5.0):
    """The DuckDB file, waiting up to `wait_seconds` while it is being written elsewhere (connect.busy);
    QueryError if it is still busy then, or cannot be opened."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not busy(exc) or time.monotonic() > deadline:
                raise QueryError(f"the demo account {path} cannot be opened: {exc}") from exc
            time.sleep(0.1)


def meta(folder: str | Path) -> dict[str, str]:
    """The generator's record (END_DATE, QUERY_ROWS, CONFIG_SHA, planted facts); {} if there is no account,
    or only a damaged file (not a demo account, or one missing a view of VIEWS), which the next generation replaces.
    Raises QueryError while another process holds the file."""
    path = Path(folder) / STANDIN_FILE
    if not path.is_file():
        return {}
    try:
        db = _open(path, read_only=True)
    except QueryError as exc:
        if busy(exc.__cause__ or exc):  # busy is not damaged: never made again for it
            raise
        return {}
    try:
        have = {r[0] for r in db.execute("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = 'ACCOUNT_USAGE'").fetchall()}
        if not set(VIEWS) <= have:
            return {}
        return dict(db.execute("SELECT KEY, VALUE FROM SNOWTOWER_DEMO.META").fetchall())
    except duckdb.Error:
        return {}
    finally:
        db.close()


def sync(folder: str | Path, config, config_sha: str, at: dt.datetime | None = None) -> list[str]:
    """Make the account match a deployed config (a LoadedConfig): new users appear in USERS with their
    role in GRANTS_TO_USERS, users gone from the config get DELETED_ON, users disabled in it get
    DISABLED, and a new warehouse meters one hour at a quarter of its rate: the newest hour that has ended by `at`
    (default now, UTC), or the account's newest metered hour when its generated clock is ahead of `at`.
    Idempotent; does nothing if `config_sha` was applied already.

    Returns what changed, one line each (e.g. "user NEW_PERSON added")."""
    folder = Path(folder)
    path = folder / STANDIN_FILE
    if not path.is_file() or config.snowddl is None:
        return []
    if config_sha and meta(folder).get("CONFIG_SHA") == config_sha:
        return []  # in step already: checked read-only, so readers in other processes are not locked out
    at = (at or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None, microsecond=0)
    shape = describe(config)
    done: list[str] = []
    db = _open(path, read_only=False)
    try:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("BEGIN TRANSACTION")
        have = dict(db.execute("SELECT NAME, OWNER FROM ACCOUNT_USAGE.USERS WHERE DELETED_ON IS NULL").fetchall())
        next_id = db.execute("SELECT COALESCE(MAX(USER_ID), 0) + 1 FROM ACCOUNT_USAGE.USERS").fetchone()[0]
        wanted = {u["name"]: u for u in shape["users"]}
        for name, u in wanted.items():
            if name not in have:
                row = _user_row(next_id, u, at, None)  # names and email as merged from a request: binds, never SQL text
                db.execute(f"INSERT INTO ACCOUNT_USAGE.USERS VALUES ({', '.join('?' * len(row))})", list(row))
                db.execute("INSERT INTO ACCOUNT_USAGE.GRANTS_TO_USERS VALUES (?, NULL, ?, 'USER', ?, ?)",
                           [at, f"{name}__U_ROLE", name, SNOWDDL_OWNER])
                next_id += 1
                done.append(f"user {name} added")
            else:
                changed = db.execute("UPDATE ACCOUNT_USAGE.USERS SET DISABLED = to_json(?::BOOLEAN) WHERE NAME = ? AND DELETED_ON IS NULL "
                                     "AND DISABLED::BOOLEAN IS DISTINCT FROM ? RETURNING NAME", [u["disabled"], name, u["disabled"]]).fetchall()
                if changed:
                    done.append(f"user {name} {'disabled' if u['disabled'] else 'enabled'}")
        for name, owner in have.items():
            if name not in wanted and owner == SNOWDDL_OWNER:
                db.execute("UPDATE ACCOUNT_USAGE.USERS SET DELETED_ON = ? WHERE NAME = ? AND DELETED_ON IS NULL", [at, name])
                db.execute("UPDATE ACCOUNT_USAGE.GRANTS_TO_USERS SET DELETED_ON = ? WHERE GRANTEE_NAME = ? AND DELETED_ON IS NULL",
                           [at, name])
                done.append(f"user {name} dropped")
        metered = {r[0] for r in db.execute("SELECT DISTINCT WAREHOUSE_NAME FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY").fetchall()}
        next_wh = db.execute("SELECT COALESCE(MAX(WAREHOUSE_ID), 0) + 1 FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY").fetchone()[0]
        # The newest hour that has ended, on the account's clock: WAREHOUSE_METERING_HISTORY has one row per
        # complete hour (https://docs.snowflake.com/en/sql-reference/account-usage/warehouse_metering_history), and
        # the generated account is read at NOW_HOUR of the day after its END_DATE, so its rows reach that morning even
        # before the real clock does. The hour of `at` itself, ending at the next hour, made a sync between 23:00
        # and midnight end the day: the cost windows then counted that day as complete and the new warehouse as used.
        filled = db.execute("SELECT MAX(END_TIME) FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY").fetchone()[0]
        if filled is not None and filled.tzinfo is not None:  # TIMESTAMP_LTZ: `at` is naive UTC
            filled = filled.astimezone(dt.timezone.utc).replace(tzinfo=None)
        hour_end = max(at.replace(minute=0, second=0), filled) if filled else at.replace(minute=0, second=0)
        first = hour_end - dt.timedelta(hours=1)
        for w in shape["warehouses"]:
            if w["name"] in metered:
                continue
            rate = _rate(w["size"])
            hours = 1  # the deployment's hour only: later hours have not happened (and the view lags), so the
            # day stays incomplete and windows still end on the day before
            db.execute(f"""
                INSERT INTO ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY
                SELECT ? + n * INTERVAL 1 HOUR, ? + (n + 1) * INTERVAL 1 HOUR, ?, ?,
                       0.25 * ? * 1.04, 0.25 * ?, 0.25 * ? * 0.04, 0.25 * ? * 0.85
                FROM range({hours}) t(n)
            """, [first, first, next_wh, w["name"], rate, rate, rate, rate])
            next_wh += 1
            done.append(f"warehouse {w['name']} metering from {first:%Y-%m-%d %H:00} UTC")
        _set_meta(db, {"CONFIG_SHA": config_sha})
        db.execute("COMMIT")
        db.execute("CHECKPOINT")
    except Exception as exc:
        try:
            db.execute("ROLLBACK")
        except duckdb.Error:  # the transaction never started
            pass
        if isinstance(exc, duckdb.Error):
            raise QueryError(f"the demo account {path} could not be updated: {exc}") from exc
        raise
    finally:
        db.close()
    return done
