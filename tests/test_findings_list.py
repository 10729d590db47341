"""The one findings list (core.findings.board, signin), its states (app.findings_state, AcceptFinding) and
`snowtower alerts` (app.alerts) on the demo account, delivered to the Slack receiver of tests/notify_support.py."""
from __future__ import annotations

import datetime as dt
import json
import threading

import pandas as pd
import pytest

from app.alerts import AlertEvent, register, run_alerts, PROVIDERS
from app.findings_list import findings_list
from app.findings_state import FindingStates
from app.operations.accept_finding import AcceptFinding
from core.changes.base import ChangeError
from core.findings import Finding
from core.findings.signin import signin_findings
from tests.notify_support import SlackReceiver, write_users

UTC = dt.timezone.utc


def attempts(rows):
    cols = ["DAY", "USER_NAME", "CLIENT_IP", "FAILURES", "FIRST_FAILURE", "LAST_FAILURE", "KNOWN_USER", "FIRST_SUCCESS_AFTER"]
    return pd.DataFrame(rows, columns=cols)


def ts(text):
    return pd.Timestamp(text, tz="UTC")


def test_sign_in_attacks_spray_unknown_names_and_success_after_a_burst():
    day = "2025-03-04"
    rows = [(day, f"USER{i}", f"198.51.100.{i % 3}", 4, ts(f"{day} 01:00"), ts(f"{day} 01:30"), True, pd.NaT) for i in range(9)]
    rows += [(day, "NOBODY", "198.51.100.1", 6, ts(f"{day} 01:00"), ts(f"{day} 01:10"), False, pd.NaT)]
    rows += [("2025-03-05", "JANE", "192.0.2.7", 7, ts("2025-03-05 08:00"), ts("2025-03-05 08:05"), True,
              ts("2025-03-05 08:20"))]
    rows += [("2025-03-06", "BOB", "192.0.2.8", 3, ts("2025-03-06 08:00"), ts("2025-03-06 08:05"), True, ts("2025-03-06 09:00"))]
    found = {f.key: f for f in signin_findings(attempts(rows), admins={"JANE"})}
    spray = found[f"SIGNIN_PASSWORD_SPRAY:{day}"]
    assert spray.severity == "high" and "42 failed sign-ins" in spray.message and "3 address(es)" in spray.message
    assert "NOBODY not a user" in spray.evidence[1]
    assert found[f"SIGNIN_UNKNOWN_USER:{day}"].severity == "medium"
    assert found["SIGNIN_SUCCESS_AFTER_FAILURES:JANE"].severity == "critical"  # an admin signed in after 7 failures
    assert "SIGNIN_SUCCESS_AFTER_FAILURES:BOB" not in found  # 3 failures are no burst
    # many addresses (a botnet or the office's users mistyping): not "few addresses"
    wide = [(day, f"U{i}", f"203.0.113.{i}", 5, ts(f"{day} 01:00"), ts(f"{day} 01:30"), True, pd.NaT) for i in range(30)]
    assert not [f for f in signin_findings(attempts(wide), set()) if f.code == "SIGNIN_PASSWORD_SPRAY"]
    assert signin_findings(attempts([]), set()) == []


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """A demo workspace with its generated account, shared by the tests below (generation takes a while);
    each test copies the records it changes."""
    from app.services import build_services
    from app.settings import load_settings

    ws = tmp_path_factory.mktemp("findings") / "workspace"
    write_users(ws)
    services = build_services(load_settings(ws))
    services.sync_demo_account(generate=True, query_rows=3000)
    return ws


def services_for(ws, clock=None, **env):
    from app.services import build_services
    from app.settings import load_settings

    services = build_services(load_settings(ws))
    if clock is not None:
        services.clock = clock
    return services


