"""Drift on the infrastructure page: SnowDDL's live plan of the base branch's config against the account.

Without an account the page is handed a plan that SnowDDL computed offline against a baseline that differs
from the config (a user the config lacks, a user the account lacks, a warehouse resized), so every
assertion below depends on what SnowDDL's resolvers actually produced. The real-account test runs only
with SnowDDL's SNOWFLAKE_* credentials."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.snowddl import plan as planning
from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline
from core.snowddl.plan import plan_offline
from tests.test_security_page import page as security_page, workspace  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "snowddl"
CREDENTIALS = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PATH",
               "SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE")
HAS_ACCOUNT = bool(os.environ.get("SNOWFLAKE_ACCOUNT") and os.environ.get("SNOWFLAKE_USER")
                   and (os.environ.get("SNOWFLAKE_PRIVATE_KEY_PATH") or os.environ.get("SNOWFLAKE_PRIVATE_KEY")
                        or os.environ.get("SNOWFLAKE_PASSWORD")))


@pytest.fixture
def no_account(monkeypatch):
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def account(monkeypatch, no_account):
    """Credentials are set (nothing connects: the tests replace the live plan or fail before connecting)."""
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "xy12345")
    monkeypatch.setenv("SNOWFLAKE_USER", "SNOWDDL")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "not-used")


@pytest.fixture(scope="module")
def drifted_account(tmp_path_factory):
    """The baseline of an account that drifted from the example config: ZOMBIE exists only in the account,
    PRAMAN only in the config, TRANSFORM_WH is larger in the account."""
    folder = tmp_path_factory.mktemp("account") / "snowddl"
    shutil.copytree(EXAMPLE, folder)
    users = folder / "user.yaml"
    text = users.read_text()
    start = text.index("PRAMAN:\n")
    end = text.index("\nMOKAFOR:")
    text = text[:start] + "ZOMBIE:\n  type: PERSON\n  comment: left in the account by hand\n" + text[end:]
    users.write_text(text)
    loaded = load_config(folder)
    assert loaded.validation.valid, loaded.validation.errors
    return Baseline.from_config(loaded.snowddl)


def page(actor):
    return security_page("infrastructure", actor)


def open_drift(at):
    return at.button(key="infrastructure.drift.run")


def test_without_a_live_connection_the_page_says_so(workspace, people, no_account):
    at = page(people["admin"])
    assert not at.exception, at.exception
    assert any(i.value.startswith("No live Snowflake connection is configured") for i in at.info)
    assert not [b for b in at.button if b.key == "infrastructure.drift.run"]


def test_drift_shows_snowddls_statements_unsafe_first(workspace, people, account, drifted_account, monkeypatch):
    calls = []

    def fake_live(head, connection=None, resolvers=None):
        calls.append(head)
        plan = plan_offline(drifted_account, head)
        plan.mode = "live"
        return plan

    monkeypatch.setattr(planning, "plan_live", fake_live)
    at = page(people["admin"])
    assert not at.exception, at.exception
    assert calls == []  # on demand only
    open_drift(at).click().run()
    assert not at.exception, at.exception
    assert len(calls) == 1
    frame = next(d.value for d in at.dataframe if "OBJECT TYPE" in d.value.columns)
    rows = list(zip(frame["UNSAFE"], frame["ACTION"], frame["OBJECT TYPE"], frame["OBJECT"], strict=True))
    assert ("unsafe", "DROP", "USER", "ZOMBIE") in rows
    assert ("", "CREATE", "USER", "PRAMAN") in rows
    unsafe = [r[0] == "unsafe" for r in rows]
    assert unsafe == sorted(unsafe, reverse=True)  # every unsafe statement before every safe one
    safe_types = [r[2] for r in rows if not r[0]]
    assert safe_types == sorted(safe_types)  # grouped by object type
    assert any(e.value.startswith(f"{sum(unsafe)} unsafe statement(s)") for e in at.error)
    labels = [e.label for e in at.expander]
    assert labels[0].startswith("Unsafe: ") and "user (" in " ".join(labels)
    sql = "\n".join(c.value for c in at.code)
    assert 'DROP USER "ZOMBIE"' in sql and 'CREATE USER "PRAMAN"' in sql
    # cached per commit: another run shows the same plan without asking the account again
    at.run()
    assert len(calls) == 1 and any("OBJECT TYPE" in d.value.columns for d in at.dataframe)


def test_an_account_that_matches_shows_no_drift(workspace, people, account, monkeypatch):
    monkeypatch.setattr(planning, "plan_live", lambda head, *a, **k: plan_offline(Baseline.from_config(head), head))
    at = page(people["admin"])
    open_drift(at).click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["No drift: the account matches the configuration."]


def test_a_failing_connection_is_a_message_not_a_traceback(workspace, people, account, monkeypatch):
    import snowflake.connector.errors as sf

    def refuse(head, *a, **k):
        raise sf.DatabaseError("250001: Could not connect to Snowflake backend **after** [3 attempt(s)](http://x)")

    monkeypatch.setattr(planning, "plan_live", refuse)
    at = page(people["admin"])
    open_drift(at).click().run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("Drift could not be checked: the account could not be read (DatabaseError: 250001")
    assert "\\*\\*after\\*\\*" in error and "\\[3 attempt" in error  # the server's text stays plain text


def test_an_unreadable_key_file_is_a_message(workspace, people, no_account, monkeypatch, tmp_path):
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "xy12345")
    monkeypatch.setenv("SNOWFLAKE_USER", "SNOWDDL")
    monkeypatch.setenv("SNOWFLAKE_PRIVATE_KEY_PATH", str(tmp_path / "missing.p8"))
    at = page(people["admin"])
    open_drift(at).click().run()  # the real plan_live: fails reading the key, before any connection
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert "could not be read (FileNotFoundError" in error


@pytest.mark.skipif(not HAS_ACCOUNT, reason="needs Snowflake credentials (SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, "
                                            "SNOWFLAKE_PRIVATE_KEY_PATH)")
def test_drift_against_the_real_account(services):
    drift = services.drift()
    assert drift.mode == "live"
    for s in drift.statements:
        assert s.object_type and s.sql
        if s.action in ("DROP", "REVOKE"):
            assert s.unsafe
