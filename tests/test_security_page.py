"""The security page under AppTest on the demo account, and its checks against the planted answers."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.findings.security import cis_checks, health, idle, network_policy_users, security_report
from core.snowflake import demo_planted
from core.snowflake.cost import last_day, window
from portal import ui

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    monkeypatch.setenv("SNOWTOWER_DEMO_QUERY_ROWS", "5000")
    return path


@pytest.fixture
def report(services):
    services.sync_demo_account(generate=True, query_rows=5000)
    src = services.snowflake_source()
    latest = last_day(src)
    binds = window(latest - dt.timedelta(days=89), latest)
    cfg = services.snapshot().config
    return security_report(src, binds["end_time"], binds["start_time"], binds["end_time"], network_policy_users(cfg), set(cfg.users))


def page(name: str, actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=TIMEOUT)
    at.session_state[ui.VIEWER_KEY] = actor
    return at.run()


def test_the_planted_problems_are_found(report):
    checks = {c.id: c for c in report.checks}
    assert sorted(idle(report.users)["NAME"]) == sorted(demo_planted.STALE_USERS)
    assert list(checks["1.4"].evidence["NAME"]) == [demo_planted.ADMIN_WITHOUT_MFA]  # the MFA-less admin
    assert list(checks["1.6"].evidence["NAME"]) == [demo_planted.PASSWORD_SERVICE_USER]
    assert list(checks["1.11"].evidence["NAME"]) == [demo_planted.ADMIN_WITHOUT_MFA]  # no email either
    assert list(checks["2.x"].evidence["USER_NAME"]) == [demo_planted.ADMIN_WITHOUT_MFA]
    assert {c.id: c.status for c in report.checks if c.status != "not checked"} == {
        "1.4": "fail", "1.6": "fail", "1.8": "fail", "1.10": "pass", "1.11": "fail", "1.12": "pass", "1.13": "pass", "2.x": "monitor"}
    assert {"1.1", "1.5", "1.9", "3.1"} <= {c.id for c in report.checks if c.status == "not checked"}
    worst = report.health.iloc[0]
    assert worst["NAME"] == demo_planted.ADMIN_WITHOUT_MFA and worst["SCORE"] == 30
    assert "holds ACCOUNTADMIN without MFA" in worst["REASONS"]
    assert report.health.set_index("NAME").loc["SVC_FIVETRAN", "SCORE"] == 100  # key pair and a network policy
    assert report.health.set_index("NAME").loc["SVC_DBT", "REASONS"] == "no network policy (-10)"
    assert sorted((f.object, f.fix.recipe) for f in report.findings) == [("LMURPHY", "offboard-user"), ("TLINDQVIST", "offboard-user")]
    assert report.mfa_coverage == (0, 14)
    assert len(report.health) == 18  # every enabled user of the account; none read as disabled from VARIANT text


def test_cis_110_counts_securityadmin_and_snowflake_service_users_are_not_people(report):
    users = report.users.copy()
    holders = users["NAME"].isin(["AKHAN", "BFISCHER", "DPRICE", "EVASQUEZ", "GADEYEMI", "HCHO", "MOKAFOR", "NJENSEN", "OBRENNAN"])
    users.loc[holders, "ADMIN_ROLES"] = "SECURITYADMIN"  # 2 ACCOUNTADMIN + 9 SECURITYADMIN = 11
    checks = {c.id: c for c in cis_checks(users, report.methods, report.methods.iloc[0:0][[]])}
    assert checks["1.10"].status == "fail" and len(checks["1.10"].evidence) == 11
    spcs = users.iloc[[0]].assign(NAME="SF$SERVICE_1", TYPE="SNOWFLAKE_SERVICE", HAS_PASSWORD=True, HAS_MFA=False,
                                  HAS_RSA_PUBLIC_KEY=False, EMAIL=None, ADMIN_ROLES="")
    plus = pd.concat([report.users, spcs], ignore_index=True)
    checks = {c.id: c for c in cis_checks(plus, report.methods, report.methods.iloc[0:0][[]])}
    assert "SF$SERVICE_1" not in set(checks["1.4"].evidence["NAME"]) | set(checks["1.6"].evidence["NAME"])
    assert "SF$SERVICE_1" not in set(health(plus, set())["NAME"])


def test_a_clean_account_passes_every_check(report):
    users = report.users.copy()
    users = users[~users["NAME"].isin([demo_planted.ADMIN_WITHOUT_MFA])]
    users.loc[users["NAME"] == demo_planted.PASSWORD_SERVICE_USER, "HAS_PASSWORD"] = False
    users.loc[users["NAME"].isin(demo_planted.STALE_USERS), "DAYS_SINCE_LOGIN"] = 3
    users.loc[users["NAME"] == "PRAMAN", "ADMIN_ROLES"] = "ACCOUNTADMIN"  # two admins, with email and key pairs
    methods = report.methods[report.methods["USER_NAME"] != demo_planted.ADMIN_WITHOUT_MFA]
    checks = cis_checks(users, methods, report.methods.iloc[0:0][[]])
    assert {c.id: c.status for c in checks if c.status != "not checked"} == {
        **{cid: "pass" for cid in ("1.4", "1.6", "1.8", "1.10", "1.11", "1.12", "1.13")}, "2.x": "monitor"}
    assert all(c.evidence.empty for c in checks)


def test_only_admins_see_the_security_page(workspace, people):
    for who in ("requester", "approver"):
        at = page("security", people[who])
        assert [e.value for e in at.error] == ["The security page is for admins."]
        assert not at.metric


def test_admin_sees_metrics_findings_with_fix_buttons_and_cis(workspace, people):
    at = page("security", people["admin"])
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["MFA coverage (people)"] == "0%"
    assert metrics["Service users with a password"] == "1"
    assert metrics["Idle 90 days"] == "2"
    assert metrics["Failed logins (90 days)"] == str(8 + 40 + 15)
    texts = [t.value for t in at.text]
    # the planted worst problems come first, as critical
    assert texts[0].startswith("SIGNIN_PASSWORD_SPRAY · ") or texts[0].startswith("ADMIN_WITHOUT_MFA · ADMIN")
    urgent = [t for t in texts if " · " in t and ": " in t][:2]
    assert {t.split(" · ")[0] for t in urgent} == {"SIGNIN_PASSWORD_SPRAY", "ADMIN_WITHOUT_MFA"}
    marks = [m.value for m in at.markdown]
    assert marks[0] == (":red-badge[:material/error: 2 critical] :orange-badge[:material/warning: 3 high] "
                        ":blue-badge[:material/info: 2 medium] :gray-badge[:material/low_priority: 0 low] open findings")
    # each headline figure carries its severity: MFA coverage and admin holders critical, idle users high, ...
    assert marks[6:11] == [  # after the 2 + 3 rows of "Needs attention now"
":red-badge[:material/error: critical]", ":orange-badge[:material/warning: high]",
                          ":orange-badge[:material/warning: high]", ":red-badge[:material/error: critical]",
                          ":red-badge[:material/error: critical]"]
    assert any(t.startswith("WAREHOUSE_NO_MONITOR · BI_WH") for t in texts)
    assert any(t.startswith("STALE_USER · TLINDQVIST") for t in texts)
    fixes = [b for b in at.button if b.key and b.key.startswith("security.fix.") and not b.key.startswith("security.fix.unused.")]
    assert len(fixes) == 3  # BI_WH's monitor, two stale users
    # unused grants (access reviews): the planted unused ones of ACCESS_HISTORY, each with its revoke request
    unused = [b for b in at.button if b.key and b.key.startswith("security.fix.unused.")]
    assert len(unused) == 6 and all("revoke-role" in b.help for b in unused)
    labels = [e.label for e in at.expander]
    assert "1.4 MFA is on for every human user with a password: FAIL" in labels
    assert "1.10 Between 2 and 10 users hold ACCOUNTADMIN or SECURITYADMIN: PASS" in labels
    assert "2.x Monitoring: people logging in with a password and no second factor: MONITOR" in labels
    assert any(label.startswith("1.9 ") and label.endswith("NOT CHECKED") for label in labels)


def test_infrastructure_page_inventory_and_reach(workspace, people):
    at = page("infrastructure", people["requester"])
    assert [e.value for e in at.error] == ["The infrastructure page is for admins."]
    at = page("infrastructure", people["admin"])
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Users"] == "16"
    at.selectbox(key="infrastructure.kind").set_value("SCHEMA").run()
    at.selectbox(key="infrastructure.object").set_value("RAW.STRIPE").run()
    assert not at.exception, at.exception
    assert any(m.value == "**8 user(s)** can reach schema **RAW.STRIPE**." for m in at.markdown)
    # a grouped summary first, the user roles folded; the graph only on demand
    summary = next(t.value for t in at.text if t.value.startswith("8 users: "))
    assert "__U_ROLE" not in summary and " through " in summary
    assert len(at.get("graphviz_chart")) == 0
    at.toggle(key="infrastructure.graph.who").set_value(True).run()
    assert len(at.get("graphviz_chart")) == 1
    at.selectbox(key="infrastructure.user").set_value("HCHO").run()
    assert any(m.value.startswith("**HCHO** reaches **12** object(s)") for m in at.markdown)
    at.text_input(key="infrastructure.search.Users").set_value("lindqvist").run()
    assert not at.exception, at.exception
    assert any(list(d.value.get("name", [])) == ["TLINDQVIST"] for d in at.dataframe)
    # the warehouses' inventory shows SnowDDL's names and who uses each, not the recipes' config_name column
    at.radio(key="infrastructure.inventory").set_value("Warehouses").run()
    assert not at.exception, at.exception
    whs = next(d.value for d in at.dataframe if "size" in d.value.columns)
    assert "used_by" in whs.columns and "config_name" not in whs.columns and "TRANSFORM_WH" in list(whs["name"])


def test_the_stale_user_fix_is_a_request_that_only_offboards_them(services, report, people):
    from app.operations import PreviewRequest, SubmitRequest
    from recipes import RECIPES

    finding = next(f for f in report.findings if f.object == "LMURPHY")
    recipe = RECIPES[finding.fix.recipe]
    preview = PreviewRequest(services, recipe, finding.fix.fields).execute()
    assert preview.ok
    cr = SubmitRequest(services, people["admin"], recipe, finding.fix.fields, preview.base_sha).execute()
    changed = [line for line in services.changes.diff(cr).splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-  business_roles:", "-    - FINANCE_ANALYST", "+  disabled: true"]
    assert cr.justification.startswith("Fixes finding STALE_USER on LMURPHY: LMURPHY last logged in")


def test_an_admin_accepts_a_finding_on_the_page_with_a_reason(workspace, people):
    at = page("security", people["admin"])
    assert not at.exception, at.exception
    submit = next(b for b in at.button if b.key == "FormSubmitter:security.accept.ADMIN_WITHOUT_MFA:ADMIN-Accept")
    reasons = [t for t in at.text_input if t.label == "Reason to accept the risk"]
    # the rows of "Needs attention now": the spray, then ADMIN's
    reasons[1].set_value("break-glass account, password in the safe")
    submit.click().run()
    assert not at.exception, at.exception
    texts = [t.value for t in at.text]
    assert any(t.startswith("accepted · first seen") and "accepted by admin until" in t
               and t.endswith("break-glass account, password in the safe") for t in texts)
    # no longer among the open critical findings
    assert at.markdown[0].value.startswith(":red-badge[:material/error: 1 critical]")
