"""Usage evidence per grant (core.findings.usage over object_use.sql): known answers on the demo account,
whose ACCESS_HISTORY plants used, unused and overlapping grants (core.snowflake.demo_security_views.PLANTED_USE)."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from core.findings import usage
from core.findings.access import graph_of
from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline
from core.snowflake import demo
from core.snowflake.connect import open_standin, standin_source
from core.snowflake.queries import ask

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2026, 3, 29)
AS_OF = dt.datetime(2026, 3, 30, 9, tzinfo=dt.timezone.utc)  # the demo account is read the day after END at 09:00

# What the planted ACCESS_HISTORY implies for every (user, business role) of the example config.
EXPECTED = {
    ("AKHAN", "DATA_SCIENTIST"): usage.USED, ("BFISCHER", "DATA_SCIENTIST"): usage.UNUSED,
    ("DPRICE", "ANALYST"): usage.UNUSED, ("EVASQUEZ", "ANALYTICS_ENGINEER"): usage.USED,
    ("GADEYEMI", "FINANCE_ANALYST"): usage.USED, ("HCHO", "ANALYST"): usage.USED,
    ("LMURPHY", "FINANCE_ANALYST"): usage.UNUSED, ("MOKAFOR", "DATA_ENGINEER"): usage.USED,
    ("NJENSEN", "ANALYST"): usage.USED, ("OBRENNAN", "ANALYST"): usage.USED,
    ("PRAMAN", "DATA_ENGINEER"): usage.USED, ("PRAMAN", "ANALYTICS_ENGINEER"): usage.UNUSED,
    ("SROSSI", "ANALYST"): usage.UNUSED, ("SVC_DBT", "DBT_RUNNER"): usage.USED,
    ("SVC_FIVETRAN", "LOADER"): usage.USED, ("SVC_LOOKER", "BI_TOOL"): usage.USED,
    ("TLINDQVIST", "ANALYTICS_ENGINEER"): usage.UNUSED,
}


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "snowddl")


@pytest.fixture(scope="module")
def account(tmp_path_factory, config):
    folder = tmp_path_factory.mktemp("account")
    demo.generate(folder, config, END, query_rows=500)
    return folder


def uses(folder, days=usage.HISTORY_DAYS):
    frame = ask(standin_source(folder), "object_use", since=(AS_OF - dt.timedelta(days=days)).replace(tzinfo=None),
                as_of=AS_OF.replace(tzinfo=None))
    return usage.uses_from_frame(frame)


def by_key(config, folder, **kw):
    graph = graph_of(Baseline.from_config(config.snowddl))
    return {e.key: e for e in usage.evidence(graph, uses(folder), AS_OF, **kw)}


def test_access_history_arrays_come_back_as_json_text(account):
    conn = open_standin(account)
    try:
        cur = conn.cursor()
        cur.execute("SELECT DIRECT_OBJECTS_ACCESSED, OBJECTS_MODIFIED FROM SNOWFLAKE.ACCOUNT_USAGE.ACCESS_HISTORY "
                    "WHERE USER_NAME = 'OBRENNAN' LIMIT 1")
        direct, modified = cur.fetchone()
    finally:
        conn.close()
    assert isinstance(direct, str) and json.loads(direct)[0]["objectName"] == "ANALYTICS.MARTS.FCT_ORDERS"
    assert json.loads(modified) == []


def test_every_grant_once_with_the_planted_verdict(config, account):
    found = by_key(config, account)
    assert {k: e.verdict for k, e in found.items()} == EXPECTED


def test_the_last_use_and_the_objects_are_the_planted_ones(config, account):
    found = by_key(config, account)
    d = found[("DPRICE", "ANALYST")]
    assert d.last_use.date() == END - dt.timedelta(days=100) and d.used == []
    assert "last on " + (END - dt.timedelta(days=100)).isoformat() in d.reason
    o = found[("OBRENNAN", "ANALYST")]
    assert o.used[0]["object"] == "ANALYTICS.MARTS.FCT_ORDERS" and o.used[0]["access"] == "read"
    assert o.used[0]["last"].startswith(END.isoformat())
    w = found[("SVC_FIVETRAN", "LOADER")]
    assert w.used[0]["access"] == "write"


def test_a_use_another_role_also_explains_counts_for_neither(config, account):
    """PRAMAN reads ANALYTICS.MARTS daily, which DATA_ENGINEER and ANALYTICS_ENGINEER both give: it is no
    evidence for ANALYTICS_ENGINEER, whose own scope is DEV_SANDBOX.DBT_DEV."""
    e = by_key(config, account)[("PRAMAN", "ANALYTICS_ENGINEER")]
    assert e.only_read == ("DEV_SANDBOX.DBT_DEV",) and e.shared_with == ("DATA_ENGINEER",)
    assert e.verdict == usage.UNUSED and e.last_use is None


def test_a_shorter_window_turns_a_use_into_unused(config, account):
    found = by_key(config, account, days=5)
    assert found[("NJENSEN", "ANALYST")].verdict == usage.UNUSED  # last read 10 days before END
    assert found[("OBRENNAN", "ANALYST")].verdict == usage.USED


def test_never_used_since_a_grant_snowtower_made(config, account):
    granted = {("SROSSI", "ANALYST"): END - dt.timedelta(days=30), ("DPRICE", "ANALYST"): END - dt.timedelta(days=30),
               ("OBRENNAN", "ANALYST"): END - dt.timedelta(days=30)}
    found = by_key(config, account, granted=granted)
    assert found[("SROSSI", "ANALYST")].verdict == usage.NEVER
    assert found[("DPRICE", "ANALYST")].verdict == usage.NEVER  # its last use (100 days ago) is before the grant
    assert found[("OBRENNAN", "ANALYST")].verdict == usage.USED
    assert found[("BFISCHER", "DATA_SCIENTIST")].granted is None  # not made by SnowTower: unknown


def test_cannot_tell_when_another_role_gives_everything(tmp_path, account):
    """MOKAFOR given ANALYST as well: DATA_ENGINEER reads everything ANALYST reads, so no use can show
    whether ANALYST is needed."""
    root = tmp_path / "snowddl"
    shutil.copytree(ROOT / "snowddl", root)
    text = (root / "user.yaml").read_text()
    marker = "MOKAFOR:"
    head, _, tail = text.partition(marker)
    tail = tail.replace("  business_roles:\n    - DATA_ENGINEER\n", "  business_roles:\n    - DATA_ENGINEER\n    - ANALYST\n", 1)
    (root / "user.yaml").write_text(head + marker + tail)
    config = load_config(root)
    assert config.validation.valid
    found = by_key(config, account)
    e = found[("MOKAFOR", "ANALYST")]
    assert e.verdict == usage.CANNOT_TELL and e.only_read == () and e.only_write == ()
    assert "DATA_ENGINEER" in e.reason
    # his reads of PROJ_CHURN.SCORING are ANALYST's too now (CHURN_SCORES_READ): no evidence for either role
    assert found[("MOKAFOR", "DATA_ENGINEER")].verdict == usage.UNUSED
    assert "PROJ_CHURN.SCORING" not in found[("MOKAFOR", "DATA_ENGINEER")].only_read
