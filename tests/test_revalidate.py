"""Re-validation on a loaded base (validate_with_changes) gives exactly what a full load of the changed
tree gives: errors, warnings, lines, names and SnowDDL's blueprints."""
import shutil
from pathlib import Path

import pytest
from snowddl.blueprint import UserBlueprint, WarehouseBlueprint

from benchmarks.generate import generate
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("gen") / "config", users=60, business_roles=20, technical_roles=10,
                    warehouses=6, databases=13, schemas=5)


@pytest.fixture(scope="module")
def base(tree) -> Snapshot:
    return Snapshot(tree, None, load_config(tree))


@pytest.fixture(scope="module")
def example() -> Snapshot:
    return Snapshot(EXAMPLE, None, load_config(EXAMPLE))


def _same(base: Snapshot, files: dict, env_prefix: str = ""):
    head = validate_with_changes(base, files, env_prefix)
    full = load_config(base.root, env_prefix, overlay=files)
    assert head.validation.to_dict() == full.validation.to_dict()
    for name in ("users", "business_roles", "technical_roles", "warehouses", "resource_monitors", "databases", "schemas"):
        assert getattr(head, name) == getattr(full, name), name
    if full.snowddl is None:
        assert head.snowddl is None
    else:
        assert list(head.snowddl.blueprints) == list(full.snowddl.blueprints)
        for cls, bps in full.snowddl.blueprints.items():
            assert list(head.snowddl.blueprints[cls]) == list(bps), cls
            assert list(head.snowddl.blueprints[cls].values()) == list(bps.values()), cls
    return head


def _append(base, rel, text):
    return {rel: base.text(rel) + text}


def test_a_user_added_changed_removed_and_a_broken_reference(base):
    users = base.text("user.yaml")
    head = _same(base, _append(base, "user.yaml", "\nNEW_ONE:\n  type: PERSON\n  business_roles:\n    - ROLE_0001\n"))
    assert head.validation.valid and "NEW_ONE" in head.users
    # the parsers of unchanged files were not run again: their blueprints are the base's very objects
    wh = WarehouseBlueprint
    assert all(a is b for a, b in zip(head.snowddl.blueprints[wh].values(), base.config.snowddl.blueprints[wh].values(), strict=True))
    # and only the new entry of user.yaml became a new blueprint
    old_users = base.config.snowddl.blueprints[UserBlueprint]
    new_users = [name for name, bp in head.snowddl.blueprints[UserBlueprint].items() if old_users.get(name) is not bp]
    assert new_users == ["NEW_ONE"]
    _same(base, {"user.yaml": users.replace("first_name:", "first_name: X", 1)})
    removed = users.replace("USER_00007:", "USER_00007_GONE:", 1)
    _same(base, {"user.yaml": removed})
    start = users.index("USER_00007:")
    end = users.index("\n# User 8", start)
    head = _same(base, {"user.yaml": users[:start] + users[end:]})
    assert "USER_00007" not in head.users
    head = _same(base, {"user.yaml": users.replace("- ROLE_", "- NO_SUCH_", 1)})
    assert [(e.kind, e.file) for e in head.validation.errors] == [("reference", "user.yaml")]
    head = _same(base, {"user.yaml": users.replace("default_warehouse: WH_", "default_warehouse: NOWH_", 2)})
    assert len(head.validation.errors) == 2
    head = _same(base, _append(base, "user.yaml", "\nBAD:\n  type: PERSON\n  nope: 1\n"))
    assert [e.kind for e in head.validation.errors] == ["schema"]
    head = _same(base, _append(base, "user.yaml", "\nBROKEN: [\n"))
    assert [e.kind for e in head.validation.errors] == ["yaml"]


