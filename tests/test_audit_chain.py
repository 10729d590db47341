"""Issue 25: an audit log an auditor can trust. No effect without its record (intent before, outcome
after, a failing store refuses before acting, sign-in events kept), tampering detectable (the hash chain
on SQLite and on the Snowflake table, anchors in the config repository, every write but append refused),
and evidence for auditors (`snowtower audit export` / `verify --file`, spreadsheet-safe CSV)."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.audit import AuditError
from app.audit_export import from_csv, to_csv
from app.audit_record import COLUMNS, GENESIS, INTENT, AuditQuery, AuditRecord, verify_chain
from app.audit_snowflake import SnowflakeAuditLog, snowflake_table_ddl
from app.audit_sqlite import SqliteAuditLog
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, SubmitRequest
from core.changes.model import Status
from recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]
DAY = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
TABLE = "SNOWTOWER.AUDIT.SNOWTOWER_AUDIT_LOG"


def rec(i: int, actor: str = "ada", action: str = "approve", reason: str = "") -> AuditRecord:
    return AuditRecord(DAY + timedelta(minutes=i), actor, "approver", action, 7, "ok", reason)


def submit_approved(services, people, new_user_raw, name="jane_doe"):
    recipe = RECIPES["new-user"]
    base = services.changes.base_head()
    preview = PreviewRequest(services, recipe, new_user_raw(name), base).execute()
    assert not preview.field_errors
    cr = SubmitRequest(services, people["requester"], recipe, new_user_raw(name), base).execute()
    return ApproveRequest(services, people["approver"], cr.id, head_sha=cr.head_sha).execute()


# -- every write path but append is refused ------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "INSERT OR REPLACE INTO audit_log ({cols}) SELECT {forged} FROM audit_log WHERE seq = 2",
    "REPLACE INTO audit_log ({cols}) SELECT {forged} FROM audit_log WHERE seq = 2",
    "INSERT INTO audit_log ({cols}) SELECT {forged} FROM audit_log WHERE seq = 2 ON CONFLICT(seq) DO UPDATE SET actor = 'mallory'",
    "INSERT INTO audit_log ({cols}) SELECT {forged} FROM audit_log WHERE seq = 3",  # a copy appended with a stale link
    "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
    "DELETE FROM audit_log WHERE seq = 3",
])
def test_rewriting_an_approvals_actor_in_place_is_refused(tmp_path, statement):
    """The issue's proof of concept: INSERT OR REPLACE with an existing sequence number rewrote an approval's
    actor in place. Every such write is refused by the database, and search returns what was written."""
    log = SqliteAuditLog(tmp_path / "snowtower.db")
    for i, who in enumerate(["requester", "approver", "admin"]):
        log.write(who, ["approver"], ["submit", "approve", "merge"][i], request_id=7)
    forged = ", ".join("'mallory'" if c == "actor" else c for c in COLUMNS)
    db = sqlite3.connect(tmp_path / "snowtower.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute(statement.format(cols=", ".join(COLUMNS), forged=forged))
    db.commit()
    assert [r.actor for r in log.search(AuditQuery(action="approve"))] == ["approver"]
    assert log.verify().ok


# -- tampering is detected, on SQLite and on the Snowflake table -----------------------------------------

class Sqlite:
    """The demo's store, and an attacker holding its file (who drops the triggers first)."""

    def __init__(self, tmp_path):
        self.path = tmp_path / "snowtower.db"
        self.log = SqliteAuditLog(self.path)

    def sql(self, *statements):
        db = sqlite3.connect(self.path)
        for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_append_only"):
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for s, params in statements:
            db.execute(s.replace("{t}", "audit_log"), params)
        db.commit()
        db.close()


class Snowflake:
    """The production store on the Snowflake stand-in, and an attacker holding a role with every privilege."""

    def __init__(self, tmp_path):
        from fakesnow.instance import FakeSnow

        (tmp_path / "fakesnow").mkdir(exist_ok=True)
        fs = FakeSnow(db_path=tmp_path / "fakesnow")
        self.admin = fs.connect(database="SNOWTOWER", schema="AUDIT", paramstyle="qmark")
        self.admin.cursor().execute(snowflake_table_ddl(TABLE))  # deploy/setup.sql step 4
        self.log = SnowflakeAuditLog(lambda: fs.connect(database="SNOWTOWER", schema="AUDIT", paramstyle="qmark"), TABLE)

    def sql(self, *statements):
        cur = self.admin.cursor()
        for s, params in statements:
            cur.execute(s.replace("{t}", TABLE), params)


