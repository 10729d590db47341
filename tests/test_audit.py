"""The audit log: one record per operation (refusals included) and per sign-in event, append-only in
SQLite (triggers) and in the code (a grep), the same port on a Snowflake table (fakesnow), the admin
page's search and CSV export."""
from __future__ import annotations

import csv
import getpass
import io
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.audit_export import to_csv
from app.audit_record import AuditQuery, AuditRecord
from app.audit_snowflake import SnowflakeAuditLog
from app.audit_sqlite import SqliteAuditLog
from app.operations import ApproveRequest, MergeRequest, RejectRequest, SubmitRequest
from app.operations.unlock_login import UnlockLogin
from core.changes.base import ChangeError
from recipes import RECIPES, FieldErrors
from test_signin import attempt, portal, workspace  # noqa: F401  (workspace: a fixture)

ROOT = Path(__file__).resolve().parents[1]
RECIPE = RECIPES["new-user"]


def rows(services):
    """(actor, action, request id, outcome) of every record, oldest first."""
    return [(r.actor, r.action, r.request_id, r.outcome) for r in reversed(services.audit.search())]


def test_every_operation_writes_one_record_refusals_included(services, people, new_user_raw, private_pem):
    requester, approver, admin = people["requester"], people["approver"], people["admin"]
    base = services.changes.base_head()
    cr = SubmitRequest(services, requester, RECIPE, new_user_raw(), base).execute()
    with pytest.raises(FieldErrors):
        SubmitRequest(services, requester, RECIPE, new_user_raw("x", rsa_public_key=private_pem), base).execute()
    with pytest.raises(ChangeError, match="only approvers"):
        ApproveRequest(services, requester, cr.id).execute()
    with pytest.raises(ChangeError, match="a comment is required"):
        RejectRequest(services, approver, cr.id, "  ").execute()
    ApproveRequest(services, approver, cr.id, "looks right").execute()
    with pytest.raises(ChangeError, match="only admins may merge"):
        MergeRequest(services, approver, cr.id).execute()
    merged = MergeRequest(services, admin, cr.id).execute()
    with pytest.raises(ChangeError, match="only admins may unlock"):
        UnlockLogin(services, requester, "admin").execute()
    assert rows(services) == [
        ("requester", "submit", cr.id, "ok"), ("requester", "submit", None, "refused"),
        ("requester", "approve", cr.id, "refused"), ("approver", "reject", cr.id, "refused"),
        ("approver", "approve", cr.id, "ok"), ("approver", "merge", cr.id, "refused"),
        ("admin", "merge", cr.id, "ok"), ("requester", "unlock_login", None, "refused"),
    ]
    records = list(reversed(services.audit.search()))
    assert records[0].commit_before == base and records[0].commit_after == cr.head_sha
    assert records[0].role == "requester" and records[6].role == "requester,approver,admin"
    assert records[6].commit_before == cr.head_sha and records[6].commit_after == merged.merged_sha
    assert records[2].reason == "only approvers and admins may review requests."
    assert "rsa_public_key" in records[1].reason and "PRIVATE" in records[1].reason
    assert private_pem.splitlines()[1] not in "".join(r.reason for r in records)  # a key is never copied in
    assert all(r.occurred_at.tzinfo is not None for r in records)


def test_the_record_is_stamped_by_the_services_clock(services, people, new_user_raw):
    services.clock = lambda: datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    SubmitRequest(services, people["requester"], RECIPE, new_user_raw(), services.changes.base_head()).execute()
    assert services.audit.search()[0].occurred_at == datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_a_missing_request_is_a_refusal_on_record(services, people):
    with pytest.raises(ChangeError, match="does not exist"):
        ApproveRequest(services, people["approver"], 999).execute()
    assert rows(services) == [("approver", "approve", 999, "refused")]


def record(at: datetime, actor="ada", action="merge", request_id=3, reason="") -> AuditRecord:
    return AuditRecord(at, actor, "admin", action, request_id, "ok", reason, "a" * 40, "b" * 40)


def test_sqlite_refuses_update_and_delete_of_audit_rows(tmp_path):
    log = SqliteAuditLog(tmp_path / "snowtower.db")
    log.append(record(datetime(2026, 1, 5, tzinfo=timezone.utc)))
    db = sqlite3.connect(tmp_path / "snowtower.db")
    for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log", "UPDATE audit_log SET outcome = 'ok'"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()
    assert [r.actor for r in log.search()] == ["ada"]