def test_removing_a_business_role_users_reference_surfaces_their_errors(base):
    roles = base.text("business_role.yaml")
    start = roles.index("ROLE_0001:")
    end = roles.index("\n# Business role 2", start)
    head = _same(base, {"business_role.yaml": roles[:start] + roles[end:]})
    referencing = [u for u in base.config.snowddl.blueprints[UserBlueprint].values()
                   if any(str(r) == "ROLE_0001__B_ROLE" for r in u.business_roles)]
    assert referencing
    assert {e.object for e in head.validation.errors} >= {str(u.full_name) for u in referencing}
    assert "ROLE_0001" not in head.business_roles
    _same(base, {"business_role.yaml": roles.replace("- SCH_", "- NOPE_", 1).replace("DB_000.SCH_0", "DB_000.NOPE", 1)})
    _same(base, {"business_role.yaml": roles.replace("warehouse_usage:\n    - WH_", "warehouse_usage:\n    - WH_9", 1)})


def test_warehouse_and_params_changes(base):
    warehouses = base.text("warehouse.yaml")
    _same(base, {"warehouse.yaml": warehouses.replace("size: ", "size: HUGE_", 1)})
    head = _same(base, {"warehouse.yaml": warehouses.replace("WH_001:", "WH_001_RENAMED:", 1)})
    assert not head.validation.valid
    _same(base, {"warehouse.yaml": warehouses.replace("resource_monitor: MON_", "resource_monitor: NOMON_", 1)})
    _same(base, _append(base, "DB_001/SCH_1/params.yaml", "retention_time: 3\n"))
    _same(base, _append(base, "DB_001/SCH_1/params.yaml", "owner: X\n"))
    _same(base, _append(base, "DB_002/params.yaml", "is_transient: maybe\n"))
    _same(base, _append(base, "resource_monitor.yaml", "\nMON_X:\n  credit_quota: 5\n"))
    _same(base, {"user.yaml": base.text("user.yaml") + "\nNEW_TWO:\n  business_roles: [ROLE_0002]\n",
                 "warehouse.yaml": warehouses.replace("WH_002:", "WH_002_X:", 1)})


def test_structural_changes_fall_back_to_a_full_load(base):
    _same(base, {"DB_NEW/params.yaml": "comment: new\n", "DB_NEW/SCH_A/params.yaml": "comment: a\n"})
    _same(base, {"DB_NEW/params.yaml": "comment: new\n",
                 "business_role.yaml": base.text("business_role.yaml") + "\nNEW_ROLE:\n  schema_read: [DB_NEW.SCH_A]\n"})
    _same(base, {"DB_001/SCH_1/params.yaml": None})
    _same(base, {"placeholder.yaml": "x: 1\n"})
    _same(base, {"bad folder/params.yaml": "comment: x\n"})
    _same(base, {"user.yaml": base.text("user.yaml")}, env_prefix="dev")


def test_example_config_changes(example):
    users = example.text("user.yaml")
    _same(example, {"user.yaml": users + "\nGHOST:\n  business_roles: [NOBODY]\n"})
    _same(example, {"user.yaml": users + "\nNP_USER:\n  business_roles: [ANALYST]\n  network_policy: NOPE\n"})
    for rel in ("network_policy.yaml", "business_role.yaml", "technical_role.yaml", "warehouse.yaml"):
        text = example.text(rel)
        if text is None:
            continue
        first = text.split("\n")
        _same(example, {rel: text + "\n"})
        _same(example, {rel: "\n".join(line for line in first if not line.startswith(first[0][:3]) or line == first[0])})
        _same(example, {rel: text + "\nEXTRA_X:\n  bogus: 1\n"})
    for rel in sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("params.yaml"))[:3]:
        _same(example, {rel: example.text(rel) + "\ncomment: changed\n"})


def test_a_policy_that_becomes_valid_is_seen_by_the_users_that_reference_it(tmp_path):
    """Users referencing a policy that did not parse in the base fail in the base; fixing the policy
    file (user.yaml unchanged) must clear their errors, as a full load does."""
    config = tmp_path / "snowddl"
    shutil.copytree(EXAMPLE, config)
    policies = (config / "network_policy.yaml").read_text()
    (config / "network_policy.yaml").write_text(policies.replace("allowed_ip_list:", "allowed_ip_lists:"))
    base = Snapshot(config, None, load_config(config))
    assert not base.config.validation.valid
    head = _same(base, {"network_policy.yaml": policies})
    assert head.validation.valid
    _same(base, {"network_policy.yaml": policies + "\nOTHER_POLICY:\n  allowed_ip_list: [192.0.2.0/24]\n"})
    (config / "network_policy.yaml").write_text(policies)
    fixed = Snapshot(config, None, load_config(config))
    _same(fixed, {"network_policy.yaml": policies.replace("LOADER_ALLOWLIST:", "RENAMED_ALLOWLIST:")})
    _same(fixed, {"user.yaml": fixed.text("user.yaml").replace("network_policy: LOADER_ALLOWLIST", "network_policy: NOPE")})
    _same(fixed, {"user.yaml": fixed.text("user.yaml").replace("authentication_policy: ANALYTICS.GOVERNANCE.REQUIRE_KEYPAIR",
                                                               "authentication_policy: ANALYTICS.GOVERNANCE.NOPE")})


