"""Risk flags (core/risk/): each one planted in a copy of the example config, found with the line
that causes it (and that line's text), and not raised where the change is harmless."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.risk import PLAN_PATH, level_of, risk_flags, size_rank
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, plan_changes

EXAMPLE = Path(__file__).resolve().parent.parent / "snowddl"


def _snapshot(root: Path) -> Snapshot:
    loaded = load_config(root)
    assert loaded.validation.valid, loaded.validation.errors
    return Snapshot(root.resolve(), None, loaded)


@pytest.fixture
def configs(tmp_path):
    """(base folder, head folder): two copies of the example config; tests edit either."""
    base, head = tmp_path / "base", tmp_path / "head"
    shutil.copytree(EXAMPLE, base)
    shutil.copytree(EXAMPLE, head)
    return base, head


def edit(folder: Path, rel: str, old: str, new: str) -> None:
    path = folder / rel
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def append(folder: Path, rel: str, text: str) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.is_file() else "") + text)


def line_of(folder: Path, rel: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line equal to `needle` (after the line equal to `after`)."""
    lines = (folder / rel).read_text().split("\n")
    start = lines.index(after) if after else 0
    return lines.index(needle, start) + 1


def flags_of(base: Path, head: Path, **kwargs):
    b, h = _snapshot(base), _snapshot(head)
    return risk_flags(b, h, plan_changes(b, h.config), **kwargs)


def only(flags, kind):
    found = [f for f in flags if f.kind == kind]
    assert found, f"no {kind} flag in {flags}"
    return found


NEW_USER = """
JNEW:
  type: PERSON
  first_name: Jo
  last_name: New
  email: jo.new@cascaderidge.example
  business_roles:
    - {role}
  default_warehouse: ANALYST_WH
"""


def test_an_admin_role_given_to_a_business_role_is_flagged_on_its_global_roles_line(configs):
    base, head = configs
    edit(head, "business_role.yaml", "ANALYST:\n", "ANALYST:\n  global_roles:\n    - SYSADMIN\n")
    [flag] = only(flags_of(base, head), "admin_role")
    assert (flag.level, flag.path, flag.text) == ("high", "business_role.yaml", "    - SYSADMIN")
    assert flag.line == line_of(head, "business_role.yaml", "    - SYSADMIN")
    assert "business role ANALYST is granted SYSADMIN" in flag.message
    assert "users who gain it" in flag.message  # ANALYST has holders in the example


def test_an_admin_role_reached_through_the_hierarchy_is_flagged_on_the_users_grant(configs):
    base, head = configs
    for folder in configs:  # both sides: ADMINS already holds ACCOUNTADMIN
        append(folder, "business_role.yaml", "\nADMINS:\n  global_roles:\n    - ACCOUNTADMIN\n")
    append(head, "user.yaml", NEW_USER.format(role="ADMINS"))
    [flag] = only(flags_of(base, head), "admin_role")
    assert flag.path == "user.yaml" and flag.text == "    - ADMINS"
    assert flag.line == line_of(head, "user.yaml", "    - ADMINS", after="JNEW:")
    assert "user JNEW is granted ACCOUNTADMIN through business role ADMINS" in flag.message


def test_ordinary_grants_raise_no_admin_flag(configs):
    base, head = configs
    append(head, "user.yaml", NEW_USER.format(role="ANALYST"))
    assert not [f for f in flags_of(base, head) if f.kind == "admin_role"]


def test_database_ownership_given_to_a_business_role_is_flagged(configs):
    base, head = configs
    edit(head, "business_role.yaml", "ANALYST:\n", "ANALYST:\n  database_owner:\n    - RAW\n")
    [flag] = only(flags_of(base, head), "ownership")
    assert (flag.path, flag.text, flag.level) == ("business_role.yaml", "    - RAW", "medium")
    assert flag.line == line_of(head, "business_role.yaml", "    - RAW", after="ANALYST:")


def test_drop_and_revoke_statements_are_flagged_with_their_plan_statement(configs):
    base, head = configs
    # A warehouse only the base has (DROP) and one business role taken from a user (REVOKE).
    append(base, "warehouse.yaml", "\nOLD_WH:\n  size: XSMALL\n  auto_suspend: 60\n")
    edit(head, "user.yaml", "    - DATA_ENGINEER\n    - ANALYTICS_ENGINEER\n", "    - DATA_ENGINEER\n")
    b, h = _snapshot(base), _snapshot(head)
    plan = plan_changes(b, h.config)
    flags = risk_flags(b, h, plan)
    drops, revokes = only(flags, "drop"), only(flags, "revoke")
    for flag in drops + revokes:
        statement = plan.statements[flag.line - 1]
        assert flag.path == PLAN_PATH and flag.text == " ".join(statement.sql.split())
        assert statement.action == flag.kind.upper()
    assert any("OLD_WH" in f.text and f.level == "high" for f in drops)
    assert any("ANALYTICS_ENGINEER__B_ROLE" in f.text and f.level == "medium" for f in revokes)


