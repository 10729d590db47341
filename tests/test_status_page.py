"""The admins' Status page: each backend's health in one line, failures named, each check bounded in time."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app.status import Check, checks
from portal import ui
from tests.github_support import github, github_template, write_settings  # noqa: F401 (fixtures)
from tests.portal_support import as_viewer

ROOT = Path(__file__).resolve().parents[1]


def status_page(actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "status.py"), default_timeout=60)
    as_viewer(at, actor)
    return at.run()


def lines(at) -> list[str]:
    return [str(e.value) for e in [*at.success, *at.error]]


def test_the_demo_is_healthy_and_says_it_runs_on_the_stand_in(services, people, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(services.settings.workspace))
    ui._services.clear()
    at = status_page(people["admin"])
    assert not at.exception and [t.value for t in at.title] == ["Status"]
    shown = lines(at)
    assert shown[0] == "Everything answers as it should."
    names = [line.split("**")[1] for line in shown[1:]]
    assert names == ["Settings", "Mode", "Change requests", "SnowDDL", "Configuration", "Snowflake", "Audit log"]
    text = "\n".join(shown)
    assert "demo: Snowflake stand-in (DuckDB, generated data)" in text
    assert "stand-in reachable; the 12 ACCOUNT_USAGE views the pages read are readable" in text
    assert "SnowDDL**: version 0.70.1" in text and "snowddl/ on main at" in text and "is valid" in text


def test_the_page_is_for_admins_only(services, people, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(services.settings.workspace))
    ui._services.clear()
    at = status_page(people["approver"])
    assert "Status is for admins" in " ".join(e.value for e in at.error) and not at.success


def test_github_reachable_with_write_permission_then_without(tmp_path, github, monkeypatch, people):
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    write_settings(tmp_path / "ws", github)
    ui._services.clear()
    services = ui.services()
    found = {c.name: c for c in checks(services, None)}
    assert found["GitHub"].ok and f"{github.full_name} reachable at {github.base_url} as snowtower-bot (admin)" in found["GitHub"].detail
    assert found["Snowflake"] == Check("Snowflake", False, "no Snowflake connection is configured")
    assert found["Mode"].detail.startswith("production on a server: live Snowflake account, change requests on GitHub")
    github.permissions["snowtower-bot"] = "read"
    found = {c.name: c for c in checks(services, None)}
    assert not found["GitHub"].ok and "snowtower-bot has read permission there" in found["GitHub"].detail
    # Unreachable: one line saying so, after the backend's own bounded retries.
    github.stop()
    found = {c.name: c for c in checks(services, None, seconds=30)}
    assert not found["GitHub"].ok and "\n" not in found["GitHub"].detail and "Traceback" not in found["GitHub"].detail


def test_a_check_that_hangs_is_cut_off_at_the_bound(services, monkeypatch):
    import app.status as status

    monkeypatch.setattr(status, "_snowddl", lambda s: time.sleep(5) or [])
    started = time.monotonic()
    found = {c.name: c for c in checks(services, None, seconds=0.5)}
    assert time.monotonic() - started < 4.5
    assert found["SnowDDL"] == Check("SnowDDL", False, "no answer within 0.5 s")


def test_a_broken_config_and_a_failing_snowflake_are_one_line_each(services, people, new_user_raw):
    from core.snowflake.queries import CursorSource

    def refuse():
        raise RuntimeError("Object 'SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY' does not exist or not authorized.\n  at line 9")

    # Someone pushed a config SnowDDL refuses straight to main (outside the portal).
    repo, main = services.changes.repo, services.changes.base_head()
    text = (services.changes.config_at(main) / "warehouse.yaml").read_text() + "BROKEN_WH:\n  sise: XSMALL\n"
    broken = repo.commit_files(main, {"snowddl/warehouse.yaml": text}, "Broken\n", ("Someone", "someone@example.com"))
    repo.update_ref("refs/heads/main", broken, main)
    found = {c.name: c for c in checks(services, CursorSource(refuse))}
    assert not found["Configuration"].ok
    line = text.count("\n")  # the broken entry's size
    assert found["Configuration"].detail.startswith(f"snowddl/ on main at {broken[:8]} has 1 error(s); first: "
                                                    f"warehouse.yaml:{line}: ")
    assert not found["Snowflake"].ok
    assert found["Snowflake"].detail == ("status_account_usage: Object 'SNOWFLAKE.ACCOUNT_USAGE.LOGIN_HISTORY' does not "
                                         "exist or not authorized. at line 9")


def test_the_snowflake_probe_covers_every_view_the_pages_read():
    """The Status page's grant check reads each ACCOUNT_USAGE view some question reads: a new question
    on a new view without the probe learning it fails here."""
    import re

    from core.snowflake.queries import question, questions

    pattern = re.compile(r"SNOWFLAKE\.ACCOUNT_USAGE\.([A-Z_]+)")
    used = {v for q in questions() if q.name != "status_account_usage" for v in pattern.findall(q.text)}
    probe = question("status_account_usage").text
    assert set(pattern.findall(probe)) == used
    assert set(re.findall(r"'([A-Z_]+)'", probe)) == used
