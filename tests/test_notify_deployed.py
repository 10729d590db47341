"""`snowtower notify deployed --pr N`: the merge-deploy workflow's deployment notice in GitHub mode, against
the GitHub test server and the local Slack receiver. Only what GitHub vouches for is used: no signing key,
no requester named, no e-mail."""
from __future__ import annotations

import logging

import pytest

from core.changes import metadata as meta
from portal import cli
from tests.github_support import github, github_template  # noqa: F401 (fixtures)
from tests.notify_support import SlackReceiver, SMTPReceiver

HOSTILE = "<!channel> @here see https://evil.example/x <https://evil.example|click> & *bold*\r\nBcc: x@evil.example"
BASE_URL = "https://snowtower.company.example"


@pytest.fixture
def slack():
    receiver = SlackReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def actions(github, slack, tmp_path, monkeypatch):
    """The environment merge-deploy gives the step: the workflow's own (read-only) token, the portal's login,
    the base URL and the Slack webhook; no signing key, and no workspace (a folder that does not exist)."""
    for name, value in {"SNOWTOWER_GITHUB_REPOSITORY": github.full_name, "SNOWTOWER_GITHUB_BASE_URL": github.base_url,
                        "SNOWTOWER_GITHUB_TOKEN": "actions-token", "SNOWTOWER_GITHUB_PORTAL_LOGIN": "snowtower-bot",
                        "SNOWTOWER_BASE_URL": BASE_URL, "SNOWTOWER_NOTIFY_TIMEOUT": "1",
                        "SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL": f"{slack.url}/services/T000/B000/XXXX",
                        "SNOWTOWER_WORKSPACE": str(tmp_path / "no-workspace")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SNOWTOWER_SIGNING_KEY", raising=False)
    return github


def merged_pull(server, title="New person user JANE_DOE", *, state="merged", author="snowtower-bot",
                branch="snowtower/abc123-new-person-user-jane-doe", base="main", head_owner=""):
    """A pull request as the portal opens them, with a request record naming a requester (unverifiable
    without the signing key, so it must not be used)."""
    sha = server.git.branch_head("main")
    record = {"key": "abc123", "recipe": "new-user", "requester": "mallory", "branch": branch, "head_sha": sha,
              "sig": "not-verifiable-here"}
    body = meta.embed("Justification: please", meta.REQUEST, record)
    return server.add_pull(title, body, branch, head_sha=sha, base=base, state=state, author=author,
                           head_owner=head_owner)


def run(*args) -> int:
    return cli.main(["notify", "deployed", *args])


def test_the_notice_says_what_was_deployed_links_to_it_and_names_no_one(actions, slack, tmp_path, capsys):
    pr = merged_pull(actions)
    assert run("--pr", str(pr.number)) == 0
    assert slack.wait_for(1)
    [post] = slack.posts
    text = post["json"]["text"]
    assert text.splitlines() == [
        f"The merge-deploy workflow (merge-deploy) deployed #{pr.number}: New person user JANE_DOE",
        f"Request: #{pr.number} · now deployed",
        f"Merge commit: {pr.merge_commit_sha[:12]}",
        "",
        f"Open it in SnowTower: {BASE_URL}/my-requests?request={pr.number}",
        f"Pull request: {actions.host}/{actions.full_name}/pull/{pr.number}",
    ]
    assert "mallory" not in text and "For:" not in text  # the unverified record routes nothing
    assert post["json"]["mrkdwn"] is False
    out = capsys.readouterr()
    assert f"#{pr.number} deployed: told slack" in out.out
    # Read-only: the workflow's token only read the pull request; no signing key was needed or made.
    assert {method for method, _ in actions.calls} == {"GET"}
    assert not (tmp_path / "no-workspace").exists()


def test_a_hostile_title_is_escaped_text(actions, slack):
    pr = merged_pull(actions, title=HOSTILE)
    assert run("--pr", str(pr.number)) == 0
    assert slack.wait_for(1)
    text = slack.texts()[0]
    assert "<!channel>" not in text and "<https://evil.example|click>" not in text and "\r" not in text
    first = text.splitlines()[0]
    assert "&lt;!channel&gt;" in first and "&amp;" in first
    assert "https://evil.example" not in text  # a zero-width space keeps it from becoming a link
    assert text.count("\n") == 5  # the title's line break stayed on its line


@pytest.mark.parametrize("pull, reason", [
    (dict(author="mallory"), "was opened by mallory, not by the portal (snowtower-bot)"),
    (dict(state="open"), "is still open: it was not deployed"),
    (dict(state="closed"), "is closed without being merged"),
    (dict(base="release"), "was merged into release, not into main"),
    (dict(branch="feature/jane"), "was not opened from a SnowTower branch"),
    (dict(head_owner="mallory"), "was not opened from a SnowTower branch"),  # a fork's snowtower/ branch
], ids=["other-author", "open", "closed", "other-base", "other-branch", "fork"])
def test_what_github_does_not_vouch_for_is_refused_and_nothing_is_sent(actions, slack, capsys, pull, reason):
    if pull.get("base") == "release":
        actions.git.update_ref("refs/heads/release", actions.git.branch_head("main"), None)
    pr = merged_pull(actions, **pull)
    assert run("--pr", str(pr.number)) == 1
    err = capsys.readouterr().err
    assert f"#{pr.number} {reason}" in err and "Nobody was told." in err
    assert not slack.wait_for(1, timeout=0.3) and slack.posts == []


def test_a_pull_request_that_does_not_exist_is_refused(actions, slack, capsys):
    assert run("--pr", "999") == 1
    assert f"#999 is not a pull request of {actions.full_name}." in capsys.readouterr().err
    assert slack.posts == []


def test_a_receiver_that_is_down_is_logged_and_the_deploy_step_still_succeeds(actions, slack, caplog):
    pr = merged_pull(actions)
    slack.stop()
    with caplog.at_level(logging.INFO, logger="snowtower.notifications"):
        assert run("--pr", str(pr.number)) == 0
    failed = [r.getMessage() for r in caplog.records if r.name == "snowtower.notifications" and r.levelno == logging.WARNING]
    assert failed and failed[0].startswith(f"notification request_deployed about #{pr.number} via slack failed: SlackError")
    assert "XXXX" not in caplog.text  # never the webhook URL


def test_a_receiver_that_answers_500_is_logged_and_still_exits_0(actions, slack, caplog):
    pr = merged_pull(actions)
    slack.status = 500
    with caplog.at_level(logging.INFO, logger="snowtower.notifications"):
        assert run("--pr", str(pr.number)) == 0
    assert "via slack failed: SlackError: the webhook answered 500" in caplog.text


def test_without_a_channel_it_does_nothing_and_says_so(actions, slack, monkeypatch, capsys):
    # Actions passes a secret the repository does not have as an empty string.
    for name in ("SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL", "SNOWTOWER_NOTIFY_SLACK_BOT_TOKEN", "SNOWTOWER_NOTIFY_SLACK_CHANNEL",
                 "SNOWTOWER_BASE_URL", "SNOWTOWER_GITHUB_PORTAL_LOGIN"):
        monkeypatch.setenv(name, "")
    pr = merged_pull(actions)
    actions.reset_calls()
    assert run("--pr", str(pr.number)) == 0
    assert "no notification channel is set" in capsys.readouterr().out
    assert actions.calls == [] and slack.posts == []  # GitHub not even asked


def test_email_goes_to_no_one_from_the_workflow(actions, slack, monkeypatch, capsys):
    smtp = SMTPReceiver()
    try:
        for name, value in {"SNOWTOWER_NOTIFY_SMTP_HOST": "127.0.0.1", "SNOWTOWER_NOTIFY_SMTP_PORT": str(smtp.port),
                            "SNOWTOWER_NOTIFY_SMTP_TLS": "none", "SNOWTOWER_NOTIFY_SMTP_FROM": "snowtower@company.example"}.items():
            monkeypatch.setenv(name, value)
        pr = merged_pull(actions)
        assert run("--pr", str(pr.number)) == 0
        assert slack.wait_for(1)
        assert "email: not sent" in capsys.readouterr().out
        assert smtp.messages == []
    finally:
        smtp.stop()


def test_the_bot_token_posts_to_the_channel(actions, slack, monkeypatch):
    monkeypatch.delenv("SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL")
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SLACK_CHANNEL", "#snowflake-access")
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SLACK_API_URL", slack.url + "/api")
    pr = merged_pull(actions)
    assert run("--pr", str(pr.number)) == 0
    assert slack.wait_for(1)
    [post] = slack.posts
    assert post["path"] == "/api/chat.postMessage" and post["json"]["channel"] == "#snowflake-access"
    assert post["headers"]["Authorization"] == "Bearer xoxb-test"


def test_github_refusing_the_token_is_an_error_and_nothing_is_sent(actions, slack, monkeypatch, capsys):
    pr = merged_pull(actions)
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "wrong-token")
    assert run("--pr", str(pr.number)) == 2
    assert f"GitHub answered 401 reading #{pr.number}; nobody was told." in capsys.readouterr().err
    assert slack.posts == []


