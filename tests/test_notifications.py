"""Notifications end to end: real operations on a demo workspace, delivered by the Slack and email plugins to
receivers the tests start on 127.0.0.1 (tests/notify_support.py). What arrives, for whom, escaped how, and
what happens when a receiver is down, answers 500 or hangs: the request goes through, the failure is logged."""
from __future__ import annotations

import logging
import threading

import pytest

from app.notifications import Notifier, hookimpl
from app.notifications.message import Message, Recipient
from app.notifications.smtp import EmailPlugin
from app.operations import (ApproveRequest, MergeRequest, PreviewRequest, RejectRequest, RequestChanges, ResubmitRequest,
                            SubmitRequest)
from core.changes.model import Status
from core.plaintext import ZERO_WIDTH_SPACE
from recipes import RECIPES
from tests.notify_support import SlackReceiver, SMTPReceiver, write_users

RECIPE = RECIPES["new-user"]
HOSTILE = "<!channel> @here see https://evil.example/x <https://evil.example|click> & *bold* `code`\r\nBcc: x@evil.example"


@pytest.fixture
def slack():
    receiver = SlackReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp():
    receiver = SMTPReceiver()
    yield receiver
    receiver.stop()


def make_services(tmp_path, monkeypatch, slack=None, smtp=None, **settings):
    from app.services import build_services
    from app.settings import load_settings

    ws = tmp_path / "workspace"
    write_users(ws)
    values = {"base_url": "https://snowtower.company.example/", "notify_timeout": 2.0}
    if smtp is not None:
        values |= {"notify_smtp_host": "127.0.0.1", "notify_smtp_port": smtp.port, "notify_smtp_tls": "none",
                   "notify_smtp_from": "snowtower@company.example"}
    values |= settings
    lines = ["[snowtower]"] + [f"{k} = {v!r}".replace("'", '"') for k, v in values.items()]
    (ws / "settings.toml").write_text("\n".join(lines) + "\n")
    if slack is not None and "notify_slack_channel" not in settings:
        monkeypatch.setenv("SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", f"{slack.url}/services/T000/B000/XXXX")
    return build_services(load_settings(ws))


def submit(services, actor, raw):
    preview = PreviewRequest(services, RECIPE, raw).execute()
    return SubmitRequest(services, actor, RECIPE, raw, preview.base_sha).execute()


def by_event(texts: list[str]) -> dict[str, str]:
    """Slack texts keyed by their second line's verb (the first line names the recipients)."""
    out = {}
    for text in texts:
        headline = text.splitlines()[1]
        for verb in ("asked for changes on", "asked for", "approved (it now waits", "approved", "rejected", "merged",
                     "deployed", "withdrew", "edited and resubmitted"):
            if f") {verb}" in headline:
                out[verb] = text
                break
    return out