def test_default_warehouses_from_business_roles(tmp_path, base):
    config = tmp_path / "snowddl"
    shutil.copytree(EXAMPLE, config)
    users = config / "user.yaml"
    users.write_text("".join(line for line in users.read_text().splitlines(keepends=True) if "default_warehouse:" not in line))
    example = Snapshot(config, None, load_config(config))
    roles = example.text("business_role.yaml")
    head = _same(example, {"business_role.yaml": roles.replace("  warehouse_usage:\n    - ANALYST_WH\n",
                                                               "  warehouse_usage:\n    - NOWHERE_WH\n", 1)})
    assert any("NOWHERE_WH" in e.message and e.file == "user.yaml" for e in head.validation.errors)
    head = _same(example, {"business_role.yaml": roles.replace("  warehouse_usage:\n    - ANALYST_WH\n",
                                                               "  warehouse_usage:\n    - TRANSFORM_WH\n    - ANALYST_WH\n", 1)})
    # a business role change that leaves every default warehouse as it was: users are not rebuilt
    roles = base.text("business_role.yaml")
    head = _same(base, {"business_role.yaml": roles.replace("\nROLE_0002:\n  schema_read:\n",
                                                            "\nROLE_0002:\n  schema_read:\n    - DB_000.SCH_0\n", 1)})
    old_users = base.config.snowddl.blueprints[UserBlueprint]
    assert all(old_users[name] is bp for name, bp in head.snowddl.blueprints[UserBlueprint].items())


def test_a_broken_base_fixed_and_an_env_prefix(tmp_path):
    config = tmp_path / "snowddl"
    shutil.copytree(EXAMPLE, config)
    users = (config / "user.yaml").read_text()
    (config / "user.yaml").write_text(users + "\nBROKEN: [\n")
    (config / "warehouse.yaml").write_text((config / "warehouse.yaml").read_text() + "\nBAD_WH:\n  size: 12\n")
    base = Snapshot(config, None, load_config(config))
    assert {e.kind for e in base.config.validation.errors} >= {"yaml", "schema"}
    _same(base, {"user.yaml": users})
    _same(base, {"user.yaml": users, "warehouse.yaml": (EXAMPLE / "warehouse.yaml").read_text()})
    _same(base, {"warehouse.yaml": (EXAMPLE / "warehouse.yaml").read_text()})
    # a reference error of the base that a change elsewhere fixes
    (config / "user.yaml").write_text(users + "\nWAITING:\n  business_roles: [NEW_ROLE]\n")
    base = Snapshot(config, None, load_config(config))
    assert [e.object for e in base.config.validation.errors if e.kind == "reference"] == ["WAITING"]
    roles = (config / "business_role.yaml").read_text()
    head = _same(base, {"business_role.yaml": roles + "\nNEW_ROLE:\n  schema_read: [ANALYTICS.MARTS]\n"})
    assert not [e for e in head.validation.errors if e.kind == "reference"]
    prefixed = Snapshot(EXAMPLE, None, load_config(EXAMPLE, env_prefix="dev"))
    head = _same(prefixed, {"user.yaml": users + "\nGHOST:\n  business_roles: [NOBODY]\n"}, env_prefix="dev")
    assert [e.object for e in head.validation.errors] == ["GHOST"]
    _same(prefixed, {"business_role.yaml": (EXAMPLE / "business_role.yaml").read_text().replace("ANALYST:", "ANALYST_X:", 1)},
          env_prefix="dev")