def test_nothing_in_snowtower_updates_or_deletes_audit_rows():
    """Every statement in the code that names the audit table is a CREATE, INSERT or SELECT (the
    triggers that refuse UPDATE and DELETE aside): no code path can edit history."""
    offending = []
    for path in [*ROOT.glob("app/**/*.py"), *ROOT.glob("core/**/*.py"), *ROOT.glob("portal/**/*.py"),
                 *ROOT.glob("pages/**/*.py"), *ROOT.glob("core/**/*.sql")]:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?|MERGE\s+INTO|REPLACE\s+INTO|DROP\s+TABLE)\s+"
                             r"(\{self\.table\}|\w*audit\w*)", text, re.IGNORECASE):
            line = text[:m.start()].count("\n") + 1
            if "BEFORE" not in text[max(0, m.start() - 40):m.start()].upper():  # the refusing triggers
                offending.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}")
    assert offending == []
    assert "audit_log_no_update BEFORE UPDATE" in (ROOT / "app" / "audit_sqlite.py").read_text()


def test_search_by_person_request_action_and_days(tmp_path):
    log = SqliteAuditLog(tmp_path / "snowtower.db")
    day = datetime(2026, 1, 5, 23, 59, tzinfo=timezone.utc)
    log.append(record(day, "ada", "merge", 3))
    log.append(record(day + timedelta(minutes=2), "Bob", "approve", 3))
    log.append(record(day + timedelta(days=2), "bob", "sign_in", None))
    assert [r.action for r in log.search(AuditQuery(actor="BOB"))] == ["sign_in", "approve"]
    assert [r.actor for r in log.search(AuditQuery(request_id=3))] == ["Bob", "ada"]
    assert [r.actor for r in log.search(AuditQuery(action="merge"))] == ["ada"]
    assert [r.action for r in log.search(AuditQuery(since=date(2026, 1, 5), until=date(2026, 1, 5)))] == ["merge"]
    assert [r.action for r in log.search(AuditQuery(since=date(2026, 1, 6)))] == ["sign_in", "approve"]
    assert log.search(AuditQuery(actor="ada", action="approve")) == []


def test_the_snowflake_table_setup_made_is_written_and_searched_alike(tmp_path):
    from fakesnow.instance import FakeSnow

    from app.audit_snowflake import snowflake_table_ddl

    fs = FakeSnow(db_path=tmp_path)
    admin = fs.connect(database="SNOWTOWER", schema="AUDIT", paramstyle="qmark")
    admin.cursor().execute(snowflake_table_ddl("SNOWTOWER.AUDIT.SNOWTOWER_AUDIT_LOG"))  # deploy/setup.sql step 4
    log = SnowflakeAuditLog(lambda: fs.connect(database="SNOWTOWER", schema="AUDIT", paramstyle="qmark"),
                            "SNOWTOWER.AUDIT.SNOWTOWER_AUDIT_LOG")
    day = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    log.append(record(day, reason="x'); DROP TABLE SNOWTOWER_AUDIT_LOG; --"))
    log.append(record(day + timedelta(days=1), "bob", "sign_in_failed", None))
    log.check_writable()  # writes nothing
    again = SnowflakeAuditLog(lambda: fs.connect(database="SNOWTOWER", schema="AUDIT", paramstyle="qmark"),
                              "SNOWTOWER.AUDIT.SNOWTOWER_AUDIT_LOG")  # a new process: the table is kept
    assert [(r.actor, r.action, r.request_id) for r in again.search()] == [("bob", "sign_in_failed", None), ("ada", "merge", 3)]
    first = again.search(AuditQuery(actor="ADA"))[0]
    assert first.reason == "x'); DROP TABLE SNOWTOWER_AUDIT_LOG; --" and first.occurred_at == day
    assert [r.actor for r in again.search(AuditQuery(since=date(2026, 1, 6)))] == ["bob"]
    with pytest.raises(ValueError, match="not a Snowflake identifier"):
        SnowflakeAuditLog(lambda: None, "LOG; DROP TABLE X")


class Statements:
    """A DB-API connection that records each statement and answers from `fail` (SQL prefix -> error)."""

    def __init__(self, fail: dict):
        self.fail, self.ran = fail, []

    def cursor(self):
        return self

    def execute(self, sql, params=None):
        self.ran.append(sql)
        for prefix, exc in self.fail.items():
            if sql.startswith(prefix):
                raise exc
        self.rows = [("SNOWTOWER_APP",)] if sql == "SELECT CURRENT_ROLE()" else []
        self.rowcount = 1  # the writers' lock row is there
        if sql.startswith("INSERT") and params:  # the conditional append: its record is read back by seq
            from app.audit_record import COLUMNS

            self.appended = params[COLUMNS.index("hash")]
        elif sql.startswith("SELECT hash FROM") and getattr(self, "appended", None):
            self.rows = [(self.appended,)]

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return self.rows

    def close(self):
        pass