def test_each_step_tells_the_right_people_by_slack_and_email(tmp_path, monkeypatch, people, new_user_raw, slack, smtp):
    services = make_services(tmp_path, monkeypatch, slack, smtp)
    cr = submit(services, people["requester"], new_user_raw())
    ApproveRequest(services, people["approver"], cr.id, "looks right").execute()
    cr = MergeRequest(services, people["admin"], cr.id).execute()
    assert cr.status == Status.DEPLOYED
    assert services.notifications.flush(20)

    texts = by_event(slack.texts())
    assert set(texts) == {"asked for", "approved", "approved (it now waits", "merged", "deployed"}
    # Approvers hear about the new request (never its requester); the link goes to the review queue.
    created = texts["asked for"].splitlines()
    assert created[0] == "For: Ada Admin, Avery Approver, Mal Lory"
    assert created[1] == f"Riley Requester (requester) asked for #{cr.id}: New person user JANE_DOE"
    assert f"Open it in SnowTower: https://snowtower.company.example/review?request={cr.id}" in created
    # The requester hears the decision, with the comment, and the merge and the deployment.
    approved = texts["approved"].splitlines()
    assert approved[0] == "For: Riley Requester" and "Avery Approver (approver) approved" in approved[1]
    assert "looks right" in approved and f"https://snowtower.company.example/my-requests?request={cr.id}" in approved[-1]
    assert texts["merged"].splitlines()[0] == texts["deployed"].splitlines()[0] == "For: Riley Requester"
    # Admins hear that it waits to be merged.
    assert texts["approved (it now waits"].splitlines()[0] == "For: Ada Admin"
    # Slack: plain text, nothing linked or mentioned by Slack itself.
    assert all(p["json"]["mrkdwn"] is False and p["json"]["link_names"] is False and p["json"]["parse"] == "none"
               for p in slack.posts)

    # Email: one message per recipient with a valid address (mallory's address holds a line break: never used).
    sent = sorted((rcpt[0], mail["Subject"]) for rcpt, mail in smtp.messages)
    assert sent == sorted([
        ("ada@company.example", f"[SnowTower] #{cr.id} waits for review: New person user JANE_DOE"),
        ("avery@company.example", f"[SnowTower] #{cr.id} waits for review: New person user JANE_DOE"),
        ("riley@company.example", f"[SnowTower] #{cr.id} approved: New person user JANE_DOE"),
        ("ada@company.example", f"[SnowTower] #{cr.id} approved: New person user JANE_DOE"),
        ("riley@company.example", f"[SnowTower] #{cr.id} merged: New person user JANE_DOE"),
        ("riley@company.example", f"[SnowTower] #{cr.id} deployed: New person user JANE_DOE"),
    ])
    for rcpt, mail in smtp.messages:
        assert mail.get_content_type() == "text/plain" and mail["To"] == rcpt[0]
        assert mail["From"] == "SnowTower <snowtower@company.example>" and mail["Bcc"] is None


def test_hostile_text_stays_text_in_slack_and_out_of_email_headers(tmp_path, monkeypatch, people, new_user_raw, slack, smtp):
    services = make_services(tmp_path, monkeypatch, slack, smtp)
    cr = submit(services, people["requester"], new_user_raw())
    RequestChanges(services, people["approver"], cr.id, HOSTILE).execute()
    assert services.notifications.flush(20)
    text = by_event(slack.texts())["asked for changes on"]
    # Slack's control characters escaped: no <!channel>, <@U..> or <url|label> can be formed.
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&amp; *bold*" in text
    # Nothing Slack links by itself: the typed URL, domain and @mention are broken by a zero-width space.
    assert f"https{ZERO_WIDTH_SPACE}://evil.{ZERO_WIDTH_SPACE}example/x" in text and f"@{ZERO_WIDTH_SPACE}here" in text
    assert "https://evil" not in text and "@here" not in text
    # Email: the comment is in the plain-text body as typed, never in a header.
    [(rcpt, mail)] = [(r, m) for r, m in smtp.messages if "changes" in m["Subject"]]
    assert rcpt == ["riley@company.example"] and mail["Bcc"] is None
    assert "x@evil.example" not in str(mail["Subject"])
    assert f"<!channel> @{ZERO_WIDTH_SPACE}here see https{ZERO_WIDTH_SPACE}://evil.{ZERO_WIDTH_SPACE}example/x" in mail.get_content()


def test_subject_from_hostile_title_is_one_header():
    message = Message("request_created", "asked for", 7, "New user", "JANE\r\nBcc: all@company.example\nX-Evil: 1" + "x" * 500,
                      "open", "riley", "riley")
    plugin = EmailPlugin(host="127.0.0.1", sender="snowtower@company.example", tls="none")
    mail = plugin.compose(message, Recipient("avery", "Avery Approver", "avery@company.example"))
    raw = mail.as_string()
    assert mail["Bcc"] is None and mail["X-Evil"] is None and "\nBcc:" not in raw and "\nX-Evil:" not in raw
    assert len(str(mail["Subject"])) <= 200 and str(mail["Subject"]).startswith("[SnowTower] #7 waits for review: JANE Bcc:")