def row_of(record: AuditRecord) -> list:
    row = record.to_row()
    row["request_id"] = record.request_id
    return [row[c] for c in COLUMNS]


INSERT = f"INSERT INTO {{t}} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def tamper(store, kind: str, records: list[AuditRecord]) -> int:
    """Break the 5-record log of `store` as `kind` says; returns the seq verify must name."""
    if kind == "edited":  # the approval's actor rewritten, its hash left
        store.sql(("UPDATE {t} SET actor = ? WHERE seq = ?", ["mallory", 3]))
        return 3
    if kind == "edited_and_rehashed":  # the hash recomputed too: the next record's link no longer matches
        forged = AuditRecord(**{**records[2].__dict__, "actor": "mallory"}).chained(3, records[1].hash)
        store.sql(("UPDATE {t} SET actor = ?, hash = ? WHERE seq = ?", ["mallory", forged.hash, 3]))
        return 4
    if kind == "deleted":
        store.sql(("DELETE FROM {t} WHERE seq = ?", [3]))
        return 4
    if kind == "inserted":  # a forged record made to link to #2, the later ones moved up by one
        forged = rec(99, "mallory", "approve").chained(3, records[1].hash)
        store.sql(("UPDATE {t} SET seq = seq + 100 WHERE seq >= ?", [3]), ("UPDATE {t} SET seq = seq - 99 WHERE seq > ?", [100]),
                  (INSERT, row_of(forged)))
        return 4
    if kind == "appended_forgery":  # added at the end with a made-up link
        store.sql((INSERT, row_of(rec(99, "mallory").chained(6, "f" * 64))))
        return 6
    if kind == "reordered":  # records #3 and #4 swapped
        store.sql(("UPDATE {t} SET seq = ? WHERE seq = ?", [100, 3]), ("UPDATE {t} SET seq = ? WHERE seq = ?", [3, 4]),
                  ("UPDATE {t} SET seq = ? WHERE seq = ?", [4, 100]))
        return 3
    raise AssertionError(kind)


@pytest.mark.audit_tampered
@pytest.mark.parametrize("store_kind", [Sqlite, Snowflake])
@pytest.mark.parametrize("kind", ["edited", "edited_and_rehashed", "deleted", "inserted", "appended_forgery", "reordered"])
def test_verify_names_the_first_record_that_breaks_the_chain(tmp_path, store_kind, kind):
    store = store_kind(tmp_path)
    written = [store.log.append(rec(i, ["requester", "approver", "approver", "admin", "admin"][i],
                                    ["submit", "approve", "approve", "merge", "sign_out"][i], reason=f"=cmd|' /C calc'!A{i}"))
               for i in range(5)]
    assert [r.seq for r in written] == [1, 2, 3, 4, 5] and written[0].prev_hash == GENESIS
    assert store.log.verify().ok
    bad = tamper(store, kind, written)
    report = store.log.verify()
    assert not report.ok and report.first_bad == bad, report


def test_an_intact_chain_is_the_same_on_both_stores(tmp_path):
    """The hash covers the canonical record: written to SQLite or to Snowflake, a record has the same hash."""
    lite, snow = Sqlite(tmp_path), Snowflake(tmp_path)
    for i in range(3):
        a, b = lite.log.append(rec(i, reason="ünïcode, \"quotes\"\n")), snow.log.append(rec(i, reason="ünïcode, \"quotes\"\n"))
        assert (a.seq, a.hash) == (b.seq, b.hash)
    assert [r.hash for r in lite.log.records()] == [r.hash for r in snow.log.records()]
    assert snow.log.verify().ok and snow.log.head() == lite.log.head()


def test_concurrent_writers_keep_one_chain(tmp_path):
    """Several processes (here: four threads, each with its own connection per append, as separate
    portal processes have) append at once: BEGIN IMMEDIATE makes each read the head it links to."""
    path = tmp_path / "snowtower.db"
    SqliteAuditLog(path)

    def writer(n):
        log = SqliteAuditLog(path)
        for i in range(15):
            log.write(f"w{n}", ["approver"], "approve", request_id=i)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    log = SqliteAuditLog(path)
    assert [r.seq for r in log.records()] == list(range(1, 61)) and log.verify().ok