def test_without_the_author_check_it_says_so(actions, slack, monkeypatch, capsys):
    monkeypatch.delenv("SNOWTOWER_GITHUB_PORTAL_LOGIN")
    pr = merged_pull(actions, author="someone-else")
    assert run("--pr", str(pr.number)) == 0
    assert "the pull request's author was not checked" in capsys.readouterr().out
    assert slack.wait_for(1)


@pytest.mark.parametrize("args", [["--pr", "0"], ["--pr", "x"], []])
def test_a_bad_number_is_a_usage_error(actions, slack, args):
    assert run(*args) == 2
    assert slack.posts == []


class DripReceiver:
    """A webhook that answers one byte of headers every 0.2 s, for up to 30 s: each read is within any
    time-out, so only the command's own deadline ends the wait."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self):
        import threading

        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                for _ in range(150):
                    if self.stopped.wait(0.2):
                        return
                    conn.sendall(b"a")
            except OSError:
                return

    def stop(self):
        self.stopped.set()
        self.sock.close()


def test_a_receiver_that_never_finishes_answering_cannot_hold_the_deploy_job(actions, slack, tmp_path):
    import os
    import subprocess
    import sys

    from app.paths import REPO_ROOT

    drip = DripReceiver()
    try:
        pr = merged_pull(actions)
        env = dict(os.environ, SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL=drip.url, SNOWTOWER_NOTIFY_TIMEOUT="0.5")
        proc = subprocess.run([sys.executable, "-m", "portal.cli", "notify", "deployed", "--pr", str(pr.number)],
                              capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=25)
    finally:
        drip.stop()
    assert proc.returncode == 0, proc.stderr
    assert f"notification request_deployed about #{pr.number}: a delivery was still under way after 2 s; given up" in proc.stderr
    assert f"#{pr.number} deployed: told slack" in proc.stdout


def test_without_the_github_token_it_says_what_is_missing(actions, slack, monkeypatch, capsys):
    pr = merged_pull(actions)
    monkeypatch.delenv("SNOWTOWER_GITHUB_TOKEN")
    assert run("--pr", str(pr.number)) == 2
    assert "SNOWTOWER_GITHUB_REPOSITORY and SNOWTOWER_GITHUB_TOKEN" in capsys.readouterr().err
    assert slack.posts == []


def test_a_failed_deployment_tells_the_channel_that_the_request_is_merged_not_deployed(actions, slack, capsys):
    # merge-deploy labels the pull request deploy-failed, then runs `snowtower notify deploy-failed --pr N`.
    pr = merged_pull(actions)
    assert cli.main(["notify", "deploy-failed", "--pr", str(pr.number)]) == 0
    assert slack.wait_for(1)
    lines = slack.texts()[0].splitlines()
    assert lines[0] == f"The merge-deploy workflow (merge-deploy) could not deploy #{pr.number}: New person user JANE_DOE"
    assert lines[1] == f"Request: #{pr.number} · now merged" and "mallory" not in slack.texts()[0]
    assert f"#{pr.number} deploy failed: told slack" in capsys.readouterr().out
    assert {method for method, _ in actions.calls} == {"GET"}