@pytest.mark.parametrize("fault", ["500", "down", "timeout", "plugin raises"])
def test_a_failing_receiver_never_stops_the_request_and_is_logged(tmp_path, monkeypatch, people, new_user_raw, slack,
                                                                  caplog, fault):
    services = make_services(tmp_path, monkeypatch, slack, notify_timeout=0.5)
    if fault == "500":
        slack.status = 500
    elif fault == "down":
        slack.stop()
    elif fault == "timeout":
        slack.hold = threading.Event()
    else:
        class Broken:
            @hookimpl
            def request_created(self, message, recipients):
                raise RuntimeError("the plugin broke")
        services.notifications.pm.register(Broken(), name="broken")
    caplog.set_level(logging.INFO, logger="snowtower.notifications")
    cr = submit(services, people["requester"], new_user_raw())
    # The request went through whole: branch, record, audit record ok.
    assert services.changes.get(cr.id).status == Status.OPEN
    assert [r.outcome for r in services.audit.search() if r.action == "submit"] == ["ok"]
    assert services.notifications.flush(20)
    failures = [r.getMessage() for r in caplog.records if r.name == "snowtower.notifications"
                and r.levelno == logging.WARNING and r.getMessage().startswith("notification ")]
    expected = {"500": "the webhook answered 500", "down": "ConnectionError", "timeout": "Timeout",
                "plugin raises": "via broken failed: RuntimeError: the plugin broke"}[fault]
    assert len(failures) == 1 and f"request_created about #{cr.id}" in failures[0] and expected in failures[0], failures
    assert "XXXX" not in failures[0]  # the webhook URL (a secret) is never logged


def test_a_hung_receiver_does_not_hold_up_the_request(tmp_path, monkeypatch, people, new_user_raw, slack):
    services = make_services(tmp_path, monkeypatch, slack, notify_timeout=5.0)
    slack.hold = threading.Event()  # the receiver takes the message and does not answer until released
    cr = submit(services, people["requester"], new_user_raw())
    assert slack.wait_for(1)  # delivery started and is stuck ...
    assert not slack.hold.is_set() and services.changes.get(cr.id).status == Status.OPEN  # ... the request is done
    slack.hold.set()
    assert services.notifications.flush(20)


def test_slack_bot_token_posts_to_the_channel(tmp_path, monkeypatch, people, new_user_raw, slack, caplog):
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SLACK_BOT_TOKEN", "xoxb-test-token")
    services = make_services(tmp_path, monkeypatch, slack, notify_slack_channel="#snowflake-access",
                             notify_slack_api_url=f"{slack.url}/api")
    cr = submit(services, people["requester"], new_user_raw())
    assert services.notifications.flush(20)
    [post] = slack.posts
    assert post["path"] == "/api/chat.postMessage" and post["headers"]["Authorization"] == "Bearer xoxb-test-token"
    assert post["json"]["channel"] == "#snowflake-access" and f"asked for #{cr.id}" in post["json"]["text"]
    slack.api_error = "channel_not_found"  # Slack answers 200 with ok=false: a failure all the same
    caplog.set_level(logging.WARNING, logger="snowtower.notifications")
    RejectRequest(services, people["approver"], cr.id, "not needed").execute()
    assert services.notifications.flush(20)
    assert any("channel_not_found" in r.getMessage() for r in caplog.records)
    assert "xoxb-test-token" not in caplog.text


def test_resubmission_tells_the_approvers_again(tmp_path, monkeypatch, people, new_user_raw, slack):
    services = make_services(tmp_path, monkeypatch, slack)
    cr = submit(services, people["requester"], new_user_raw())
    RequestChanges(services, people["approver"], cr.id, "the finance role instead").execute()
    ResubmitRequest(services, people["requester"], cr.id, new_user_raw(business_roles=["FINANCE_ANALYST"])).execute()
    assert services.notifications.flush(20)
    text = by_event(slack.texts())["edited and resubmitted"]
    assert text.splitlines()[0] == "For: Ada Admin, Avery Approver, Mal Lory"