def test_network_policy_changes_and_attachments_are_flagged(configs):
    base, head = configs
    edit(head, "network_policy.yaml", "    - 198.51.100.0/24\n", "    - 0.0.0.0/0\n")
    edit(head, "user.yaml", "  comment: Head of Data\n", "  comment: Head of Data\n  network_policy: LOADER_ALLOWLIST\n")
    flags = only(flags_of(base, head), "policy")
    changed = next(f for f in flags if f.path == "network_policy.yaml")
    assert changed.line == line_of(head, "network_policy.yaml", "LOADER_ALLOWLIST:") and changed.text == "LOADER_ALLOWLIST:"
    attached = next(f for f in flags if f.path == "user.yaml")
    assert attached.text == "  network_policy: LOADER_ALLOWLIST"
    assert attached.line == line_of(head, "user.yaml", "  network_policy: LOADER_ALLOWLIST")
    assert "PRAMAN" in attached.message and "none -> LOADER_ALLOWLIST" in attached.message


MFA_POLICY = "mfa_enrollment: {enrollment}\nauthentication_methods:\n  - PASSWORD\n  - KEYPAIR\n"


def test_a_person_without_an_mfa_policy_is_flagged_and_one_with_it_is_not(configs):
    base, head = configs
    append(head, "user.yaml", NEW_USER.format(role="ANALYST"))
    [flag] = only(flags_of(base, head), "no_mfa")
    assert (flag.path, flag.text, flag.level) == ("user.yaml", "JNEW:", "medium")
    assert flag.line == line_of(head, "user.yaml", "JNEW:")

    for folder in configs:
        append(folder, "RAW/STRIPE/authentication_policy/mfa_required.yaml", MFA_POLICY.format(enrollment="REQUIRED"))
    edit(head, "user.yaml", "JNEW:\n", "JNEW:\n  authentication_policy: RAW.STRIPE.MFA_REQUIRED\n")
    assert not [f for f in flags_of(base, head) if f.kind == "no_mfa"]


def test_an_optional_mfa_policy_does_not_count_and_the_new_policy_is_flagged(configs):
    base, head = configs
    append(head, "RAW/STRIPE/authentication_policy/mfa_optional.yaml", MFA_POLICY.format(enrollment="OPTIONAL"))
    append(head, "user.yaml", NEW_USER.format(role="ANALYST").replace("JNEW:\n", "JNEW:\n  authentication_policy: RAW.STRIPE.MFA_OPTIONAL\n"))
    flags = flags_of(base, head)
    assert only(flags, "no_mfa")[0].line == line_of(head, "user.yaml", "JNEW:")
    added = next(f for f in only(flags, "policy") if "added" in f.message)
    assert (added.path, added.line, added.text) == ("RAW/STRIPE/authentication_policy/mfa_optional.yaml", 1, "mfa_enrollment: OPTIONAL")


def test_a_service_user_with_a_password_is_flagged_on_the_password_line(configs):
    base, head = configs
    append(head, "user.yaml", "\nSVC_LEGACY:\n  type: LEGACY_SERVICE\n  password: not-a-real-secret-1\n  business_roles:\n    - ANALYST\n")
    [flag] = only(flags_of(base, head), "service_password")
    assert (flag.path, flag.text, flag.level) == ("user.yaml", "  password: not-a-real-secret-1", "high")
    assert flag.line == line_of(head, "user.yaml", "  password: not-a-real-secret-1")


@pytest.mark.parametrize("size, threshold, flagged", [("XLARGE", "LARGE", True), ("LARGE", "LARGE", False),
                                                      ("LARGE", "MEDIUM", True), ("X-Large", "x-large", False)])
def test_warehouses_above_the_threshold_are_flagged_on_the_size_line(configs, size, threshold, flagged):
    base, head = configs
    append(head, "warehouse.yaml", f"\nBIG_WH:\n  size: {size}\n  auto_suspend: 60\n")
    flags = [f for f in flags_of(base, head, warehouse_size_threshold=threshold) if f.kind == "warehouse_size"]
    if not flagged:
        assert flags == []
        return
    [flag] = flags
    assert (flag.path, flag.text) == ("warehouse.yaml", f"  size: {size}")
    assert flag.line == line_of(head, "warehouse.yaml", f"  size: {size}", after="BIG_WH:")