def test_snowflake_append_retries_when_another_writer_took_the_place(tmp_path):
    """Two writers read the same head; the conditional INSERT of the second inserts nothing (a record at
    that place exists), so it reads the head again and appends after the first."""
    store = Snowflake(tmp_path)
    other = store.log
    mine = SnowflakeAuditLog(store.log.connect, TABLE)
    real_run = mine._run
    raced = []

    def run(sql, params=None, fetch=False, privilege="SELECT"):
        if sql.startswith("INSERT") and not raced:
            raced.append(other.append(rec(1, "other")))  # lands between this writer's head read and its INSERT
        return real_run(sql, params, fetch, privilege)

    mine._run = run
    appended = mine.append(rec(2, "mine"))
    assert appended.seq == 2 and appended.prev_hash == raced[0].hash
    assert [(r.seq, r.actor) for r in mine.records()] == [(1, "other"), (2, "mine")] and mine.verify().ok


# -- no effect without its record ------------------------------------------------------------------------

def test_each_operation_writes_its_intent_before_acting_and_its_outcome_after(services, people, new_user_raw):
    cr = submit_approved(services, people, new_user_raw)
    MergeRequest(services, people["admin"], cr.id, head_sha=cr.head_sha).execute()
    every = services.audit.records()
    ops = {}
    for r in every:
        ops.setdefault(r.operation_id, []).append(r)
    merge = [group for group in ops.values() if group[0].action == "merge"][0]
    assert [r.outcome for r in merge] == [INTENT, "ok"] and merge[0].seq < merge[1].seq
    assert merge[0].reason.startswith("process ") and merge[1].commit_after
    assert [r.action for r in services.audit.search(AuditQuery(request_id=cr.id))] == ["merge", "approve", "submit"]
    # the submit's intent names no request yet (it has no number before it is opened): linked by operation id
    assert len(services.audit.search(AuditQuery(request_id=cr.id, intents=True))) == 5
    submit = [group for group in ops.values() if group[0].action == "submit"][0]
    assert [(r.outcome, r.request_id) for r in submit] == [(INTENT, None), ("ok", cr.id)]
    assert services.audit.open_intents() == []


class FailingStore(SqliteAuditLog):
    """The audit store as when Snowflake is unreachable: every append fails."""
    broken = True

    def append(self, record, once=False):
        if self.broken:
            raise AuditError("the audit table SNOWTOWER_AUDIT_LOG cannot be used (network unreachable)")
        return super().append(record, once)


def test_a_store_that_cannot_take_the_intent_stops_the_merge_before_it_acts(services, people, new_user_raw):
    """The issue's proof: with the store failing, a merge deployed with no record. Now nothing is merged."""
    cr = submit_approved(services, people, new_user_raw)
    main = services.changes.base_head()
    services.audit = FailingStore(services.workspace.db_path)
    with pytest.raises(AuditError, match="network unreachable"):
        MergeRequest(services, people["admin"], cr.id, head_sha=cr.head_sha).execute()
    assert services.changes.base_head() == main and services.changes.get(cr.id).status == Status.APPROVED
    services.audit.broken = False
    done = MergeRequest(services, people["admin"], cr.id, head_sha=cr.head_sha).execute()
    assert done.status == Status.DEPLOYED
    assert [r.outcome for r in services.audit.search(AuditQuery(request_id=cr.id, action="merge"))] == ["ok"]


def test_sign_in_events_the_store_cannot_take_are_kept_and_written_later(tmp_path):
    log = FailingStore(tmp_path / "snowtower.db")
    log.write("ada", ["admin"], "sign_in", at=DAY)  # no error: the sign-in is kept
    log.write("bob", [], "sign_in_failed", "refused", "wrong password", at=DAY + timedelta(minutes=1))
    assert len(list((tmp_path / "audit-spool").glob("*.json"))) == 2
    with pytest.raises(AuditError):  # an operation's record is never spooled: it refuses instead
        log.write("ada", ["admin"], "merge", request_id=1)
    log.broken = False
    log.write("ada", ["admin"], "sign_out", at=DAY + timedelta(minutes=5))
    kept = log.records()
    assert [(r.actor, r.action, r.occurred_at) for r in kept] == [
        ("ada", "sign_in", DAY), ("bob", "sign_in_failed", DAY + timedelta(minutes=1)), ("ada", "sign_out", DAY + timedelta(minutes=5))]
    assert "written late" in kept[1].reason and kept[1].reason.startswith("wrong password")
    assert list((tmp_path / "audit-spool").glob("*")) == [] and log.verify().ok


