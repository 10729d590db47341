"""The demo account in a workspace: made once and kept, following merged requests, and `snowtower cost`."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from core.changes.model import Status
from core.snowflake import demo, demo_planted
from core.snowflake.connect import STANDIN_FILE
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, SubmitRequest
from recipes import RECIPES


@pytest.fixture(autouse=True)
def small_accounts(monkeypatch):
    monkeypatch.setenv("SNOWTOWER_DEMO_QUERY_ROWS", "5000")


def rows(services, sql, params=()):
    db = duckdb.connect(str(services.workspace.account_dir / STANDIN_FILE), read_only=True)
    try:
        return db.execute(sql, list(params)).fetchall()
    finally:
        db.close()


def deploy(services, people, recipe, raw):
    recipe = RECIPES[recipe]
    preview = PreviewRequest(services, recipe, raw).execute()
    assert preview.ok, preview.field_errors or preview.validation
    cr = SubmitRequest(services, people["requester"], recipe, raw, preview.base_sha).execute()
    ApproveRequest(services, people["approver"], cr.id).execute()
    return MergeRequest(services, people["admin"], cr.id, confirm_unsafe=True).execute()  # a budget or an offboarding is unsafe


def test_the_account_is_made_on_first_use_and_kept(services):
    assert services.sync_demo_account() == []  # not made just by starting the portal
    assert not (services.workspace.account_dir / STANDIN_FILE).exists()
    assert services.sync_demo_account(generate=True) == ["demo account generated"]
    made = (services.workspace.account_dir / STANDIN_FILE).stat().st_mtime_ns
    assert services.sync_demo_account(generate=True) == []
    assert (services.workspace.account_dir / STANDIN_FILE).stat().st_mtime_ns == made
    assert demo.meta(services.workspace.account_dir)["QUERY_ROWS"] == "5000"
    assert services.sync_demo_account(generate=True, query_rows=7000) == ["demo account generated"]
    assert rows(services, "SELECT COUNT(*) FROM ACCOUNT_USAGE.QUERY_HISTORY")[0][0] == 7000


def test_a_merged_new_user_appears_in_users(services, people, new_user_raw):
    services.sync_demo_account(generate=True)
    assert rows(services, "SELECT COUNT(*) FROM ACCOUNT_USAGE.USERS WHERE NAME = 'JANE_DOE'")[0][0] == 0
    cr = deploy(services, people, "new-user", new_user_raw())
    assert cr.status == Status.DEPLOYED
    user = rows(services, "SELECT TYPE, EMAIL, HAS_RSA_PUBLIC_KEY, DEFAULT_WAREHOUSE, LAST_SUCCESS_LOGIN FROM ACCOUNT_USAGE.USERS "
                          "WHERE NAME = 'JANE_DOE'")
    assert user == [("PERSON", "jane_doe@cascaderidge.example", True, "ANALYST_WH", None)]
    assert rows(services, "SELECT ROLE FROM ACCOUNT_USAGE.GRANTS_TO_USERS WHERE GRANTEE_NAME = 'JANE_DOE'") == [("JANE_DOE__U_ROLE",)]
    assert demo.meta(services.workspace.account_dir)["CONFIG_SHA"] == services.changes.base_head()


def test_a_merged_new_warehouse_starts_metering(services, people):
    services.sync_demo_account(generate=True)
    raw = {"name": "MARKETING_WH", "size": "MEDIUM", "auto_suspend": "60", "resource_monitor": "ANALYST_MONITOR",
           "justification": "Campaign analysis moves off the analyst warehouse."}
    deploy(services, people, "new-warehouse", raw)
    metered = rows(services, "SELECT COUNT(*), SUM(CREDITS_USED_COMPUTE), MAX(CREDITS_USED_COMPUTE) "
                             "FROM ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY WHERE WAREHOUSE_NAME = 'MARKETING_WH'")[0]
    assert metered[0] >= 1 and metered[2] == pytest.approx(0.25 * 4)  # a quarter of MEDIUM's 4 credits/hour


@pytest.mark.parametrize("hour", [0, 5, 9, 23])
def test_a_new_warehouse_metered_at_any_hour_leaves_the_days_in_the_windows_complete(tmp_path, hour):
    """A sync between 23:00 and midnight wrote the hour 23:00-24:00, which ended the day: the cost windows then
    took that day as complete, with the new warehouse used in it (and no other warehouse metered). The new
    warehouse meters an hour that has ended, on the account's clock, and the last complete day does not move."""
    from core.snowddl.config_loader import load_config
    from core.snowflake.connect import standin_source
    from core.snowflake.cost import last_day

    example = load_config(demo_planted.__file__.rsplit("/core/", 1)[0] + "/snowddl")
    end = dt.date(2026, 12, 6)
    folder = tmp_path / "account"
    demo.generate(folder, example, end_date=end, query_rows=3000)
    before = last_day(standin_source(folder))
    head = load_config(example.path, overlay={
        "warehouse.yaml": (example.path / "warehouse.yaml").read_text() + "NEW_WH:\n  size: SMALL\n  auto_suspend: 60\n"})
    at = dt.datetime(2026, 12, 7, hour, 30)
    filled = dt.datetime(2026, 12, 7, demo_planted.PARTIAL_HOURS)  # the generated account's newest metered hour ends here
    first = max(at.replace(minute=0), filled) - dt.timedelta(hours=1)
    assert demo.sync(folder, head, "sha-new-wh", at=at) == [f"warehouse NEW_WH metering from {first:%Y-%m-%d %H:00} UTC"]
    assert before == end and last_day(standin_source(folder)) == end