def snowflake_error(errno: int, sqlstate: str, msg: str):
    from snowflake.connector.errors import ProgrammingError

    return ProgrammingError(msg=msg, errno=errno, sqlstate=sqlstate)


TABLE = "SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG"


@pytest.mark.parametrize("fail, named", [
    ({"SELECT occurred_at": snowflake_error(2003, "42S02", "SQL compilation error:\nObject 'SNOWTOWER.APP.SNOWTOWER_AUDIT_LOG' "
                                                            "does not exist or not authorized.")},
     f"the audit table {TABLE} does not exist or the role SNOWTOWER_APP cannot see it: an administrator runs deploy/setup.sql "
     f"step 4 (CREATE TABLE IF NOT EXISTS {TABLE} (occurred_at TIMESTAMP_TZ NOT NULL, "),
    ({"SELECT occurred_at": snowflake_error(2003, "02000", "SQL compilation error:\nSchema 'SNOWTOWER.APP' does not exist or not authorized.")},
     "the schema SNOWTOWER.APP does not exist or the role SNOWTOWER_APP cannot see it: GRANT USAGE ON SCHEMA SNOWTOWER.APP TO ROLE SNOWTOWER_APP"),
    ({"SELECT occurred_at": snowflake_error(2003, "02000", "SQL compilation error:\nDatabase 'SNOWTOWER' does not exist or not authorized.")},
     "the database SNOWTOWER does not exist or the role SNOWTOWER_APP cannot see it: GRANT USAGE ON DATABASE SNOWTOWER TO ROLE SNOWTOWER_APP"),
    ({"INSERT": snowflake_error(3001, "42501", "SQL access control error:\nInsufficient privileges to operate on table 'SNOWTOWER_AUDIT_LOG'")},
     f"the role SNOWTOWER_APP may not INSERT the audit table {TABLE}: GRANT INSERT ON TABLE {TABLE} TO ROLE SNOWTOWER_APP"),
    ({"SELECT occurred_at": snowflake_error(904, "42000", "SQL compilation error: error line 1 at position 7\ninvalid identifier 'COMMIT_AFTER'")},
     f"the audit table {TABLE} lacks a column SnowTower writes (occurred_at, actor, role, action, request_id, outcome, reason, "
     "commit_before, commit_after, operation_id, seq, prev_hash, hash): create it as deploy/setup.sql step 4 does (a table "
     f"made before the hash chain: rename it, e.g. to {TABLE}_BEFORE_CHAIN, and run step 4 again)"),
])
def test_a_missing_table_or_grant_is_named_and_no_ddl_is_ever_run(fail, named):
    """The app's role has SELECT and INSERT on the table only (deploy/setup.sql): the log never runs DDL,
    and when Snowflake refuses, the error names the statement an administrator runs."""
    from app.audit import AuditError

    conn = Statements(fail)
    log = SnowflakeAuditLog(lambda: conn, TABLE)
    with pytest.raises(AuditError) as caught:
        log.append(record(datetime(2026, 1, 5, tzinfo=timezone.utc)))
    assert str(caught.value).startswith(named)
    assert not [s for s in conn.ran if s.split()[0].upper() in ("CREATE", "ALTER", "DROP", "GRANT")]


def test_with_select_and_insert_the_log_runs_one_check_then_only_its_statements():
    conn = Statements({})
    log = SnowflakeAuditLog(lambda: conn, TABLE)
    log.append(record(datetime(2026, 1, 5, tzinfo=timezone.utc)))
    log.search()
    # the check, then in one transaction the lock row, the head, the conditional append, its read-back; the search
    assert [s.split()[0] for s in conn.ran] == ["SELECT", "SELECT", "BEGIN", "UPDATE", "SELECT", "INSERT", "SELECT",
                                                 "COMMIT", "SELECT"]
    assert conn.ran[3].startswith("UPDATE SNOWTOWER_LOCKS SET held_by") if "." not in TABLE else \
        conn.ran[3].startswith(f"UPDATE {TABLE.rsplit('.', 1)[0]}.SNOWTOWER_LOCKS SET held_by")
    assert conn.ran[0] == (f"SELECT occurred_at, actor, role, action, request_id, outcome, reason, commit_before, commit_after, "
                           f"operation_id, seq, prev_hash, hash FROM {TABLE} LIMIT 0")


def test_csv_export_keeps_user_text_as_text():
    at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    text = to_csv([record(at, reason='=HYPERLINK("http://evil.example","x"), "quoted"\nnext line')])
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[0]["reason"] == '\'=HYPERLINK("http://evil.example","x"), "quoted"\nnext line'
    assert parsed[0]["occurred_at"] == "2026-01-05T09:00:00+00:00" and parsed[0]["request_id"] == "3"


