"""Recipe remove-warehouse: removes a warehouse nobody in the config uses (SnowDDL's parsed blueprints say who does),
flagged as a drop for the reviewer, with what it cost in the period as the saving; and the WAREHOUSE_UNUSED
recommendation's Fix that opens it."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.risk import risk_flags
from core.snowddl.inventory import describe, warehouse_references
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes
from recipes import RECIPES, FieldErrors
from recipes.remove_warehouse import REMOVE_NOTE
from tests.test_edit import changed_lines

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"
WHY = "Nobody has used it for a month; it only invites spend."
OLD_WH = "OLD_REPORTING_WH:\n  size: MEDIUM\n  auto_suspend: 60\n\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Snapshot:
    """The example config plus OLD_REPORTING_WH, which no user or role names."""
    folder = tmp_path_factory.mktemp("cfg") / "snowddl"
    import shutil

    shutil.copytree(EXAMPLE, folder)
    wh = folder / "warehouse.yaml"
    wh.write_text(wh.read_text() + "\n" + OLD_WH)
    return Snapshot(folder, None, load_config(folder))


def parse(base, **raw):
    return RECIPES["remove-warehouse"].parse({"justification": WHY, **raw}, base)


def test_an_unused_warehouse_is_removed_and_snowddl_accepts_the_rest(base):
    recipe = RECIPES["remove-warehouse"]
    changes = recipe.build(base, parse(base, name="old_reporting_wh"))
    rel = base.file("warehouse")
    assert set(changes.files) == {rel}
    removed, added = changed_lines(base.text(rel), changes.files[rel])
    assert [x for x in removed if x] == ["OLD_REPORTING_WH:", "  size: MEDIUM", "  auto_suspend: 60"] and added == []
    head = validate_with_changes(base, changes.files)
    assert head.validation.valid and "OLD_REPORTING_WH" not in head.warehouses
    assert changes.summary.startswith("Removes warehouse OLD_REPORTING_WH (Medium") and REMOVE_NOTE in changes.summary
    assert recipe.to_dict(parse(base, name="OLD_REPORTING_WH")) == {"name": "OLD_REPORTING_WH", "justification": WHY}


@pytest.mark.parametrize("name, named_by", [
    ("TRANSFORM_WH", "user PRAMAN (default_warehouse)"),
    ("BI_WH", "technical role WAREHOUSE_OPERATOR (grant MONITOR on WAREHOUSE BI_WH)"),
    ("LOADER_WH", "business role LOADER (warehouse_usage)"),
])
def test_a_warehouse_the_config_still_names_is_refused_with_who_names_it(base, name, named_by):
    with pytest.raises(FieldErrors) as err:
        parse(base, name=name)
    message = err.value.by_field()["name"]
    assert message.startswith(f"{name} is still used in the config: ") and named_by in message
    assert named_by in warehouse_references(base.config, name)


def test_bad_input_changes_nothing(base):
    for raw, field in (({"name": "NO_SUCH_WH"}, "name"), ({"name": "OLD_REPORTING_WH", "justification": ""}, "justification"),
                       ({"name": "OLD_REPORTING_WH", "size": "LARGE"}, "size")):
        with pytest.raises(FieldErrors) as err:
            RECIPES["remove-warehouse"].parse({"justification": WHY, **raw}, base)
        assert field in err.value.by_field(), raw


def test_the_reviewer_sees_a_high_flag_on_the_removed_line_and_the_plan_drops_it(base, tmp_path):
    import shutil

    from core.snowddl.commit_snapshot import plan_changes

    changes = RECIPES["remove-warehouse"].build(base, parse(base, name="OLD_REPORTING_WH"))
    folder = tmp_path / "head"
    shutil.copytree(base.root, folder)
    for rel, text in changes.files.items():
        (folder / rel).write_text(text)
    head = Snapshot(folder, None, load_config(folder))
    plan = plan_changes(base, head.config)
    flags = risk_flags(base, head, plan)
    removed = [f for f in flags if f.kind == "warehouse_removed"]
    assert len(removed) == 1 and removed[0].level == "high" and "--apply-unsafe" in removed[0].message
    assert base.text(removed[0].path).splitlines()[removed[0].line - 1] == "OLD_REPORTING_WH:"
    drops = [s for s in plan.statements if s.action == "DROP"]
    # the warehouse and the two warehouse roles SnowDDL made for it (__USAGE__W_ROLE, __MONITOR__W_ROLE)
    assert sorted((s.object_type, s.object) for s in drops) == [
        ("WAREHOUSE", "OLD_REPORTING_WH"), ("WAREHOUSE_ROLE", "OLD_REPORTING_WH__MONITOR__W_ROLE"),
        ("WAREHOUSE_ROLE", "OLD_REPORTING_WH__USAGE__W_ROLE")]
    assert any(f.kind == "drop" and f.level == "high" for f in flags)


def test_describe_says_who_uses_each_warehouse(base):
    rows = {w["name"]: w for w in describe(base.config)["warehouses"]}
    assert rows["OLD_REPORTING_WH"]["used_by"] == []
    assert "user PRAMAN (default_warehouse)" in rows["TRANSFORM_WH"]["used_by"]


def _copy(tmp_path, extra: dict[str, str], env_prefix: str = "") -> Snapshot:
    import shutil

    folder = tmp_path / "snowddl"
    shutil.copytree(EXAMPLE, folder)
    wh = folder / "warehouse.yaml"
    wh.write_text(wh.read_text() + "\n" + OLD_WH)
    for rel, text in extra.items():
        path = folder / rel
        path.write_text((path.read_text() if path.exists() else "") + "\n" + text)
    return Snapshot(folder, None, load_config(folder, env_prefix=env_prefix))


@pytest.mark.parametrize("extra, named_by", [
    # a schema's owner role is granted USAGE on the warehouses in owner_warehouse_usage (a database's too, under
    # the database_owner ruleset; the example's permission model refuses it there)
    ({"ANALYTICS/MARTS/params.yaml": "owner_warehouse_usage: [OLD_REPORTING_WH]\n"}, "Schema ANALYTICS.MARTS (owner_warehouse_usage)"),
    # SnowDDL's IdentPattern: '|' joins sub-patterns, '!' excludes (snowddl/blueprint/ident_pattern.py)
    ({"technical_role.yaml": "OLD_OPS:\n  grants:\n    WAREHOUSE:USAGE:\n      - OLD_*|!NOTHING_WH\n"},
     "technical role OLD_OPS (grant USAGE on WAREHOUSE OLD_*|!NOTHING_WH)"),
])
def test_every_kind_of_reference_snowddl_knows_is_refused(tmp_path, extra, named_by):
    snap = _copy(tmp_path, extra)
    assert snap.config.snowddl is not None and snap.config.validation.valid, snap.config.validation
    with pytest.raises(FieldErrors) as err:
        parse(snap, name="OLD_REPORTING_WH")
    assert named_by in err.value.by_field()["name"]


def test_a_technical_role_grant_is_found_under_an_env_prefix(tmp_path):
    """SnowDDL matches a grant pattern against the name without the env prefix (IdentPattern.is_match_ident)."""
    snap = _copy(tmp_path, {"technical_role.yaml": "OLD_OPS:\n  grants:\n    WAREHOUSE:USAGE:\n      - OLD_REPORTING_WH\n"},
                 env_prefix="DEV")
    refs = warehouse_references(snap.config, "DEV__OLD_REPORTING_WH")
    assert refs == ["technical role DEV__OLD_OPS (grant USAGE on WAREHOUSE OLD_REPORTING_WH)"]


def test_under_an_env_prefix_a_warehouse_still_named_is_refused(tmp_path):
    """The recipe's field holds the name without the env prefix (LoadedConfig.warehouses); SnowDDL's blueprints carry
    it: a warehouse in use was once let through under a prefix, and the change broke the config."""
    snap = _copy(tmp_path, {}, env_prefix="DEV")
    assert "BI_WH" in snap.config.warehouses
    with pytest.raises(FieldErrors) as err:
        parse(snap, name="BI_WH")
    assert "user DEV__SVC_LOOKER (default_warehouse)" in err.value.by_field()["name"]
    assert warehouse_references(snap.config, "BI_WH") == warehouse_references(snap.config, "DEV__BI_WH")
    changes = RECIPES["remove-warehouse"].build(snap, parse(snap, name="OLD_REPORTING_WH"))
    assert validate_with_changes(snap, changes.files).validation.valid