@pytest.mark.audit_tampered  # the old table, kept as it was, has no chain of its own
def test_a_log_written_before_the_chain_is_chained_once_and_the_old_table_kept(tmp_path):
    path = tmp_path / "snowtower.db"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE audit_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, occurred_at TEXT NOT NULL,
        actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, request_id INTEGER, outcome TEXT NOT NULL,
        reason TEXT NOT NULL, commit_before TEXT NOT NULL, commit_after TEXT NOT NULL);
        CREATE INDEX audit_log_request ON audit_log (request_id);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'append-only'); END;
        INSERT INTO audit_log VALUES (1, '2025-12-01T10:00:00+00:00', 'ada', 'admin', 'merge', 3, 'ok', '', 'a', 'b');
        INSERT INTO audit_log VALUES (2, '2025-12-02T10:00:00+00:00', 'bob', 'approver', 'approve', 4, 'ok', 'fine', '', '');""")
    db.commit()
    db.close()
    log = SqliteAuditLog(path)
    again = SqliteAuditLog(path)  # a second process opening it changes nothing more
    kept = again.records()
    assert [(r.seq, r.actor, r.action) for r in kept] == [(1, "ada", "merge"), (2, "bob", "approve"), (3, "snowtower", "chain_started")]
    assert kept[0].occurred_at == datetime(2025, 12, 1, 10, tzinfo=timezone.utc) and log.verify().ok
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM audit_log_before_chain").fetchone() == (2,)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log_before_chain")


# -- evidence for auditors: export and verify --file -------------------------------------------------------

def run_cli(*argv) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "portal.cli", *argv], capture_output=True, text=True, cwd=ROOT)
    return proc.returncode, proc.stdout, proc.stderr


def test_export_and_verify_from_the_command_line(services, people, new_user_raw, tmp_path):
    cr = submit_approved(services, people, new_user_raw)
    MergeRequest(services, people["admin"], cr.id, head_sha=cr.head_sha).execute()
    services.audit.write("mallory", [], "sign_in_failed", "refused", "=HYPERLINK(\"http://x\")")
    services.audit.write("'quoted", [], "sign_in_failed", "refused", " -1+2\t@x\r")
    ws = str(services.workspace.root)
    code, out, _ = run_cli("audit", "verify", "--workspace", ws)
    assert code == 0 and "intact" in out and "1 anchor(s) checked" in out, out
    for fmt in ("csv", "json"):
        export = tmp_path / f"export.{fmt}"
        code, _, err = run_cli("audit", "export", "--format", fmt, "--output", str(export), "--workspace", ws)
        assert code == 0, err
        code, out, _ = run_cli("audit", "verify", "--file", str(export))
        assert code == 0 and f"intact: {len(services.audit.records())} record(s)" in out, out
    text = (tmp_path / "export.csv").read_bytes().decode()
    assert "'=HYPERLINK" in text and "''quoted" in text and "' -1+2" in text
    assert [r.reason for r in from_csv(text)][-2:] == ["=HYPERLINK(\"http://x\")", " -1+2\t@x\r"]
    # A day's export starts after record #1: its first link is taken as given, the rest checked.
    today = services.clock().date().isoformat()
    code, out, _ = run_cli("audit", "export", "--since", today, "--until", today, "--workspace", ws)
    assert code == 0 and json.loads(out)["since"] == today
    code, _, err = run_cli("audit", "export", "--since", "2026-13-01", "--workspace", ws)
    assert code == 2 and "not a date" in err


@pytest.mark.audit_tampered
def test_an_edited_export_and_a_rewritten_log_fail_verify(services, people, new_user_raw, tmp_path):
    cr = submit_approved(services, people, new_user_raw)
    MergeRequest(services, people["admin"], cr.id, head_sha=cr.head_sha).execute()
    ws = str(services.workspace.root)
    export = tmp_path / "export.json"
    assert run_cli("audit", "export", "--output", str(export), "--workspace", ws)[0] == 0
    data = json.loads(export.read_text())
    data["records"][3]["actor"] = "mallory"
    export.write_text(json.dumps(data))
    code, out, _ = run_cli("audit", "verify", "--file", str(export))
    assert code == 1 and "broken at record #4" in out, out
    # The whole log rewritten with a consistent chain (someone holding the file and the algorithm): only
    # the anchor in the config repository, noted at the merge, shows it.
    records = services.audit.records()
    prev, forged = GENESIS, []
    for r in records:
        f = AuditRecord(**{**r.__dict__, "actor": "mallory" if r.action == "approve" else r.actor}).chained(r.seq, prev)
        forged.append(f)
        prev = f.hash
    db = sqlite3.connect(services.workspace.db_path)
    for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_append_only"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DELETE FROM audit_log")
    db.executemany(INSERT.replace("{t}", "audit_log"), [row_of(f) for f in forged])
    db.commit()
    db.close()
    assert verify_chain(services.audit.records()).ok  # the chain alone cannot tell
    code, out, _ = run_cli("audit", "verify", "--workspace", ws)
    assert code == 1 and "the log was rewritten" in out, out
    code, _, err = run_cli("audit", "verify", "--file", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err


def test_a_json_export_with_text_the_log_never_held_fails_verify(services, tmp_path):
    """The JSON export's kind of the same fault: a key added to a record or to the file was dropped on
    reading, and the file with the added text called intact."""
    services.audit.write("mallory", [], "sign_in_failed", "refused", "wrong password")
    ws = str(services.workspace.root)
    export = tmp_path / "export.json"
    assert run_cli("audit", "export", "--output", str(export), "--workspace", ws)[0] == 0
    assert run_cli("audit", "verify", "--file", str(export))[0] == 0
    data = json.loads(export.read_text())
    for forged in ({**data, "records": [{**data["records"][0], "note": "pay the invoice to account 123"}]},
                   {**data, "note": "pay the invoice to account 123"}):
        export.write_text(json.dumps(forged))
        code, out, err = run_cli("audit", "verify", "--file", str(export))
        assert code != 0 and "not as exported" in (out + err), (out, err)


def test_csv_cells_a_spreadsheet_would_run_are_quoted_and_read_back_exactly():
    hostile = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", " x", "'x", "plain", ""]
    records = [AuditRecord(DAY, "ada", "admin", "merge", None, "ok", text).chained(i + 1, GENESIS if i == 0 else "")
               for i, text in enumerate(hostile)]
    text = to_csv(records)
    import csv
    import io
    cells = [row["reason"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    assert all(c.startswith("'") for c in cells[:8]) and cells[8:] == ["plain", ""]
    assert [r.reason for r in from_csv(text)] == hostile


def test_verify_exits_2_without_an_audit_log(tmp_path):
    code, _, err = run_cli("audit", "verify", "--workspace", str(tmp_path / "none"))
    assert code == 2 and "no SnowTower workspace" in err and not (tmp_path / "none").exists()
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("audit", "export", "--workspace", str(tmp_path / "empty"))
    assert code == 2 and "no audit log" in err and list((tmp_path / "empty").iterdir()) == []


def test_a_passing_snowflake_fault_spools_a_sign_in_but_a_missing_grant_stops_it(tmp_path):
    """Unreachable for a moment: the sign-in is kept for later. A grant missing: an administrator must act,
    so the sign-in stops and names the grant (nothing would ever flush a spool meanwhile)."""
    from snowflake.connector.errors import OperationalError, ProgrammingError

    from test_audit import Statements

    network = Statements({"SELECT seq": OperationalError(msg="Could not connect to Snowflake backend after 3 attempt(s)")})
    log = SnowflakeAuditLog(lambda: network, TABLE)
    log.spool_dir = tmp_path / "spool"
    assert log.write("ada", ["admin"], "sign_in") is None
    assert len(list((tmp_path / "spool").glob("*.json"))) == 1
    grant = Statements({"INSERT": ProgrammingError(msg="SQL access control error:\nInsufficient privileges to operate on "
                                                       "table 'SNOWTOWER_AUDIT_LOG'", errno=3001, sqlstate="42501")})
    log = SnowflakeAuditLog(lambda: grant, TABLE)
    log.spool_dir = tmp_path / "spool2"
    with pytest.raises(AuditError, match="GRANT INSERT ON TABLE"):
        log.write("ada", ["admin"], "sign_in")
    assert not (tmp_path / "spool2").exists()


def test_the_repair_leaves_a_running_process_s_intent_alone_until_it_is_stale(services, people):
    """An intent whose process still runs (here: process 1 of this machine) gets its outcome from that
    process; the repair writes one only when the process is gone or, for another machine's, after
    STALE_AFTER."""
    import socket

    from app.operations.shared.audited import STALE_AFTER, complete_open_intents

    now = services.clock()
    services.audit.write("admin", ["admin"], "unlock_login", INTENT, f"process 1 on {socket.gethostname()}",
                         operation_id="a" * 32, at=now)
    services.audit.write("admin", ["admin"], "unlock_login", INTENT, "process 4242 on another-host",
                         operation_id="b" * 32, at=now)
    assert complete_open_intents(services) == [] and len(services.audit.open_intents()) == 2
    services.clock = lambda: now + STALE_AFTER + timedelta(seconds=1)
    assert len(complete_open_intents(services)) == 2 and services.audit.open_intents() == []
    assert {r.outcome for r in services.audit.search(AuditQuery(action="unlock_login"))} == {"failed"}


def test_an_export_whose_spreadsheet_quote_was_removed_fails_verify(services, people, tmp_path):
    """The quote to_csv puts before a formula is what keeps a spreadsheet from running it: an export whose
    quote was taken away (the chain still matches the reason) is not what `audit export` wrote."""
    services.audit.write("mallory", [], "sign_in_failed", "refused", '=HYPERLINK("http://evil.example","x")')
    services.audit.write("eve", [], "sign_in_failed", "refused", "\n=1+1")
    ws = str(services.workspace.root)
    export = tmp_path / "export.csv"
    assert run_cli("audit", "export", "--format", "csv", "--output", str(export), "--workspace", ws)[0] == 0
    text = export.read_bytes().decode()
    assert "'=HYPERLINK" in text and "'\n=1+1" in text
    assert run_cli("audit", "verify", "--file", str(export))[0] == 0
    for quoted in ("'=HYPERLINK", "'\n=1+1"):
        export.write_bytes(text.replace(quoted, quoted[1:]).encode())
        code, out, err = run_cli("audit", "verify", "--file", str(export))
        assert code != 0 and "spreadsheet" in (out + err), (out, err)
    # Text the log never held, in a column or a cell of its own, is not "verified" either.
    header, rest = text.split("\r\n", 1)
    for forged in (header + ",note\r\n" + rest.replace("\r\n", ",pay the invoice to account 123\r\n", 1),
                   header + "\r\n" + rest.replace("\r\n", ",pay the invoice to account 123\r\n", 1)):
        export.write_bytes(forged.encode())
        code, out, err = run_cli("audit", "verify", "--file", str(export))
        assert code != 0 and "not as exported" in (out + err), (out, err)


def test_concurrent_snowflake_writers_are_serialised_and_keep_one_chain(tmp_path, caplog):
    """Four writers (threads, each its own SnowflakeAuditLog and session, as portal processes, the CLI and
    the jobs are) append at once on the stand-in with deploy/setup.sql's lock table: every append takes
    the lock row in its transaction, so no two link to the same head: seq 1..N with no fork, verify
    passes, and no writer fell back to the unserialised append."""
    from app.snowflake_tables import LOCK_TABLE, table_ddl

    store = Snowflake(tmp_path)
    lock = TABLE.rsplit(".", 1)[0] + "." + LOCK_TABLE if "." in TABLE else LOCK_TABLE
    store.admin.cursor().execute(table_ddl(lock, LOCK_TABLE))

    def writer(n):
        log = SnowflakeAuditLog(store.log.connect, TABLE)
        for i in range(6):
            log.write(f"w{n}", ["approver"], "approve", request_id=i)
        return log.lock_table

    with ThreadPoolExecutor(4) as pool:
        locks = list(pool.map(writer, range(4)))
    assert locks == [lock] * 4 and "not serialised" not in caplog.text
    records = store.log.records()
    assert [r.seq for r in records] == list(range(1, 25)) and store.log.verify().ok
    assert sorted((r.actor, r.request_id) for r in records) == sorted((f"w{n}", i) for n in range(4) for i in range(6))


def test_without_the_lock_table_appends_fall_back_to_detection_and_say_so(tmp_path, caplog):
    """A set-up from before the lock table: appends still work (conditional, forks detected by verify),
    and the log names the table to create."""
    store = Snowflake(tmp_path)
    assert store.log.append(rec(1)).seq == 1 and store.log.lock_table is None
    assert "not serialised" in caplog.text and "SNOWTOWER_LOCKS" in caplog.text and "deploy/setup.sql step 4" in caplog.text
    assert store.log.append(rec(2)).seq == 2 and store.log.verify().ok