@pytest.fixture
def fresh(account):
    """The shared workspace with empty findings records."""
    db = account / "snowtower.db"
    import sqlite3

    with sqlite3.connect(db) as con:
        for table in ("finding_state", "alert_sent"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return account


def test_the_planted_admin_and_spray_lead_the_list_as_critical(fresh):
    services = services_for(fresh)
    found = findings_list(services, services.snowflake_source())
    first = found.findings[:2]
    assert {(f.code, f.object, f.severity) for f in first} == {
        ("ADMIN_WITHOUT_MFA", "ADMIN", "critical"), ("SIGNIN_PASSWORD_SPRAY", str(found.latest - dt.timedelta(days=5)), "critical")}
    admin = next(f for f in first if f.code == "ADMIN_WITHOUT_MFA")
    assert "without an e-mail address" in admin.message and any("health score 30" in e for e in admin.evidence)
    spray = next(f for f in first if f.code == "SIGNIN_PASSWORD_SPRAY")
    assert "55 failed sign-ins" in spray.message and any("admin-role holders targeted: ADMIN" in e for e in spray.evidence)
    # the key-pair failures after the dbt key rotation are configuration, not an attack
    assert not [f for f in found.findings if f.object == "SVC_DBT" and f.source == "sign-in"]
    # the stale users keep their Fix (offboard-user) and every finding has a state
    stale = [f for f in found.findings if f.code == "STALE_USER"]
    assert stale and all(f.fix and f.fix.recipe == "offboard-user" for f in stale)
    assert {found.state(f).state for f in found.findings} == {"open"}
    record = next(r for r in found.records() if r["code"] == "ADMIN_WITHOUT_MFA")
    assert record["severity"] == "critical" and record["state"] == "open" and record["first_seen"] and record["last_seen"]


def test_first_and_last_seen_resolved_and_back(tmp_path):
    states = FindingStates(tmp_path / "s.db")
    a, b = Finding("X", "high", "user", "A", "a"), Finding("Y", "low", "user", "B", "b")
    t0 = dt.datetime(2025, 1, 1, tzinfo=UTC)
    states.observe([a, b], t0)
    seen = states.observe([a], t0 + dt.timedelta(hours=1))
    assert seen[a.key].first_seen == t0 and seen[a.key].last_seen == t0 + dt.timedelta(hours=1)
    assert [k for k, *_ in states.resolved()] == [b.key]  # its evidence is gone
    back = states.observe([a, b], t0 + dt.timedelta(hours=2))
    assert back[b.key].first_seen == t0 + dt.timedelta(hours=2) and states.resolved() == []


def test_accepting_a_finding_is_for_admins_with_a_reason_and_a_bounded_expiry(fresh, people):
    services = services_for(fresh)
    found = findings_list(services, services.snowflake_source())
    key = "ADMIN_WITHOUT_MFA:ADMIN"
    today = services.clock().date()
    refusals = [(people["approver"], "break-glass account", today + dt.timedelta(days=30), "only admins"),
                (people["admin"], "   ", today + dt.timedelta(days=30), "reason is required"),
                (people["admin"], "break-glass", today + dt.timedelta(days=91), "at most 90 days"),
                (people["admin"], "break-glass", today, "after today"),
                (people["admin"], "x" * 501, today + dt.timedelta(days=5), "longer than 500")]
    for actor, reason, until, message in refusals:
        with pytest.raises(ChangeError, match=message):
            AcceptFinding(services, actor, key, reason, until).execute()
    with pytest.raises(ChangeError, match="no finding"):
        AcceptFinding(services, people["admin"], "NOPE:NOPE", "reason", today + dt.timedelta(days=5)).execute()
    AcceptFinding(services, people["admin"], key, "break-glass account, kept in a safe", today + dt.timedelta(days=30)).execute()
    again = findings_list(services, services.snowflake_source())
    state = again.states[key]
    assert (state.state, state.accepted_by, state.accepted_until) == ("accepted", "admin", today + dt.timedelta(days=30))
    assert key not in {f.key for f in again.open()}
    records = [r for r in services.audit.search() if r.action == "accept_finding"]
    assert [r.outcome for r in records].count("refused") == 6 and [r.outcome for r in records].count("ok") == 1
    assert any("break-glass account, kept in a safe" in r.reason for r in records if r.outcome == "ok")
    # after the expiry it is open again
    services.clock = lambda: dt.datetime.combine(today + dt.timedelta(days=31), dt.time(9), UTC)
    assert findings_list(services, services.snowflake_source()).states[key].state == "open"
    del found


@pytest.fixture
def slack(monkeypatch):
    receiver = SlackReceiver()
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", f"{receiver.url}/services/T000/B000/XXXX")
    yield receiver
    receiver.stop()


def test_alerts_send_each_new_critical_or_high_finding_once(fresh, slack, capsys):
    from portal.cli import main

    assert main(["alerts", "--workspace", str(fresh), "--dry-run", "--format", "json"]) == 1
    would = json.loads(capsys.readouterr().out)["would_send"]
    assert slack.posts == [] and would
    assert main(["alerts", "--workspace", str(fresh), "--format", "json"]) == 1
    sent = json.loads(capsys.readouterr().out)["sent"]
    assert sorted(e["key"] for e in sent) == sorted(e["key"] for e in would)
    assert {e["severity"] for e in sent} <= {"critical", "high"}
    # The spend provider (app.cost_alerts) rides the same ledger: the planted anomalous day, once.
    assert len([e for e in sent if e["key"].startswith("cost.anomaly.")]) == 1
    texts = slack.texts()
    assert len(texts) == len(sent)
    assert sum("ADMIN_WITHOUT_MFA on ADMIN" in t for t in texts) == 1
    assert sum("SIGNIN_PASSWORD_SPRAY" in t for t in texts) == 1
    assert not [t for t in texts if "WAREHOUSE_NO_MONITOR" in t]  # medium: not an alert
    assert all(t.startswith("For: ") for t in texts)  # the admins of the users file
    # nothing new on a second run
    assert main(["alerts", "--workspace", str(fresh)]) == 0
    assert "0 sent" in capsys.readouterr().out and len(slack.posts) == len(sent)


def test_two_runs_at_once_send_each_event_once_and_other_providers_plug_in(fresh, slack):
    events = [AlertEvent(f"test:spend:{i}", "test-spend", "high", f"Spend event {i}", ("over the budget",), "cost")
              for i in range(3)]
    register("test-spend", lambda services, source: events)
    try:
        barrier, results = threading.Barrier(2), []

        def one():
            services = services_for(fresh)
            source = services.snowflake_source()
            barrier.wait()
            results.append(run_alerts(services, source))
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        PROVIDERS.pop("test-spend")
    keys = [e.key for run in results for e, _ in run.sent]
    assert len(keys) == len(set(keys)) and {e.key for e in events} <= set(keys)
    assert sum("Spend event 1" in t for t in slack.texts()) == 1


def test_an_alert_run_killed_after_claiming_leaves_the_event_to_a_later_run(fresh, slack):
    """A run killed between claiming an event and sending it (the job's timeout, the machine restarted) left
    the claim for ever: every later run counted the event as sent, and the admins never heard of it."""
    from app.alerts import CLAIM_LEASE

    event = AlertEvent("test:spend:killed", "test-spend", "high", "Spend event killed", ("over the budget",), "cost")
    register("test-spend", lambda services, source: [event])
    try:
        start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
        services = services_for(fresh, clock=lambda: start)
        assert FindingStates(services.workspace.db_path).claim(event.key, event.source, start)  # then killed
        soon = services_for(fresh, clock=lambda: start + CLAIM_LEASE / 2)
        run = run_alerts(soon, soon.snowflake_source())
        assert event.key in run.already and not any("Spend event killed" in t for t in slack.texts())
        later = services_for(fresh, clock=lambda: start + CLAIM_LEASE + dt.timedelta(minutes=1))
        run = run_alerts(later, later.snowflake_source())
        assert [e.key for e, _ in run.sent if e.key == event.key] == [event.key]
        assert sum("Spend event killed" in t for t in slack.texts()) == 1
        again = run_alerts(later, later.snowflake_source())  # sent now: never again
        assert event.key in again.already and sum("Spend event killed" in t for t in slack.texts()) == 1
    finally:
        PROVIDERS.pop("test-spend")


def test_alerts_without_a_channel_send_nothing_and_say_so(fresh, monkeypatch, capsys):
    from portal.cli import main

    monkeypatch.delenv("SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", raising=False)
    assert main(["alerts", "--workspace", str(fresh)]) == 2
    assert "no notification channel" in capsys.readouterr().err


def test_cli_security_json_carries_the_same_list_with_state_and_first_last_seen(fresh, capsys):
    from portal.cli import main

    assert main(["security", "--workspace", str(fresh), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    rows = doc["findings_list"]
    assert [r["code"] for r in rows[:2]] and {r["code"] for r in rows[:2]} == {"ADMIN_WITHOUT_MFA", "SIGNIN_PASSWORD_SPRAY"}
    assert all(r["severity"] == "critical" and r["state"] == "open" for r in rows[:2])
    assert all(r["first_seen"] and r["last_seen"] and r["key"] == f"{r['code']}:{r['object']}" for r in rows)
    services = services_for(fresh)
    assert [f.key for f in findings_list(services, services.snowflake_source()).findings] == [r["key"] for r in rows]
    stale = next(r for r in rows if r["code"] == "STALE_USER")
    assert stale["fix"]["recipe"] == "offboard-user" and stale["source"] == "account"