def test_recipients_come_from_the_users_file_and_never_include_whoever_acted(tmp_path):
    people = [(Recipient("riley", "Riley", "r@x.example"), ("requester",)),
              (Recipient("avery", "Avery", "a@x.example"), ("requester", "approver")),
              (Recipient("ada", "Ada", "ada@x.example"), ("requester", "approver", "admin")),
              (Recipient("bo", "Bo", ""), ("requester",))]
    notifier = Notifier(lambda: people)
    from core.changes.model import Actor

    names = lambda rs: [r.username for r in rs]  # noqa: E731
    avery, riley = Actor("avery"), Actor("riley")
    assert names(notifier.recipients("request_created", {"riley"}, riley)) == ["ada", "avery"]
    assert names(notifier.recipients("request_created", {"avery"}, avery)) == ["ada"]  # an approver's own request
    assert names(notifier.recipients("request_decided", {"riley"}, avery)) == ["riley"]
    assert names(notifier.recipients("request_awaiting_merge", {"riley"}, avery)) == ["ada"]
    assert names(notifier.recipients("request_awaiting_merge", {"riley"}, Actor("ada"))) == []  # the admin who approved
    assert names(notifier.recipients("request_merged", {"riley"}, Actor("ada"))) == ["riley"]
    assert names(notifier.recipients("request_withdrawn", {"riley"}, riley)) == ["ada", "avery"]
    # A GitHub login mapped to the requester's portal user is the requester too.
    assert names(notifier.recipients("request_decided", {"riley-gh", "riley"}, avery)) == ["riley"]