def test_more_clusters_and_snowpark_optimized_warehouses_are_flagged_on_their_lines(configs):
    base, head = configs
    append(head, "warehouse.yaml", "\nBURST_WH:\n  size: XSMALL\n  min_cluster_count: 1\n  max_cluster_count: 6\n"
                                   "\nSP_WH:\n  type: SNOWPARK-OPTIMIZED\n  size: MEDIUM\n  resource_constraint: MEMORY_16X\n")
    flags = flags_of(base, head)
    [clusters] = only(flags, "warehouse_clusters")
    assert (clusters.path, clusters.text, clusters.level) == ("warehouse.yaml", "  max_cluster_count: 6", "medium")
    assert clusters.line == line_of(head, "warehouse.yaml", "  max_cluster_count: 6", after="BURST_WH:")
    assert "6 clusters" in clusters.message and "BURST_WH" in clusters.message
    [snowpark] = only(flags, "warehouse_type")
    assert (snowpark.path, snowpark.text) == ("warehouse.yaml", "  type: SNOWPARK-OPTIMIZED")
    assert snowpark.line == line_of(head, "warehouse.yaml", "  type: SNOWPARK-OPTIMIZED", after="SP_WH:")
    assert not [f for f in flags if f.kind == "warehouse_size"]  # XSMALL and MEDIUM are under LARGE


def test_a_warehouse_whose_multipliers_do_not_go_up_is_not_flagged(configs):
    base, head = configs
    append(base, "warehouse.yaml", "\nBURST_WH:\n  size: XSMALL\n  max_cluster_count: 6\n")
    append(head, "warehouse.yaml", "\nBURST_WH:\n  size: XSMALL\n  max_cluster_count: 4\n")  # fewer clusters
    assert not [f for f in flags_of(base, head) if f.kind in ("warehouse_clusters", "warehouse_type")]


def test_an_unknown_threshold_is_refused():
    with pytest.raises(ValueError, match="unknown warehouse size"):
        size_rank("HUGE")


def test_changes_to_the_reviewers_own_user_and_roles_are_flagged(configs):
    base, head = configs
    me = ["someone-else", "Priya.Raman@cascaderidge.example"]  # PRAMAN's email, in another case
    edit(head, "user.yaml", "  comment: Head of Data\n", "  comment: Head of Data (acting CTO)\n")
    [flag] = only(flags_of(base, head, reviewer=me), "own_access")
    assert (flag.path, flag.text, flag.line) == ("user.yaml", "PRAMAN:", line_of(head, "user.yaml", "PRAMAN:"))
    assert not [f for f in flags_of(base, head, reviewer=["approver"]) if f.kind == "own_access"]

    shutil.rmtree(head)
    shutil.copytree(base, head)
    edit(head, "business_role.yaml", "DATA_ENGINEER:\n", "DATA_ENGINEER:\n  global_roles:\n    - PUBLIC\n")
    [flag] = only(flags_of(base, head, reviewer=me), "own_access")
    assert (flag.path, flag.text) == ("business_role.yaml", "DATA_ENGINEER:")


def test_an_unchanged_config_has_no_flags_and_levels_rank(configs):
    base, head = configs
    flags = flags_of(base, head, reviewer=["priya.raman@cascaderidge.example"])
    assert flags == [] and level_of(flags) == "none"
    edit(head, "business_role.yaml", "ANALYST:\n", "ANALYST:\n  database_owner:\n    - RAW\n")
    assert level_of(flags_of(base, head)) == "medium"


def test_an_admin_role_given_to_a_schema_s_owner_role_in_its_params_file_is_flagged_on_that_line(configs):
    # Found by trying to hide a risk: DBT_RUNNER owns ANALYTICS.FINANCE (schema_owner), so SYSADMIN in that
    # schema's params.yaml (owner_global_roles) reaches SVC_DBT through a file no other check reads. The flag
    # was raised with no file or line ("config") and the raw role name.
    base, head = configs
    append(head, "ANALYTICS/FINANCE/params.yaml", "owner_global_roles:\n  - SYSADMIN\n")
    [flag] = only(flags_of(base, head), "admin_role")
    assert (flag.path, flag.text, flag.level) == ("ANALYTICS/FINANCE/params.yaml", "  - SYSADMIN", "high")
    assert flag.line == line_of(head, "ANALYTICS/FINANCE/params.yaml", "  - SYSADMIN")
    assert flag.message.startswith("the owner role of schema ANALYTICS.FINANCE is granted SYSADMIN")
    assert "SVC_DBT" in flag.message


