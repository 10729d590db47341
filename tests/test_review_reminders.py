"""Access-review reminders (app.review_reminders, `snowtower access-review remind`) on the demo workspace,
delivered to the Slack and SMTP receivers of tests/notify_support.py: who hears, what it says, once a day,
the overdue notice, hostile names as plain text, a channel down."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from app import campaigns, review_reminders
from core.plaintext import ZERO_WIDTH_SPACE
from tests.notify_support import SlackReceiver, SMTPReceiver, write_users
from tests.test_usage_evidence import EXPECTED

HOSTILE = "<!channel> Q1 *review* https://evil.example/x <https://evil.example|click>\r\nBcc: x@evil.example"
BASE = "https://snowtower.company.example"


@pytest.fixture
def slack(monkeypatch):
    receiver = SlackReceiver()
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", f"{receiver.url}/services/T000/B000/XXXX")
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp():
    receiver = SMTPReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def workspace(tmp_path, smtp):
    """A demo workspace whose users file has e-mail addresses (requester, approver, admin, and mallory: an
    approver whose address is refused), with e-mail and the portal's URL set, its account generated."""
    from app.services import build_services
    from app.settings import load_settings

    ws = tmp_path / "workspace"
    write_users(ws)
    (ws / "settings.toml").write_text(
        "[snowtower]\n"
        f'base_url = "{BASE}/"\nnotify_timeout = 2.0\n'
        f'notify_smtp_host = "127.0.0.1"\nnotify_smtp_port = {smtp.port}\nnotify_smtp_tls = "none"\n'
        'notify_smtp_from = "snowtower@company.example"\n')
    build_services(load_settings(ws)).sync_demo_account(generate=True, query_rows=500)
    return ws


def services_at(ws, moment: dt.datetime | None = None, **settings):
    from app.services import build_services
    from app.settings import load_settings

    services = build_services(load_settings(ws))
    if moment is not None:
        services.clock = lambda: moment
    if settings:
        services.settings = services.settings.model_copy(update=settings)
    return services


def slack_alone(ws):
    """The workspace's settings without e-mail."""
    settings = ws / "settings.toml"
    settings.write_text("".join(line for line in settings.read_text().splitlines(keepends=True)
                                if not line.startswith("notify_smtp")))


def start(services, people, name="Q1 review", days=14, scope="all"):
    return campaigns.start(services, people["admin"], scope, services.clock().date() + dt.timedelta(days=days), name)


def test_each_reviewer_hears_once_a_day_with_the_count_deadline_and_link(workspace, slack, smtp, people, capsys):
    from portal.cli import main

    services = services_at(workspace)
    c = start(services, people)
    assert main(["access-review", "remind", "--workspace", str(workspace), "--dry-run", "--format", "json"]) == 1
    would = json.loads(capsys.readouterr().out)["would_send"]
    assert slack.posts == [] and smtp.messages == []  # a dry run sends nothing and records nothing
    # Every approver (the items go to "any approver": no role has an owner) and no requester.
    assert sorted(r["reviewer"] for r in would) == ["admin", "approver", "mallory"]
    assert {r["items"] for r in would} == {len(EXPECTED)} and not any(r["overdue"] for r in would)

    assert main(["access-review", "remind", "--workspace", str(workspace), "--format", "json"]) == 1
    sent = json.loads(capsys.readouterr().out)["sent"]
    assert sorted(r["reviewer"] for r in sent) == ["admin", "approver", "mallory"]
    assert all(sorted(r["channels"]) == ["email", "slack"] for r in sent)
    texts = slack.texts()
    assert len(texts) == 3 and sorted(t.splitlines()[0] for t in texts) == [
        "For: Ada Admin", "For: Avery Approver", "For: Mal Lory"]
    today = services.clock().date()
    line = next(t for t in texts if t.startswith("For: Avery")).splitlines()
    assert line[1].startswith(f"{len(EXPECTED)} grants in access reviews wait for your decision")
    assert f"{len(EXPECTED)} undecided, deadline {(today + dt.timedelta(days=14)).isoformat()} (14 days left)" in line[2]
    assert line[-1] == f"Open access review #{c.id}: {BASE}/access-review?campaign={c.id}"
    # e-mail: one to each valid address, never to the address that would add a header
    assert sorted(to for rcpt, _ in smtp.messages for to in rcpt) == ["ada@company.example", "avery@company.example"]
    mail = smtp.messages[0][1]
    assert mail["Subject"] == f"[SnowTower] Access review: {len(EXPECTED)} grants waiting for your decision"
    assert f"{BASE}/access-review?campaign={c.id}" in mail.get_content()

    # the same day again: nothing new
    assert main(["access-review", "remind", "--workspace", str(workspace)]) == 0
    assert "0 sent, 0 would be sent, 3 sent before today" in capsys.readouterr().out
    assert len(slack.posts) == 3 and len(smtp.messages) == 2


def test_the_count_is_each_reviewers_own_the_next_day_and_nothing_once_all_is_decided(workspace, slack, people):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    owners = {"ANALYST": "approver"}
    services = services_at(workspace, now, role_owners=owners)
    c = start(services, people)
    items = campaigns.store_for(services).items(c.id)
    analyst = [i for i in items if i.role == "ANALYST"]
    assert analyst and len(analyst) < len(items)
    first = {r.recipient.username: r.items for r in review_reminders.reminders(services)}
    # ANALYST's owner alone reviews it; the others' items go to every approver
    assert first == {"approver": len(items), "admin": len(items) - len(analyst), "mallory": len(items) - len(analyst)}

    for item in analyst:
        campaigns.decide(services, people["approver"], item.id, campaigns.KEEP, "needed for the weekly report")
    campaigns.decide(services, people["admin"], items[0].id if items[0].role != "ANALYST" else items[-1].id,
                     campaigns.REVOKE, "left the team")
    tomorrow = services_at(workspace, now + dt.timedelta(days=1), role_owners=owners)
    run = review_reminders.run_reminders(tomorrow)
    assert {r.recipient.username: r.items for r, _ in run.sent} == {
        "approver": len(items) - len(analyst) - 1, "admin": len(items) - len(analyst) - 1,
        "mallory": len(items) - len(analyst) - 1}

    for item in campaigns.store_for(services).items(c.id):
        if item.decision is None:
            campaigns.decide(services, people["admin"], item.id, campaigns.KEEP, "reviewed")
    later = services_at(workspace, now + dt.timedelta(days=2), role_owners=owners)
    assert review_reminders.reminders(later) == [] and review_reminders.run_reminders(later).sent == []


