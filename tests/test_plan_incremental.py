"""The incremental plan (roles derived again only where their source or their lookups changed, unchanged
objects set aside) equals the full plan (every object derived and compared against its baseline rows),
and a baseline derived from the previous one equals one built from scratch: on the example config,
SnowDDL's sample configs, a generated tree, and every SnowDDL config below the team's shared real-world
cases (`../shared/cases` beside the repository, or SNOWTOWER_CASES=folder), each under generated changes
of every file it has."""
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
    """SnowDDL config folders below $SNOWTOWER_CASES, else below ../shared/cases beside the repository
    (any folder holding a config's root files); none when neither exists."""
    root = os.environ.get("SNOWTOWER_CASES") or EXAMPLE.parents[1] / "shared" / "cases"
    if not Path(root).is_dir():
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


@pytest.mark.parametrize("case", sorted({p.parent for p in _cases()}), ids=lambda p: p.name)
def test_incremental_plan_equals_full_plan_between_a_cases_configs(case):
    loaded = [c for c in (load_config(p) for p in _cases() if p.parent == case) if c.snowddl and c.validation.valid]
    for base in loaded:
        baseline = Baseline.from_config(base.snowddl)
        for head in loaded:
            assert (_statements(plan_offline(baseline, head.snowddl))
                    == _statements(plan_offline(baseline, head.snowddl, skip_unchanged=False))), (base.path, head.path)


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


# -- the baseline kept between processes ---------------------------------------------------------------

def _tree(tmp_path):
    return generate(tmp_path / "config", users=20, business_roles=10, technical_roles=5, warehouses=3, databases=13,
                    schemas=5)


def test_a_kept_baseline_reads_back_as_the_same_baseline_and_plans_the_same(tmp_path):
    from core.snowddl import baseline_cache

    tree = _tree(tmp_path)
    loaded = load_config(tree)
    built = Baseline.from_config(loaded.snowddl)
    path = baseline_cache.write(tmp_path / "cache", "a1b2c3d", built)
    assert path is not None and path.name == "a1b2c3d.json"
    back = baseline_cache.read(tmp_path / "cache", "a1b2c3d", loaded.snowddl)
    kept = {key for key in built.derived if key[0] in baseline_cache.KEPT}
    assert kept and set(back.derived) == kept
    assert all(back.derived[key][2] == built.derived[key][2] for key in kept)  # the same roles, grants and all
    again = Baseline.from_config(loaded.snowddl, previous=back)
    assert again.rows() == built.rows()
    assert all(again.derived[key][2] is back.derived[key][2] for key in kept)  # read, not derived again
    users = (tree / "user.yaml").read_text() + "\nNEW_ONE:\n  type: PERSON\n  business_roles:\n    - ROLE_0001\n"
    head = load_config(tree, overlay={"user.yaml": users})
    assert _statements(plan_offline(again, head.snowddl)) == _statements(plan_offline(built, head.snowddl))
    assert [(s.action, s.object) for s in plan_offline(again, head.snowddl).statements] == [
        ("CREATE", "NEW_ONE__U_ROLE"), ("GRANT", "NEW_ONE__U_ROLE"), ("GRANT", "NEW_ONE__U_ROLE"),
        ("CREATE", "NEW_ONE"), ("GRANT", "NEW_ONE")]


def test_a_kept_baseline_that_does_not_match_is_not_used(tmp_path):
    import json

    from core.snowddl import baseline_cache

    tree = _tree(tmp_path)
    loaded = load_config(tree)
    cache = tmp_path / "cache"
    path = baseline_cache.write(cache, "a1b2c3d", Baseline.from_config(loaded.snowddl))
    good = json.loads(path.read_text())
    assert baseline_cache.read(cache, "a1b2c3e", loaded.snowddl) is None  # another commit: no file
    assert baseline_cache.read(cache, "not a sha", loaded.snowddl) is None
    # each env prefix has its own file (DEV__ and DEV_ are different prefixes)
    assert len({baseline_cache.path_for(cache, "a1b2c3d", p) for p in ("", "DEV__", "DEV_", "DEV$")}) == 4
    with pytest.raises(ValueError):
        baseline_cache.path_for(cache, "a1b2c3d", "../x")
    bad = {
        "format": dict(good, format=99),
        "snowddl version": dict(good, snowddl="0.0.1"),
        "commit": dict(good, commit="ffffff0"),
        "env prefix": dict(good, env_prefix="DEV__"),
        "a source not in the config": dict(good, derived=[[*good["derived"][0][:2], "NO_SUCH_ROLE",
                                                            *good["derived"][0][3:]]]),
        "a class that is not SnowDDL's": dict(good, table=[{"$m": "Path", "v": {}}] + good["table"][1:]),
        "a reference forward": dict(good, table=[{"$t": [{"$r": 5}]}] + good["table"][1:]),
    }
    for label, body in bad.items():
        path.write_text(json.dumps(body))
        assert baseline_cache.read(cache, "a1b2c3d", loaded.snowddl) is None, label
    path.write_text(json.dumps(good)[:1000])  # cut short
    assert baseline_cache.read(cache, "a1b2c3d", loaded.snowddl) is None
    path.write_text(json.dumps(good))
    assert baseline_cache.read(cache, "a1b2c3d", loaded.snowddl) is not None


def test_a_snapshot_keeps_its_baseline_and_derives_the_next_commits_from_it(tmp_path, monkeypatch):
    from core.snowddl import baseline_cache, snapshot

    tree = _tree(tmp_path)
    cache = tmp_path / "cache"
    written = []
    monkeypatch.setattr(baseline_cache, "write_later", lambda *a: written.append(baseline_cache.write(*a)))
    monkeypatch.setattr(snapshot, "_last_baseline", [])
    first = Snapshot(tree, "a1b2c3d", load_config(tree), cache=cache)
    built = first.baseline()
    assert written == [baseline_cache.path_for(cache, "a1b2c3d", "")]
    # the next base commit differs by one file: derived from the last baseline, equal to one from scratch
    users = (tree / "user.yaml").read_text() + "\nNEW_ONE:\n  type: PERSON\n  business_roles:\n    - ROLE_0001\n"
    second = Snapshot(tree, "b1b2c3d", load_config(tree, overlay={"user.yaml": users}), cache=cache)
    derived = second.baseline()
    assert derived.rows() == Baseline.from_config(second.config.snowddl).rows()
    same = ("BusinessRoleResolver", "transform_blueprint", "ROLE_0001__B_ROLE")
    assert derived.derived[same][2] is built.derived[same][2]
    # a new process (nothing built yet) reads the commit's kept baseline instead of deriving its roles
    monkeypatch.setattr(snapshot, "_last_baseline", [])
    restarted = Snapshot(tree, "a1b2c3d", load_config(tree), cache=cache)
    calls = []
    monkeypatch.setattr(baseline_cache, "read", lambda *a, _read=baseline_cache.read: calls.append(1) or _read(*a))
    assert restarted.baseline().rows() == built.rows() and calls == [1]
    assert len(written) == 2  # the restarted process found its file: nothing written again