def test_manage_grants_on_the_account_is_an_admin_flag_on_its_line_in_either_file(configs):
    # Found by trying to hide a risk: MANAGE GRANTS (what makes SECURITYADMIN an admin role) given to a
    # technical role (account_grants) or to a schema's owner role (owner_account_grants) raised no flag.
    base, head = configs
    edit(head, "technical_role.yaml", "STRIPE_READ:\n", "STRIPE_READ:\n  account_grants:\n    - MANAGE GRANTS\n")
    append(head, "ANALYTICS/FINANCE/params.yaml", "owner_account_grants:\n  - MANAGE GRANTS\n")
    flags = only(flags_of(base, head), "admin_role")
    assert sorted((f.path, f.line, f.text, f.level) for f in flags) == [
        ("ANALYTICS/FINANCE/params.yaml", line_of(head, "ANALYTICS/FINANCE/params.yaml", "  - MANAGE GRANTS"), "  - MANAGE GRANTS", "high"),
        ("technical_role.yaml", line_of(head, "technical_role.yaml", "    - MANAGE GRANTS"), "    - MANAGE GRANTS", "high")]
    assert any(f.message.startswith("technical role STRIPE_READ is granted MANAGE GRANTS") for f in flags)
    # Account privileges that grant nothing further (ACCOUNT_MONITOR's MONITOR USAGE in the example) raise none.
    edit(base, "technical_role.yaml", "STRIPE_READ:\n", "STRIPE_READ:\n  account_grants:\n    - MANAGE GRANTS\n")
    edit(head, "technical_role.yaml", "    - MANAGE GRANTS\n", "    - MANAGE GRANTS\n    - MONITOR USAGE\n")
    assert [f.path for f in only(flags_of(base, head), "admin_role")] == ["ANALYTICS/FINANCE/params.yaml"]


def test_a_network_rule_changed_in_its_own_file_flags_the_policy_that_lists_it_on_the_changed_line(configs):
    # Found by trying to hide a risk: LOADER_ALLOWLIST allows the addresses of network rule OFFICE; opening
    # the rule to 0.0.0.0/0 in its own file changed no line of the policy and raised no flag.
    base, head = configs
    rule = "ANALYTICS/GOVERNANCE/network_rule/office.yaml"
    for folder in configs:
        append(folder, rule, "type: IPV4\nmode: INGRESS\nvalue_list:\n  - 203.0.113.0/24\n")
        edit(folder, "network_policy.yaml", "  allowed_ip_list:\n    - 203.0.113.0/24\n    - 198.51.100.0/24\n",
             "  allowed_network_rule_list:\n    - ANALYTICS.GOVERNANCE.OFFICE\n")
    assert not [f for f in flags_of(base, head) if f.kind == "policy"]
    edit(head, rule, "  - 203.0.113.0/24\n", "  - 0.0.0.0/0\n")
    [flag] = only(flags_of(base, head), "policy")
    assert (flag.path, flag.line, flag.text, flag.level) == (rule, line_of(head, rule, "  - 0.0.0.0/0"), "  - 0.0.0.0/0", "high")
    assert "network policy LOADER_ALLOWLIST" in flag.message and "ANALYTICS.GOVERNANCE.OFFICE" in flag.message


@pytest.mark.parametrize("owned", ["ANALYTICS.FINANCE", "ANALYTICS.*"])
def test_an_admin_role_reached_by_owning_a_schema_is_flagged_on_the_schema_owner_line(configs, owned):
    # Found by trying to hide a risk: ANALYTICS.FINANCE's owner role already holds SYSADMIN (its params.yaml);
    # a business role that becomes its owner gains SYSADMIN, flagged on the role's first line ("ANALYST:"),
    # not on the schema_owner item that causes it.
    base, head = configs
    for folder in configs:
        append(folder, "ANALYTICS/FINANCE/params.yaml", "owner_global_roles:\n  - SYSADMIN\n")
    edit(head, "business_role.yaml", "ANALYST:\n", f"ANALYST:\n  schema_owner:\n    - {owned}\n")
    [flag] = only(flags_of(base, head), "admin_role")
    assert (flag.path, flag.text) == ("business_role.yaml", f"    - {owned}")
    assert flag.line == line_of(head, "business_role.yaml", f"    - {owned}", after="ANALYST:")
    assert flag.message.startswith("business role ANALYST is granted SYSADMIN through the owner role of schema ANALYTICS.FINANCE")