def test_a_sync_interrupted_by_a_crash_is_finished_on_the_next_start(services, people, new_user_raw, monkeypatch):
    from app.services import build_services

    services.sync_demo_account(generate=True)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(demo, "sync", crash)
        cr = deploy(services, people, "new-user", new_user_raw())  # deployed all the same, no traceback
    assert cr.status == Status.DEPLOYED
    assert rows(services, "SELECT COUNT(*) FROM ACCOUNT_USAGE.USERS WHERE NAME = 'JANE_DOE'")[0][0] == 0
    build_services(services.settings)  # the portal starts again
    assert rows(services, "SELECT COUNT(*) FROM ACCOUNT_USAGE.USERS WHERE NAME = 'JANE_DOE'")[0][0] == 1
    assert build_services(services.settings).sync_demo_account() == []  # nothing left to do


def test_an_offboarded_user_is_marked_deleted(services, people):
    services.sync_demo_account(generate=True)
    at = demo.sync(services.workspace.account_dir, services.snapshot().config, "again")
    assert at == []  # in step with the config
    raw = {"name": "HCHO", "justification": "Left the company on Friday."}
    deploy(services, people, "offboard-user", raw)
    deleted = rows(services, "SELECT DELETED_ON IS NOT NULL OR DISABLED FROM ACCOUNT_USAGE.USERS WHERE NAME = 'HCHO'")
    assert deleted == [(True,)]
    # the account's own users, which SnowDDL does not manage, stay
    assert rows(services, "SELECT DELETED_ON FROM ACCOUNT_USAGE.USERS WHERE NAME = ?", [demo_planted.ADMIN_WITHOUT_MFA]) == [(None,)]