def test_after_the_deadline_the_reminder_is_an_overdue_notice_and_a_closed_campaign_is_silent(workspace, slack, people):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    services = services_at(workspace, now)
    c = start(services, people, days=2, scope="role:ANALYST")
    late = services_at(workspace, now + dt.timedelta(days=5))
    run = review_reminders.run_reminders(late)
    assert len(run.sent) == 3 and all(r.overdue for r, _ in run.sent)
    text = slack.texts()[0].splitlines()
    deadline = (now.date() + dt.timedelta(days=2)).isoformat()
    assert text[2] == f"OVERDUE: access review #{c.id} Q1 review: 5 undecided, the deadline was {deadline} (3 days ago)"
    assert review_reminders.reminders(late)[0].subject() == "[SnowTower] Access review: 5 grants overdue"
    campaigns.close(late, people["admin"], c.id)
    assert review_reminders.reminders(services_at(workspace, now + dt.timedelta(days=6))) == []


def test_hostile_campaign_and_people_names_arrive_as_plain_text(tmp_path, slack, smtp, people):
    from app.services import build_services
    from app.settings import load_settings

    ws = tmp_path / "workspace"
    write_users(ws, {"admin": ("Ada", "Admin", "ada@company.example", ["requester", "approver", "admin"]),
                     "eve": ("<@U123>", "<!here> https://evil.example", "eve@company.example", ["requester", "approver"])})
    (ws / "settings.toml").write_text(
        f'[snowtower]\nbase_url = "{BASE}"\nnotify_smtp_host = "127.0.0.1"\nnotify_smtp_port = {smtp.port}\n'
        'notify_smtp_tls = "none"\nnotify_smtp_from = "snowtower@company.example"\n')
    services = build_services(load_settings(ws))
    services.sync_demo_account(generate=True, query_rows=500)
    c = start(services, people, name=HOSTILE, scope="role:ANALYST")
    assert review_reminders.run_reminders(services).sent
    eve = next(t for t in slack.texts() if "U123" in t)
    assert "<!" not in eve and "<@" not in eve and "<https://evil" not in eve
    assert "&lt;!channel&gt;" in eve and f"&lt;@{ZERO_WIDTH_SPACE}U123&gt;" in eve and "https://evil.example" not in eve
    assert f"<{BASE}" not in eve and f"{BASE}/access-review?campaign={c.id}" in eve  # the portal's link only
    mail = next(m for rcpt, m in smtp.messages if rcpt == ["eve@company.example"])
    assert "\n" not in mail["Subject"] and "Bcc" not in mail.keys()
    body = mail.get_content()
    assert "https://evil.example" not in body and f"{BASE}/access-review?campaign={c.id}" in body


def test_a_channel_down_leaves_the_reminder_for_the_next_run(workspace, slack, people, monkeypatch, capsys):
    from portal.cli import main

    slack_alone(workspace)
    services = services_at(workspace)
    start(services, people, scope="role:ANALYST")
    slack.status = 500
    assert main(["access-review", "remind", "--workspace", str(workspace)]) == 2
    assert "no channel took it" in capsys.readouterr().out
    slack.status = 200
    assert main(["access-review", "remind", "--workspace", str(workspace)]) == 1
    assert len([p for p in slack.posts]) == 6  # three refused, three taken
    assert main(["access-review", "remind", "--workspace", str(workspace)]) == 0


def test_without_a_channel_nothing_is_sent_and_it_says_so(workspace, monkeypatch, people, capsys):
    from portal.cli import main

    slack_alone(workspace)
    monkeypatch.delenv("SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", raising=False)
    start(services_at(workspace), people)
    assert main(["access-review", "remind", "--workspace", str(workspace)]) == 2
    assert "no notification channel" in capsys.readouterr().err


def test_a_missing_campaign_table_in_snowflake_is_a_message_not_a_traceback(workspace, slack, people, monkeypatch, capsys,
                                                                                tmp_path):
    """audit_log = "snowflake" with deploy/setup.sql step 4 not (fully) run: the campaign store raises TableError,
    a QueryError and no ValueError; the command once ended in a traceback."""
    from app.snowflake_tables import LOCK_TABLE
    from portal.cli import main
    from tests.test_findings_state_snowflake import DB, SCHEMA, StandIn

    bare = StandIn(tmp_path / "bare", tables=(LOCK_TABLE,))
    q = f"{DB}.{SCHEMA}."
    store = campaigns.SnowflakeCampaignStore(bare.connect, q + "SNOWTOWER_CAMPAIGNS", q + "SNOWTOWER_CAMPAIGN_ITEMS",
                                             q + LOCK_TABLE)
    monkeypatch.setattr(campaigns, "store_for", lambda services: store)
    for extra in ([], ["--dry-run"]):
        assert main(["access-review", "remind", "--workspace", str(workspace), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("snowtower access-review remind: ") and "SNOWTOWER_CAMPAIGNS" in err, err
        assert "Traceback" not in err
    assert slack.texts() == []
