"""The incremental plan (roles derived again only where their source or their lookups changed, unchanged
objects set aside) equals the full plan (every object derived and compared against its baseline rows),
and a baseline derived from the previous one equals one built from scratch: on the example config,
SnowDDL's sample configs, a generated tree, and (with SNOWTOWER_CASES=folder) every SnowDDL config below
that folder, each under generated changes of every file it has."""
import os
import re
from pathlib import Path

import pytest
import snowddl

from benchmarks.generate import generate
from core.snowddl.load import load_config
from core.snowddl.plan import Baseline, plan_offline
from core.snowddl.snapshot import Snapshot, validate_with_changes

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"
SAMPLES = sorted(p for p in (Path(snowddl.__file__).parent / "_config").iterdir() if p.is_dir())
_ENTRY = re.compile(r"^([A-Za-z0-9_$]+):", re.M)


def _cases() -> list[Path]:
    """SnowDDL config folders below $SNOWTOWER_CASES (any folder holding a config's root files)."""
    root = os.environ.get("SNOWTOWER_CASES")
    if not root:
        return []
    marks = ("user", "business_role", "warehouse", "technical_role", "tech_role", "network_policy")
    return sorted({p.parent for p in Path(root).rglob("*.y*ml")
                   if p.stem.lower() in marks and not any(part.startswith(".") for part in p.parts)})


def _variants(root: Path) -> list[tuple[str, dict]]:
    """Changes of every file: its first entry removed, a copy of it added under a new name, its first
    entry's last line removed (a changed object), and for the first few params.yaml another comment."""
    out, params = [], 0
    for path in sorted(root.rglob("*.y*ml")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("__", ".")) or "/." in rel:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        if path.stem.lower() == "params":
            params += 1
            if params > 4:  # a database's and a few schemas' params.yaml (a generated tree has hundreds)
                continue
            out.append((f"{rel}: comment", {rel: re.sub(r"(?m)^comment:.*$", "", text) + "\ncomment: changed by a test\n"}))
            continue
        starts = [m.start() for m in _ENTRY.finditer(text)]
        if not starts:
            continue
        end = starts[1] if len(starts) > 1 else len(text)
        entry = text[starts[0]:end]
        name = _ENTRY.match(entry).group(1)
        out.append((f"{rel}: {name} removed", {rel: text[:starts[0]] + text[end:]}))
        copy = entry.replace(name, f"{name}_COPY", 1)
        out.append((f"{rel}: {name} copied", {rel: text.rstrip("\n") + "\n\n" + copy.rstrip("\n") + "\n"}))
        lines = entry.rstrip("\n").split("\n")
        if len(lines) > 2:
            changed = "\n".join(lines[:-1]) + "\n"
            out.append((f"{rel}: {name} changed", {rel: text[:starts[0]] + changed + text[end:]}))
    return out


def _statements(plan) -> list[dict]:
    return [s.to_dict() for s in plan.statements]


def _check_config(root: Path, env_prefix: str = "") -> int:
    base = Snapshot(root, None, load_config(root, env_prefix))
    if base.config.snowddl is None or not base.config.validation.valid:
        return 0
    baseline = Baseline.from_config(base.config.snowddl)
    compared = 0
    for label, files in _variants(root):
        loaded_apart = load_config(root, env_prefix, overlay=files)  # fresh blueprints: equality path
        revalidated = validate_with_changes(base, files, env_prefix)  # the base's objects: identity path
        for head in (loaded_apart, revalidated):
            if head.snowddl is None or not head.validation.valid:
                continue
            incremental = plan_offline(baseline, head.snowddl)
            full = plan_offline(baseline, head.snowddl, skip_unchanged=False)  # every object compared
            assert _statements(incremental) == _statements(full), (root.name, label)
            assert incremental.errors == full.errors, (root.name, label)
            derived = Baseline.from_config(head.snowddl, previous=baseline)
            assert derived.rows() == Baseline.from_config(head.snowddl).rows(), (root.name, label)
            if head is loaded_apart:
                continue
            # and the derived baseline plans as the scratch one does (back to the base, say)
            assert (_statements(plan_offline(derived, base.config.snowddl))
                    == _statements(plan_offline(derived, base.config.snowddl, skip_unchanged=False))), (root.name, label)
            compared += 1
    return compared


@pytest.mark.parametrize("root", [EXAMPLE] + SAMPLES, ids=lambda p: p.name)
def test_incremental_plan_equals_full_plan_on_every_change_of_every_file(root):
    assert _check_config(root) > 0


def test_incremental_plan_equals_full_plan_with_an_env_prefix():
    assert _check_config(EXAMPLE, "dev") > 0


def test_incremental_plan_equals_full_plan_on_a_generated_tree(tmp_path):
    tree = generate(tmp_path / "config", users=30, business_roles=12, technical_roles=8, warehouses=5, databases=13,
                    schemas=5)
    assert _check_config(tree) > 0


@pytest.mark.parametrize("root", _cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_incremental_plan_equals_full_plan_on_shared_cases(root):
    _check_config(root)  # invalid configs have no plan to compare


def test_a_changed_schema_rederives_only_the_roles_that_look_it_up(tmp_path):
    tree = generate(tmp_path / "config", users=20, business_roles=10, technical_roles=5, warehouses=3, databases=13,
                    schemas=5)
    base = Snapshot(tree, None, load_config(tree))
    baseline = base.baseline()
    rel = "DB_001/SCH_1/params.yaml"
    head = validate_with_changes(base, {rel: base.text(rel) + "retention_time: 9\n"})
    derived = Baseline.from_config(head.snowddl, previous=baseline)
    same = {key for key, entry in derived.derived.items() if baseline.derived.get(key, (None, None, None))[2] is entry[2]}
    again = set(derived.derived) - same
    # the schema's own access roles and the business / technical roles whose patterns name it
    assert ("SchemaReadRoleResolver", "get_blueprint_read_role", "DB_001.SCH_1") in again
    assert all(key[0] != "UserRoleResolver" for key in again)  # no user role looks a schema up
    assert ("SchemaReadRoleResolver", "get_blueprint_read_role", "DB_000.SCH_0") in same
    plan = plan_offline(derived, head.snowddl)
    assert plan.statements == []
    plan = plan_offline(baseline, head.snowddl)
    assert [(s.action, s.object_type, s.object) for s in plan.statements] == [("ALTER", "SCHEMA", "DB_001.SCH_1")]