# -- the portal: sign-in events and the admin page ----------------------------------------------------

def test_sign_in_failed_sign_in_and_sign_out_are_recorded(workspace):
    from portal import ui

    attempt(portal(), "requester", "wrong")
    at = attempt(portal(), "approver", "demo")
    next(b for b in at.button if b.label == "Sign out").click()
    at.run()
    log = ui.services().audit
    assert [(r.actor, r.action, r.outcome, r.role) for r in reversed(log.search())] == [
        ("requester", "sign_in_failed", "refused", ""), ("approver", "sign_in", "ok", "requester,approver"),
        ("approver", "sign_out", "ok", "requester,approver"),
    ]
    assert "demo" not in "".join(r.reason for r in log.search())  # a password is never recorded


def test_the_admin_page_searches_and_exports_and_others_are_told_no(workspace, people, new_user_raw):
    from portal import ui

    services = ui.services()
    cr = SubmitRequest(services, people["requester"], RECIPE,
                       new_user_raw(justification="**bold** <b>x</b> [link](http://evil.example)"),
                       services.changes.base_head()).execute()
    with pytest.raises(ChangeError):
        ApproveRequest(services, people["requester"], cr.id).execute()
    at = attempt(portal(), "admin", "demo")
    at.switch_page(str(ROOT / "pages" / "audit.py")).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Action"]) == ["approve", "submit"]  # sign-ins are hidden unless asked for
    submitted = table.iloc[1]
    assert submitted["Commit"] == services.changes.get(cr.id).base_sha[:12]
    assert submitted["Commit after"] == cr.head_sha[:12]  # differs: shown
    assert table.iloc[0]["Commit after"] == ""  # the refused approval changed nothing
    at.checkbox(key="audit.sign_ins").check().run()
    assert list(at.dataframe[0].value["Action"]) == ["sign_in", "approve", "submit"]
    at.checkbox(key="audit.intents").check().run()
    assert list(at.dataframe[0].value["Outcome"]) == ["ok", "refused", "intent", "ok", "intent"]
    at.checkbox(key="audit.intents").uncheck().run()
    at.button(key="audit.verify").click().run()
    assert at.success and at.success[0].value.startswith("intact: 5 record(s)")
    at.text_input(key="audit.person").input("requester").run()
    table = at.dataframe[0].value
    assert list(table["Action"]) == ["approve", "submit"] and list(table["Outcome"]) == ["refused", "ok"]
    at.selectbox(key="audit.action").set_value("approve").run()
    assert list(at.dataframe[0].value["Reason"]) == ["only approvers and admins may review requests."]
    at.text_input(key="audit.request").input("abc").run()
    assert "digits only" in at.error[0].value
    at.text_input(key="audit.request").input(f"#{cr.id}").run()
    assert len(at.dataframe[0].value) == 1
    assert not any("unsafe_allow_html" in str(m.proto) for m in at.markdown)

    at = attempt(portal(), "approver", "demo")  # not an admin: the page is not in the navigation
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(ROOT / "pages" / "audit.py"))


def test_the_command_line_records_what_an_operator_does(tmp_path, monkeypatch, capsys):
    from app.audit_stores import audit_log_for
    from app.settings import load_settings
    from portal import cli

    workspace = tmp_path / "ws"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(["users", "add", "dana", "--role", "approver", "--password-stdin", "--workspace", str(workspace)]) == 0
    assert cli.main(["users", "unlock", "dana", "--workspace", str(workspace)]) == 0
    records = list(reversed(audit_log_for(load_settings(workspace)).search()))
    by = f" (by {getpass.getuser()} on the command line)"
    assert [(r.actor, r.action, r.role, r.reason) for r in records] == [
        ("snowtower-cli", "user_saved", "requester,approver,admin", "login dana with role(s) approver" + by),
        ("snowtower-cli", "unlock_login", "requester,approver,admin", "login dana" + by)]
    assert "long enough" not in records[0].reason


def test_the_audit_store_is_a_setting(tmp_path, monkeypatch):
    from app.audit_stores import audit_log_for
    from app.settings import load_settings
    from core.snowflake.queries import QueryError

    for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SNOWTOWER_AUDIT_LOG", "snowflake")
    with pytest.raises(QueryError, match="no Snowflake credentials"):
        audit_log_for(load_settings(tmp_path / "ws"))
    monkeypatch.setenv("SNOWTOWER_AUDIT_LOG", "csv")
    with pytest.raises(ValueError, match=r"audit_log: wrong type: Input should be 'sqlite' or 'snowflake' \(from environment variable SNOWTOWER_AUDIT_LOG\)"):
        load_settings(tmp_path / "ws")