def test_email_over_starttls_with_login(tmp_path, people):
    import ssl

    from tests.tls_support import self_signed

    cert, key = self_signed(tmp_path, "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    receiver = SMTPReceiver(tls_context=server_ctx, logins={"snowtower": "s3cret-pass"})
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        plugin = EmailPlugin(host="127.0.0.1", port=receiver.port, sender="snowtower@company.example", tls="starttls",
                             user="snowtower", password="s3cret-pass", ssl_context=client_ctx)
        message = Message("request_merged", "merged", 3, "New user", "New person user JANE_DOE", "deployed", "riley", "ada", "Ada Admin")
        plugin.send(message, [Recipient("riley", "Riley", "riley@company.example"), Recipient("bo", "Bo", "")])
        [(rcpt, mail)] = receiver.messages
        assert rcpt == ["riley@company.example"] and "Ada Admin (ada) merged #3: New person user JANE_DOE" in mail.get_content()
        wrong = EmailPlugin(host="127.0.0.1", port=receiver.port, sender="snowtower@company.example", tls="starttls",
                            user="snowtower", password="wrong-password", ssl_context=client_ctx)
        import smtplib

        with pytest.raises(smtplib.SMTPAuthenticationError):
            wrong.send(message, [Recipient("riley", "Riley", "riley@company.example")])
        assert len(receiver.messages) == 1
    finally:
        receiver.stop()


def test_an_smtp_tls_mode_that_does_not_exist_is_a_settings_error_naming_it(tmp_path, monkeypatch):
    from app.settings import SettingsError

    with pytest.raises(SettingsError, match="notify_smtp_tls: wrong type: Input should be 'starttls', 'ssl' or 'none'"):
        make_services(tmp_path, monkeypatch, notify_smtp_host="127.0.0.1", notify_smtp_tls="maybe",
                      notify_smtp_from="snowtower@company.example")


@pytest.mark.parametrize("settings, problem", [
    ({"notify_smtp_from": "not an address"}, "notify_smtp_from must be one email address"),
    ({"notify_smtp_user": "someone"}, "needs both notify_smtp_user and the SMTP password"),
])
def test_a_wrong_channel_setting_is_logged_and_the_portal_still_starts(tmp_path, monkeypatch, caplog, settings, problem):
    values = {"notify_smtp_host": "127.0.0.1", "notify_smtp_from": "snowtower@company.example"} | settings
    caplog.set_level(logging.ERROR, logger="snowtower.notifications")
    services = make_services(tmp_path, monkeypatch, **values)
    assert services.notifications.pm.get_plugins() == set()
    assert problem in caplog.text


@pytest.mark.parametrize("typed", ["<!here|here>", "<@U024BE7LH>", "<https://evil.example|Approve now>", "a & b > c",
                                   "mail me: boss@evil.example", "www.evil.example", "ftp://x.example", "&lt;!channel&gt;"])
def test_slack_escape_leaves_no_control_character_link_or_mention(typed):
    import re

    from core.plaintext import slack_escape

    out = slack_escape(typed)
    assert "<" not in out and ">" not in out
    assert re.sub(r"&(amp|lt|gt);", "", out).count("&") == 0  # every & starts one of Slack's three escapes
    assert not re.search(r"[A-Za-z0-9]://|[A-Za-z0-9]\.[A-Za-z0-9]|@[A-Za-z0-9]", out)  # nothing Slack links itself
    assert out.replace(ZERO_WIDTH_SPACE, "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == typed


def test_a_third_party_plugin_that_fails_to_load_or_register_leaves_the_portal_and_the_other_channels_working(
        tmp_path, monkeypatch, people, new_user_raw, slack, caplog):
    # Found by attacking the plugin hook: a third-party plugin (entry point group "snowtower.notifications")
    # whose module is missing, or whose hook has the wrong arguments, made building the services raise: the
    # portal and every operation stopped with a traceback, Slack and email with them.
    from importlib.metadata import EntryPoint

    import app.notifications.dispatch as dispatch

    class WrongArguments:
        @hookimpl
        def request_created(self, msg):  # not the hook's arguments: pluggy refuses it at registration
            pass
    monkeypatch.setattr(dispatch, "WRONG_ARGUMENTS", WrongArguments(), raising=False)
    points = [EntryPoint("missing", "snowtower_no_such_plugin_module:plugin", "snowtower.notifications"),
              EntryPoint("wrong", "app.notifications.dispatch:WRONG_ARGUMENTS", "snowtower.notifications")]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group=None, **kw: [p for p in points if p.group == group])
    dispatch.third_party_plugins.cache_clear()
    caplog.set_level(logging.WARNING, logger="snowtower.notifications")
    try:
        services = make_services(tmp_path, monkeypatch, slack)
        cr = submit(services, people["requester"], new_user_raw())
        assert services.changes.get(cr.id).status == Status.OPEN
        assert services.notifications.flush(20)
        assert [t.splitlines()[1] for t in slack.texts()] == [f"Riley Requester (requester) asked for #{cr.id}: New person user JANE_DOE"]
        logged = caplog.text
        assert "notification plugin missing could not be loaded" in logged and "ModuleNotFoundError" in logged
        assert "notification plugin wrong could not be registered" in logged
    finally:
        dispatch.third_party_plugins.cache_clear()


def test_a_hung_plugin_never_holds_up_the_other_channels(tmp_path, monkeypatch, people, new_user_raw, slack):
    # Found by attacking the plugin hook: a plugin that never returns (no timeout of its own) took every
    # delivery thread, and Slack and email waited behind it for good.
    services = make_services(tmp_path, monkeypatch, slack)
    release = threading.Event()

    class Hung:
        @hookimpl
        def request_created(self, message, recipients):
            release.wait(30)
    services.notifications.pm.register(Hung(), name="hung")
    try:
        crs = [submit(services, people["requester"], new_user_raw(name=f"JANE_DOE{i}")) for i in range(6)]
        assert slack.wait_for(len(crs), timeout=15), f"{len(slack.posts)} of {len(crs)} Slack messages arrived"
    finally:
        release.set()
    assert services.notifications.flush(20)


def test_a_link_typed_by_a_requester_reaches_approvers_by_email_as_text_never_as_a_link(tmp_path, monkeypatch, people,
                                                                                       new_user_raw, smtp):
    # Found by phishing through the portal: a withdrawal's reason, typed by the requester, went to every
    # approver by email as typed; mail clients link https://..., www.... and name.tld by themselves, so the
    # portal's own sender delivered a clickable link. Now it is broken as in Slack; the portal's link is not.
    import re

    from app.operations import WithdrawRequest

    services = make_services(tmp_path, monkeypatch, smtp=smtp)
    cr = submit(services, people["requester"], new_user_raw())
    WithdrawRequest(services, people["requester"], cr.id,
                    "Re-login at https://snowtower-login.evil.example/sso or www.evil.example, mail it@evil.example").execute()
    assert services.notifications.flush(20)
    bodies = [m.get_content() for _, m in smtp.messages if "withdrew" in m["Subject"]]
    assert len(bodies) == 2  # the approver and the admin
    for body in bodies:
        assert "Re-login at https" in body and "snowtower-login" in body  # still readable, as typed
        typed = body.split("Comment:")[1].split("Open it in SnowTower:")[0]
        assert not re.search(r"[A-Za-z0-9]://|[A-Za-z0-9]\.[A-Za-z0-9]|@[A-Za-z0-9]", typed), typed
        assert f"Open it in SnowTower: https://snowtower.company.example/review?request={cr.id}" in body
