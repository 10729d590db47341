"""Config hygiene from the YAML alone: each check on a config with a known answer, and the CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.findings.hygiene import hygiene
from core.snowddl.config_loader import load_config
from portal.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config(tmp_path):
    """A copy of the example config; `edit(file, old, new)` changes one of its files."""
    root = tmp_path / "snowddl"
    shutil.copytree(ROOT / "snowddl", root)

    def edit(rel: str, old: str, new: str) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return root, edit


def codes(root: Path) -> list[tuple[str, str]]:
    return [(f.code, f.object) for f in hygiene(load_config(root))]


def test_the_example_config_has_one_finding_bi_wh_without_a_monitor():
    found = hygiene(load_config(ROOT / "snowddl"))
    assert [(f.code, f.object, f.severity) for f in found] == [("WAREHOUSE_NO_MONITOR", "BI_WH", "medium")]
    assert found[0].fix.recipe == "change-warehouse" and found[0].fix.fields["name"] == "BI_WH"


def test_a_clean_config_has_no_findings(config):
    root, edit = config
    edit("warehouse.yaml", "  scaling_policy: ECONOMY\n", "  scaling_policy: ECONOMY\n  resource_monitor: ANALYST_MONITOR\n")
    assert codes(root) == []
    assert main(["hygiene", str(root)]) == 0


def test_auto_suspend_missing_zero_and_long(config):
    root, edit = config
    edit("warehouse.yaml", "  size: XSMALL\n  auto_suspend: 60\n", "  size: XSMALL\n  auto_suspend: 0\n")  # LOADER_WH
    edit("warehouse.yaml", "  auto_suspend: 120\n", "  auto_suspend: 3600\n")  # ANALYST_WH
    found = codes(root)
    assert ("WAREHOUSE_NO_AUTO_SUSPEND", "LOADER_WH") in found
    assert ("WAREHOUSE_LONG_AUTO_SUSPEND", "ANALYST_WH") in found
    assert ("WAREHOUSE_LONG_AUTO_SUSPEND", "BI_WH") not in found  # 300 s is within the default 600
    lower = [(f.code, f.object) for f in hygiene(load_config(root), long_auto_suspend=200)]
    assert ("WAREHOUSE_LONG_AUTO_SUSPEND", "BI_WH") in lower


def test_a_development_warehouse_above_xsmall(config):
    root, edit = config
    edit("warehouse.yaml", "DATA_SCIENCE_WH:\n", "DEV_SANDBOX_WH:\n  size: SMALL\n  auto_suspend: 60\n"
         "  resource_monitor: DATA_SCIENCE_MONITOR\n\nTINY_DEV_WH:\n  size: XSMALL\n  auto_suspend: 60\n"
         "  resource_monitor: DATA_SCIENCE_MONITOR\n\nDATA_SCIENCE_WH:\n")
    found = codes(root)
    assert ("DEV_WAREHOUSE_TOO_LARGE", "DEV_SANDBOX_WH") in found
    assert not [f for f in found if f[0] == "DEV_WAREHOUSE_TOO_LARGE" and f[1] != "DEV_SANDBOX_WH"]
    assert ("WAREHOUSE_NO_MONITOR", "DEV_SANDBOX_WH") not in found


def test_passwords_roles_and_admin_grants(config):
    root, edit = config
    edit("user.yaml", "SVC_LOOKER:\n  type: SERVICE\n", "SVC_LOOKER:\n  type: LEGACY_SERVICE\n  password: Sup3r-secret-pass!\n")
    edit("user.yaml", "  comment: Marketing Analyst\n", "  comment: Marketing Analyst\n  password: An0ther-secret-pass!\n")
    # DPRICE: a password and no key
    text = (root / "user.yaml").read_text()
    start = text.index("DPRICE:")
    key_line = next(line for line in text[start:].splitlines() if line.startswith("  rsa_public_key:"))
    edit("user.yaml", key_line + "\n", "")
    edit("user.yaml", "  business_roles:\n    - FINANCE_ANALYST\n  default_warehouse: ANALYST_WH\n  comment: FP&A Analyst\n",
         "  default_warehouse: ANALYST_WH\n  comment: FP&A Analyst\n")  # LMURPHY: no business role
    edit("business_role.yaml", "  comment: Own the churn project database and a data science sandbox\n",
         "  comment: Own the churn project database and a data science sandbox\n\nPLATFORM_ADMIN:\n"
         "  global_roles:\n    - SYSADMIN\n  comment: Platform administration\n\nNOBODY:\n  warehouse_usage:\n    - ANALYST_WH\n")
    edit("user.yaml", "    - DATA_ENGINEER\n  default_warehouse: TRANSFORM_WH\n  comment: Senior Data Engineer\n",
         "    - DATA_ENGINEER\n    - PLATFORM_ADMIN\n  default_warehouse: TRANSFORM_WH\n  comment: Senior Data Engineer\n")
    found = hygiene(load_config(root))
    by = {(f.code, f.object): f for f in found}
    assert set(by) == {
        ("WAREHOUSE_NO_MONITOR", "BI_WH"), ("LEGACY_SERVICE_USER_PASSWORD", "SVC_LOOKER"), ("PERSON_PASSWORD_NO_KEY", "DPRICE"),
        ("USER_NO_BUSINESS_ROLE", "LMURPHY"), ("BUSINESS_ROLE_UNUSED", "NOBODY"), ("ADMIN_ROLE_GRANT", "MOKAFOR"),
    }
    assert by[("ADMIN_ROLE_GRANT", "MOKAFOR")].fix.fields["business_roles"] == ["PLATFORM_ADMIN"]
    assert "SYSADMIN" in by[("ADMIN_ROLE_GRANT", "MOKAFOR")].message
    assert by[("LEGACY_SERVICE_USER_PASSWORD", "SVC_LOOKER")].fix.recipe == "remove-password"
    assert by[("BUSINESS_ROLE_UNUSED", "NOBODY")].fix is None
    assert [f.severity for f in found][:2] == ["high", "high"]  # most severe first
    assert "Sup3r" not in json.dumps([f.to_dict() for f in found])  # a password never appears in a finding


def test_cli_json_and_exit_codes(config, capsys):
    root, _ = config
    assert main(["hygiene", str(root), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["clean"] is False
    assert [(f["code"], f["object"], f["fix"]["recipe"]) for f in out["findings"]] == [("WAREHOUSE_NO_MONITOR", "BI_WH", "change-warehouse")]
    assert main(["hygiene", str(root / "missing")]) == 2
    assert main(["hygiene", str(root), "--format", "xml"]) == 2
    assert main(["hygiene", str(root), "--long-auto-suspend", "0"]) == 2



def test_a_legacy_service_user_with_a_password_and_no_key_is_told_to_get_a_key_first(tmp_path):
    root = tmp_path / "snowddl"
    shutil.copytree(ROOT / "snowddl", root)
    text = (root / "user.yaml").read_text()
    start = text.index("SVC_LOOKER:\n")
    key = text.index("  rsa_public_key:", start)
    text = text[:key] + text[text.index("\n", key) + 1:]  # no key pair
    text = text.replace("SVC_LOOKER:\n  type: SERVICE\n", "SVC_LOOKER:\n  type: LEGACY_SERVICE\n  password: Sup3r-secret-pass!\n")
    (root / "user.yaml").write_text(text)
    found = {(f.code, f.object): f for f in hygiene(load_config(root))}
    finding = found[("LEGACY_SERVICE_USER_PASSWORD", "SVC_LOOKER")]
    assert finding.fix.recipe == "rotate-key" and not finding.fix.complete
    assert "then remove the password (remove-password)" in finding.message
    # a SERVICE user never gets the rule (SnowDDL refuses its password): the old rule could never fire
    assert not any(code.startswith("SERVICE_USER") for code, _ in found)