def test_cli_cost_gives_the_same_figures_as_text_json_and_csv(services, capsys):
    from core.snowflake.cost import summary
    from portal.cli import main

    ws = str(services.workspace.root)
    assert main(["cost", "--workspace", ws, "--format", "json", "--days", "30"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = summary(services.snowflake_source(), 30, 3.0)
    assert report["total_credits"] == pytest.approx(expected["total_credits"])
    # money is the bill's: billed credits at 3.0, storage at 23.0 per TB-month, transfer at 20.0 per TB (defaults)
    lines = {x["line"]: x for x in report["spend"]["lines"]}
    assert lines["WAREHOUSE_METERING"]["money"] == pytest.approx(lines["WAREHOUSE_METERING"]["quantity"] * 3.0)
    assert lines["STORAGE"]["price"] == 23.0 and lines["DATA_TRANSFER"]["price"] == 20.0
    assert report["total_money"] == pytest.approx(sum(x["money"] for x in lines.values()))
    assert lines["WAREHOUSE_METERING"]["quantity"] < report["total_credits"]  # metered warehouse credits overstate the bill
    assert report["warehouses"][0]["warehouse"] == "BI_WH" and report["currency"] == "USD"
    spike = demo.meta(services.workspace.account_dir)["SPIKE_DAY"]
    assert [a["day"] for a in report["anomalies"]] == [spike]
    # the keys the cost page's meaning adds: previous period, budget, spenders, patterns, recommendations
    assert report["previous"]["change"]["credits"] == pytest.approx(report["total_credits"] / report["previous"]["credits"] - 1)
    assert report["budget"]["account"] is None and report["budget"]["month"] == report["forecast"]["month"]
    assert len(report["top_spenders"]) == 5 and report["query_patterns"][0]["queries"] > 1
    idle = next(r for r in report["recommendations"] if r["code"] == "WAREHOUSE_IDLE")
    assert idle["warehouse"] == "BI_WH" and idle["fix"]["recipe"] == "change-warehouse" and idle["saving_money"] > 0
    assert main(["cost", "--workspace", ws, "--format", "csv", "--days", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "warehouse,credits,compute_credits,compute_money_usd,idle_credits,idle_share" and len(lines) == 6
    assert main(["cost", "--workspace", ws]) == 0
    out = capsys.readouterr().out
    assert "BI_WH" in out and f"anomaly {spike}" in out and "forecast" in out and "SNOWPARK_CONTAINER_SERVICES" in out
    assert "recommendation WAREHOUSE_IDLE BI_WH: saves ~" in out and "previous " in out
    for bad in ("0", "366", "x"):
        assert main(["cost", "--workspace", ws, "--days", bad]) == 2


@pytest.mark.parametrize("rows", ["0", "-1", str(demo.MAX_QUERY_ROWS + 1)])
def test_demo_refuses_a_query_row_count_out_of_bounds_before_any_work(tmp_path, rows, capsys):
    from portal.cli import main

    assert main(["demo", "--workspace", str(tmp_path / "ws"), "--query-rows", rows]) == 2
    assert "--query-rows must be between 1 and" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()


def _hold_for_writing(services, seconds: float):
    """Hold the stand-in open for writing in this process (as a demo deployment's sync does) for `seconds`."""
    import threading

    db = duckdb.connect(str(services.workspace.account_dir / STANDIN_FILE), read_only=False)
    timer = threading.Timer(seconds, db.close)
    timer.start()
    return timer


def test_a_page_reading_while_a_deployment_writes_in_the_same_process_waits_for_it(services):
    # The portal serves every session from one process: one admin's merge syncs the stand-in while
    # another admin's cost page reads it. DuckDB then says "Unique file handle conflict", not "lock".
    from core.snowflake.connect import standin_source
    from core.snowflake.queries import ask

    services.sync_demo_account(generate=True)
    timer = _hold_for_writing(services, 0.5)
    try:
        hours = ask(standin_source(services.workspace.account_dir), "data_range")
    finally:
        timer.join()
    end = demo.meta(services.workspace.account_dir)["END_DATE"]
    # the view is filled to 3 hours before the moment the demo is read (09:00 the day after END_DATE)
    after = dt.date.fromisoformat(end) + dt.timedelta(days=1)
    assert str(hours["LAST_HOUR"][0]) == f"{after} {demo_planted.PARTIAL_HOURS - 1:02d}:00:00+00:00"


def test_the_account_is_not_made_again_because_a_deployment_is_writing_it(services):
    # A busy file is not a damaged one: it is never replaced by a new account at the default size.
    services.sync_demo_account(generate=True, query_rows=6000)
    timer = _hold_for_writing(services, 0.5)
    try:
        done = services.sync_demo_account(generate=True)
    finally:
        timer.join()
    assert "demo account generated" not in done
    assert demo.meta(services.workspace.account_dir)["QUERY_ROWS"] == "6000"


def test_cli_cost_over_more_days_than_the_account_has_names_the_days_it_covers(services, capsys):
    from portal.cli import main

    services.sync_demo_account(generate=True)
    end = dt.date.fromisoformat(demo.meta(services.workspace.account_dir)["END_DATE"])
    first = end - dt.timedelta(days=demo_planted.DAYS - 1)
    assert main(["cost", "--workspace", str(services.workspace.root), "--format", "json", "--days", "365"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["start"], report["end"]) == (first.isoformat(), end.isoformat())  # not a year before the data
    assert main(["cost", "--workspace", str(services.workspace.root), "--days", "365"]) == 0
    assert f"Cost {first:%Y-%m-%d} to {end:%Y-%m-%d} (UTC, complete days" in capsys.readouterr().out


def test_an_account_missing_a_view_is_damaged_and_made_again(services, capsys):
    from portal.cli import main

    services.sync_demo_account(generate=True)
    db = duckdb.connect(str(services.workspace.account_dir / STANDIN_FILE))
    db.execute("DROP TABLE ACCOUNT_USAGE.USERS")  # its record (SNOWTOWER_DEMO.META) still says it is whole
    db.close()
    assert services.sync_demo_account(generate=True) == ["demo account generated"]
    assert rows(services, "SELECT COUNT(*) FROM ACCOUNT_USAGE.USERS WHERE NAME = 'ADMIN'") == [(1,)]
    assert main(["cost", "--workspace", str(services.workspace.root), "--days", "7"]) == 0
    assert "BI_WH" in capsys.readouterr().out


def test_a_generation_killed_halfway_leaves_nothing_that_stops_the_next_one(services):
    """kill -9 while the account is being written leaves SNOWFLAKE.db.tmp and its write-ahead log (DuckDB then
    refuses a log that does not match its file: "WAL does not match database file"); the next start makes the
    account all the same. Made twice here: the second time the account for these inputs is made already
    (the tests keep one per run: tests/standin_cache.py), and is served the same way."""
    assert services.sync_demo_account(generate=True) == ["demo account generated"]
    folder = services.workspace.account_dir
    (folder / STANDIN_FILE).unlink()
    tmp = folder / (STANDIN_FILE + ".tmp")
    db = duckdb.connect(str(tmp))  # the killed writer: its last statements only in the log
    db.execute("PRAGMA disable_checkpoint_on_shutdown")
    db.execute("SET wal_autocheckpoint = '1TB'")
    db.execute("CREATE TABLE HALF AS SELECT range AS N FROM range(1000)")
    db.close()
    assert (folder / (STANDIN_FILE + ".tmp.wal")).is_file()
    assert services.sync_demo_account(generate=True) == ["demo account generated"]
    assert rows(services, "SELECT COUNT(*) FROM ACCOUNT_USAGE.USERS WHERE NAME = 'ADMIN'") == [(1,)]
    assert sorted(p.name for p in folder.iterdir()) == [STANDIN_FILE]


def test_an_account_made_again_after_a_killed_write_is_not_read_with_the_old_files_log(services):
    """kill -9 after a deployment's sync committed leaves SNOWFLAKE.db.wal (DuckDB replays it on the next open).
    Made again at another size, the new file was read with that log: DuckDB refused it, the account read as
    missing (no META), and every start made it again."""
    assert services.sync_demo_account(generate=True) == ["demo account generated"]
    path = services.workspace.account_dir / STANDIN_FILE
    db = duckdb.connect(str(path))  # the killed writer: its committed statements only in the log
    db.execute("PRAGMA disable_checkpoint_on_shutdown")
    db.execute("SET wal_autocheckpoint = '1TB'")
    db.execute("UPDATE ACCOUNT_USAGE.USERS SET COMMENT = 'synced' WHERE NAME = 'ADMIN'")
    db.close()
    assert path.with_name(STANDIN_FILE + ".wal").is_file()
    assert services.sync_demo_account(generate=True, query_rows=6000) == ["demo account generated"]
    assert demo.meta(services.workspace.account_dir)["QUERY_ROWS"] == "6000"
    assert services.sync_demo_account(generate=True) == []


def test_a_merged_user_with_sql_in_the_names_is_stored_as_typed(services, people, new_user_raw):
    services.sync_demo_account(generate=True)
    first, last = "O'Brien", "x'); DROP TABLE ACCOUNT_USAGE.USERS; --\\"
    cr = deploy(services, people, "new-user", new_user_raw(first_name=first, last_name=last))
    assert cr.status == Status.DEPLOYED
    assert rows(services, "SELECT FIRST_NAME, LAST_NAME FROM ACCOUNT_USAGE.USERS WHERE NAME = 'JANE_DOE'") == [(first, last)]


def test_cli_security_json_names_every_planted_finding(services, capsys):
    from portal.cli import main

    ws = str(services.workspace.root)
    assert main(["security", "--workspace", ws, "--format", "json"]) == 1  # findings: exit 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["clean"]
    assert sorted((f["code"], f["object"], f["fix"]["recipe"]) for f in doc["findings"]) == [
        ("STALE_USER", name, "offboard-user") for name in sorted(demo_planted.STALE_USERS)]
    cis = {c["id"]: c for c in doc["cis"]}
    assert [r["NAME"] for r in cis["1.4"]["evidence"]] == [demo_planted.ADMIN_WITHOUT_MFA]
    assert [r["NAME"] for r in cis["1.6"]["evidence"]] == [demo_planted.PASSWORD_SERVICE_USER]
    assert sorted(r["NAME"] for r in cis["1.8"]["evidence"]) == sorted(demo_planted.STALE_USERS)
    assert [r["NAME"] for r in cis["1.11"]["evidence"]] == [demo_planted.ADMIN_WITHOUT_MFA]
    assert cis["2.x"]["status"] == "monitor" and [r["USER_NAME"] for r in cis["2.x"]["evidence"]] == [demo_planted.ADMIN_WITHOUT_MFA]
    assert doc["service_users_with_password"] == [demo_planted.PASSWORD_SERVICE_USER]
    assert doc["health"][0]["NAME"] == demo_planted.ADMIN_WITHOUT_MFA and doc["health"][0]["SCORE"] == 30
    assert len(doc["health"]) == 18 and doc["mfa_coverage"] == {"with_mfa": 0, "people": 14}
    failed = {(r["USER_NAME"], r["REASON"]): r["FAILURES"] for r in doc["failed_logins"]}
    assert failed[(demo_planted.ADMIN_WITHOUT_MFA, "INCORRECT_USERNAME_PASSWORD")] == 40  # the password-guessing burst
    assert failed[("SVC_DBT", "JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH")] == 8  # the key rotation
    assert failed[("ROOT", "INCORRECT_USERNAME_PASSWORD")] == 15
    assert ("WAREHOUSE_NO_MONITOR", "BI_WH") in {(f["code"], f["object"]) for f in doc["hygiene"]}
    assert main(["security", "--workspace", ws]) == 1
    out = capsys.readouterr().out
    assert "STALE_USER  TLINDQVIST" in out and "CIS 1.4       FAIL" in out and f"health  30  {demo_planted.ADMIN_WITHOUT_MFA}" in out
    for bad in ("0", "366", "x"):
        assert main(["security", "--workspace", ws, "--days", bad]) == 2
