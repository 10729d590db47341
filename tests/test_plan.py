"""Offline plans through SnowDDL's own resolvers: the right statements per covered object type, none for
identical configs; the CLI (folders and git refs, text/json/markdown); the live plan with credentials."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import snowddl

from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline
from core.snowddl.offline_engine import OfflineQueryError
from core.snowddl.plan import Plan, plan_between, render_markdown
from portal.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "snowddl"
SAMPLES = sorted(p for p in (Path(snowddl.__file__).parent / "_config").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def example():
    return load_config(EXAMPLE)


@pytest.fixture
def head(tmp_path):
    dest = tmp_path / "head"
    shutil.copytree(EXAMPLE, dest)
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def plan_to(head_dir: Path, example, env_prefix: str = "") -> Plan:
    base = example if not env_prefix else load_config(EXAMPLE, env_prefix)
    head = load_config(head_dir, env_prefix)
    assert head.validation.valid, head.validation.errors
    plan = plan_between(base, head)
    assert plan.errors == []
    return plan


def sqls(plan: Plan) -> list[str]:
    return [s.sql for s in plan.statements]


@pytest.mark.parametrize("config", [EXAMPLE] + SAMPLES, ids=lambda p: p.name)
def test_identical_configs_give_zero_statements(config):
    from core.snowddl.plan import plan_offline

    loaded = load_config(config)
    assert loaded.validation.valid
    plan = plan_between(loaded, loaded)
    assert plan.statements == [] and plan.errors == []
    # every object compared against its baseline rows, as against an account: the rows are right
    full = plan_offline(Baseline.from_config(loaded.snowddl), loaded.snowddl, skip_unchanged=False)
    assert full.statements == [] and full.errors == []


def test_identical_configs_with_an_env_prefix_give_zero_statements():
    from core.snowddl.plan import plan_offline

    loaded = load_config(EXAMPLE, "dev")
    assert plan_between(loaded, loaded).statements == []
    assert plan_offline(Baseline.from_config(loaded.snowddl), loaded.snowddl, skip_unchanged=False).statements == []


def test_changes_are_the_same_with_and_without_skipping_unchanged_objects(tmp_path, example):
    from core.snowddl.plan import plan_offline

    head = tmp_path / "head"
    shutil.copytree(EXAMPLE, head)
    edit(head / "business_role.yaml", "    - CRM_READ\n    - SHOPIFY_READ", "    - SHOPIFY_READ")
    edit(head / "warehouse.yaml", "LOADER_WH:\n  size: XSMALL", "LOADER_WH:\n  size: MEDIUM")
    (head / "user.yaml").write_text((head / "user.yaml").read_text() + "\nNEW_GUY:\n  business_roles: [ANALYST]\n")
    loaded = load_config(head)
    baseline = Baseline.from_config(example.snowddl)
    fast = plan_offline(baseline, loaded.snowddl)
    full = plan_offline(baseline, loaded.snowddl, skip_unchanged=False)
    assert [s.to_dict() for s in fast.statements] == [s.to_dict() for s in full.statements]
    assert len(fast.statements) == 7  # ALTER WAREHOUSE, REVOKE, and the new user (role, grants, user)


def test_an_empty_account_gets_every_object_created(example):
    from core.snowddl.plan import plan_offline

    plan = plan_offline(Baseline(), example.snowddl)
    created = {(s.object_type, s.object) for s in plan.statements if s.action == "CREATE"}
    assert ("USER", "PRAMAN") in created and ("WAREHOUSE", "LOADER_WH") in created
    assert ("DATABASE", "RAW") in created and ("SCHEMA", "RAW.STRIPE") in created
    assert ("BUSINESS_ROLE", "ANALYST__B_ROLE") in created and ("RESOURCE_MONITOR", "LOADER_MONITOR") in created


def test_warehouse_changes(head, example):
    edit(head / "warehouse.yaml", "LOADER_WH:\n  size: XSMALL", "LOADER_WH:\n  size: MEDIUM")
    (head / "warehouse.yaml").write_text((head / "warehouse.yaml").read_text() + "\nNEW_WH:\n  size: XSMALL\n  resource_monitor: LOADER_MONITOR\n")
    plan = plan_to(head, example)
    by = {(s.action, s.object_type, s.object): s for s in plan.statements}
    alter = by[("ALTER", "WAREHOUSE", "LOADER_WH")]
    assert alter.sql == 'ALTER WAREHOUSE "LOADER_WH" SET\nWAREHOUSE_SIZE = \'MEDIUM\'' and not alter.unsafe
    assert by[("CREATE", "WAREHOUSE", "NEW_WH")].sql.startswith('CREATE WAREHOUSE "NEW_WH"\nWAREHOUSE_TYPE = \'STANDARD\'')
    monitor = next(s for s in plan.statements if "SET RESOURCE_MONITOR" in s.sql)
    assert monitor.unsafe and "--apply" in monitor.reason  # SnowDDL holds it back behind --apply-resource-monitor
    assert ("CREATE", "WAREHOUSE_ROLE", "NEW_WH__USAGE__W_ROLE") in by
    assert not any(s.object == "ANALYST_WH" for s in plan.statements)


def test_resource_monitor_changes_are_unsafe(head, example):
    edit(head / "resource_monitor.yaml", "credit_quota: 60", "credit_quota: 90")
    plan = plan_to(head, example)
    assert [(s.sql, s.action, s.object_type, s.object, s.unsafe) for s in plan.statements] == [
        ('ALTER RESOURCE MONITOR "LOADER_MONITOR" SET CREDIT_QUOTA = 90', "ALTER", "RESOURCE_MONITOR", "LOADER_MONITOR", True)
    ]


def test_databases_and_schemas(head, example):
    (head / "RAW" / "NETSUITE").mkdir()
    (head / "RAW" / "NETSUITE" / "params.yaml").write_text("comment: NetSuite\n")
    edit(head / "RAW" / "STRIPE" / "params.yaml", "comment: Stripe payments, refunds and payouts, synced hourly",
         "comment: Stripe")
    plan = plan_to(head, example)
    assert 'CREATE SCHEMA "RAW"."NETSUITE"\nWITH MANAGED ACCESS\nCOMMENT = \'NetSuite\'' in sqls(plan)
    assert 'ALTER SCHEMA "RAW"."STRIPE" SET COMMENT = \'Stripe\'' in sqls(plan)
    assert {s.object for s in plan.statements if s.action == "CREATE" and s.object_type == "SCHEMA_ROLE"} == {
        f"RAW__NETSUITE__{kind}__S_ROLE" for kind in ("READ", "WRITE", "OWNER")}
    # business roles reading RAW.* get the new schema's read role
    assert any(s.sql == 'GRANT ROLE "RAW__NETSUITE__READ__S_ROLE" TO ROLE "DBT_RUNNER__B_ROLE"' for s in plan.statements)


def test_dropping_a_database_is_one_unsafe_drop(tmp_path, example):
    base = tmp_path / "base"
    shutil.copytree(EXAMPLE, base)
    (base / "ARCHIVE" / "OLD_ORDERS").mkdir(parents=True)
    (base / "ARCHIVE" / "params.yaml").write_text("comment: Old data\n")
    (base / "ARCHIVE" / "OLD_ORDERS" / "params.yaml").write_text("comment: Orders before 2020\n")
    plan = plan_between(load_config(base), example)
    drops = [(s.sql, s.object_type, s.unsafe) for s in plan.statements if s.action == "DROP"]
    assert ('DROP DATABASE "ARCHIVE"', "DATABASE", True) in drops
    assert not any(t == "SCHEMA" for _, t, _ in drops)  # the schema goes with its database
    assert {sql for sql, t, _ in drops if t == "SCHEMA_ROLE"} == {
        f'DROP ROLE "ARCHIVE__OLD_ORDERS__{kind}__S_ROLE"' for kind in ("READ", "WRITE", "OWNER")}
    assert all(s.unsafe for s in plan.statements if s.action == "DROP")


def test_business_and_technical_role_grants(head, example):
    edit(head / "business_role.yaml", "    - CRM_READ\n    - SHOPIFY_READ", "    - SHOPIFY_READ")
    edit(head / "technical_role.yaml", "STRIPE_READ:\n  grants:\n    DATABASE:USAGE:\n      - RAW\n",
         "STRIPE_READ:\n  grants:\n    DATABASE:USAGE:\n      - RAW\n    WAREHOUSE:USAGE:\n      - LOADER_WH\n")
    plan = plan_to(head, example)
    assert [(s.sql, s.action, s.object_type, s.object, s.unsafe) for s in plan.statements] == [
        ('GRANT USAGE ON WAREHOUSE "LOADER_WH" TO ROLE "STRIPE_READ__T_ROLE"', "GRANT", "TECHNICAL_ROLE", "STRIPE_READ__T_ROLE", False),
        ('REVOKE ROLE "CRM_READ__T_ROLE" FROM ROLE "ANALYST__B_ROLE"', "REVOKE", "BUSINESS_ROLE", "ANALYST__B_ROLE", True),
    ]


def test_new_business_role(head, example):
    (head / "business_role.yaml").write_text((head / "business_role.yaml").read_text()
                                             + "\nAUDITOR:\n  schema_read:\n    - ANALYTICS.FINANCE\n  warehouse_usage:\n    - ANALYST_WH\n")
    plan = plan_to(head, example)
    assert sqls(plan) == [
        'CREATE ROLE "AUDITOR__B_ROLE"',
        'GRANT ROLE "AUDITOR__B_ROLE" TO ROLE "SNOWDDL_ADMIN"',
        'GRANT ROLE "ANALYTICS__FINANCE__READ__S_ROLE" TO ROLE "AUDITOR__B_ROLE"',
        'GRANT ROLE "ANALYST_WH__USAGE__W_ROLE" TO ROLE "AUDITOR__B_ROLE"',
    ]


def test_users_added_changed_and_removed(head, example):
    users = head / "user.yaml"
    edit(users, "  comment: Head of Data", "  comment: Chief Data Officer")
    users.write_text(users.read_text() + "\nNEW_GUY:\n  type: PERSON\n  first_name: New\n  last_name: Guy\n"
                     "  email: n@x.example\n  business_roles:\n    - ANALYST\n")
    text = users.read_text()
    start = text.index("\nMOKAFOR:")
    end = text.index("\n\n", start + 1)
    users.write_text(text[:start] + text[end:])
    plan = plan_to(head, example)
    by = {(s.action, s.object_type, s.object): s for s in plan.statements}
    assert by[("ALTER", "USER", "PRAMAN")].sql == 'ALTER USER "PRAMAN" SET\nCOMMENT = \'Chief Data Officer\''
    create = by[("CREATE", "USER", "NEW_GUY")]
    assert "FIRST_NAME = 'New'" in create.sql and 'DEFAULT_ROLE = "NEW_GUY__U_ROLE"' in create.sql and not create.unsafe
    assert 'GRANT ROLE "ANALYST__B_ROLE" TO ROLE "NEW_GUY__U_ROLE"' in sqls(plan)
    assert 'GRANT ROLE "NEW_GUY__U_ROLE" TO USER "NEW_GUY"' in sqls(plan)
    drop = by[("DROP", "USER", "MOKAFOR")]
    assert drop.sql == 'DROP USER "MOKAFOR"' and drop.unsafe
    assert by[("DROP", "USER_ROLE", "MOKAFOR__U_ROLE")].unsafe


def test_network_policy_changes_are_unsafe(head, example):
    edit(head / "network_policy.yaml", "    - 198.51.100.0/24\n", "")
    plan = plan_to(head, example)
    assert [(s.sql, s.object_type, s.unsafe) for s in plan.statements] == [
        ("ALTER NETWORK POLICY \"LOADER_ALLOWLIST\" SET ALLOWED_IP_LIST = ('203.0.113.0/24')", "NETWORK_POLICY", True)
    ]


def test_env_prefix_is_applied_to_names(head, example):
    (head / "user.yaml").write_text((head / "user.yaml").read_text() + "\nNEW_GUY:\n  business_roles:\n    - ANALYST\n")
    plan = plan_to(head, example, env_prefix="dev")
    assert any(s.sql.startswith('CREATE USER "DEV__NEW_GUY"') for s in plan.statements)
    assert 'GRANT ROLE "DEV__ANALYST__B_ROLE" TO ROLE "DEV__NEW_GUY__U_ROLE"' in sqls(plan)


def test_uncovered_types_are_listed_not_skipped_silently(example):
    assert plan_between(example, example).not_previewed == ["AUTHENTICATION_POLICY"]
    sample = load_config(next(p for p in SAMPLES if p.name == "sample02_01"))
    listed = plan_between(sample, sample).not_previewed
    assert {"TABLE", "VIEW", "STAGE", "MASKING_POLICY"} <= set(listed)


def test_an_invalid_head_gives_no_statements_and_says_why(head, example):
    (head / "user.yaml").write_text((head / "user.yaml").read_text() + "\nLOST:\n  business_roles: [NOBODY]\n")
    plan = plan_between(example, load_config(head))
    assert plan.statements == [] and "head config is invalid" in plan.errors[0]


def test_a_query_the_baseline_cannot_answer_fails_loudly(example):
    from core.snowddl.offline_engine import OfflineEngine

    engine = OfflineEngine(example.snowddl, Baseline())
    with pytest.raises(OfflineQueryError, match="SHOW TABLES"):
        engine.execute_meta("SHOW TABLES IN SCHEMA {name:i}", {"name": "X"})


def test_markdown_for_a_pr_comment(head, example):
    edit(head / "resource_monitor.yaml", "credit_quota: 60", "credit_quota: 90")
    edit(head / "warehouse.yaml", "LOADER_WH:\n  size: XSMALL", "LOADER_WH:\n  size: MEDIUM")
    md = render_markdown(plan_to(head, example))
    assert "2 statement(s): **2** ALTER · :warning: **1 unsafe**" in md
    table = [line for line in md.splitlines() if line.startswith("| ")][1:]
    assert table[0].startswith("| :warning: unsafe | ALTER | RESOURCE_MONITOR") and "WAREHOUSE" in table[1]
    assert "<details>" in md and "```sql" in md and "-- UNSAFE:" in md
    assert "`AUTHENTICATION_POLICY`" in md
    assert "No changes" in render_markdown(plan_between(example, example))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_plan_between_folders(capsys, head):
    edit(head / "warehouse.yaml", "LOADER_WH:\n  size: XSMALL", "LOADER_WH:\n  size: MEDIUM")
    code, out, _ = run(capsys, "plan", "--base", str(EXAMPLE), "--head", str(head), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [set(s) >= {"sql", "action", "object_type", "object", "unsafe"} for s in data["statements"]] == [True]
    assert data["statements"][0]["object"] == "LOADER_WH" and data["not_previewed"] == ["AUTHENTICATION_POLICY"]
    code, out, _ = run(capsys, "plan", "--base", str(EXAMPLE), "--head", str(head))
    assert code == 0 and "WAREHOUSE_SIZE = 'MEDIUM';" in out and "1 statement(s)" in out
    code, out, _ = run(capsys, "plan", "--base", str(EXAMPLE), "--head", str(head), "--format", "markdown")
    assert code == 0 and out.startswith("### SnowDDL plan (offline)")


def test_cli_plan_against_a_git_ref(capsys, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo / "snowddl")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env)
    edit(repo / "snowddl" / "resource_monitor.yaml", "credit_quota: 60", "credit_quota: 61")
    code, out, _ = run(capsys, "plan", "--base", "main", "--head", str(repo / "snowddl"), "--format", "json")
    assert code == 0
    assert [s["sql"] for s in json.loads(out)["statements"]] == ['ALTER RESOURCE MONITOR "LOADER_MONITOR" SET CREDIT_QUOTA = 61']
    code, _, err = run(capsys, "plan", "--base", "no-such-ref", "--head", str(repo / "snowddl"))
    assert code == 2 and "neither a folder nor a git ref" in err


def test_cli_plan_usage_errors(capsys, tmp_path, monkeypatch):
    assert run(capsys, "plan", "--head", str(EXAMPLE))[0] == 2  # no --base
    assert run(capsys, "plan", "--base", str(EXAMPLE), "--head", str(tmp_path / "missing"))[0] == 2
    for name in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "plan", "--live", "--head", str(EXAMPLE))
    assert code == 2 and "SNOWFLAKE_ACCOUNT" in err


@pytest.mark.skipif(not (os.environ.get("SNOWFLAKE_ACCOUNT") and os.environ.get("SNOWFLAKE_USER")
                         and (os.environ.get("SNOWFLAKE_PRIVATE_KEY_PATH") or os.environ.get("SNOWFLAKE_PRIVATE_KEY")
                              or os.environ.get("SNOWFLAKE_PASSWORD"))),
                    reason="needs Snowflake credentials (SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY_PATH)")
def test_live_plan_against_the_account(capsys):
    code, out, err = run(capsys, "plan", "--live", "--head", str(EXAMPLE), "--format", "json")
    data = json.loads(out)
    assert data["mode"] == "live"
    for s in data["statements"]:
        assert set(s) >= {"sql", "action", "object_type", "object", "unsafe"}
        if s["action"] in ("DROP", "REVOKE"):
            assert s["unsafe"]


def test_detaching_a_network_policy_from_a_user(head, example):
    edit(head / "user.yaml", "  network_policy: LOADER_ALLOWLIST\n", "")
    plan = plan_to(head, example)
    assert [(s.sql, s.object_type, s.object, s.unsafe) for s in plan.statements] == [
        ('ALTER USER "SVC_FIVETRAN" UNSET NETWORK_POLICY', "NETWORK_POLICY", "LOADER_ALLOWLIST", True)
    ]
