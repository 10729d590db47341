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
from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline
from core.snowddl.plan import plan_offline
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes

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


class _Plans:
    """The incremental plan equals the full plan, and a baseline derived from the previous one equals one
    built from scratch, for one config (`base`, its own load) and each changed one."""

    def __init__(self, root: Path, env_prefix: str):
        self.root, self.env_prefix, self.compared = root, env_prefix, 0
        self.base = Snapshot(root, None, load_config(root, env_prefix))
        self.valid = self.base.config.snowddl is not None and self.base.config.validation.valid
        self.baseline = Baseline.from_config(self.base.config.snowddl) if self.valid else None

    def check(self, label: str, files: dict, loaded_apart, scratch_rows) -> None:
        """`loaded_apart`: load_config(root, env_prefix, overlay=files), fresh blueprints (the equality
        path); `scratch_rows()`: Baseline.from_config(loaded_apart.snowddl).rows(), built once."""
        root, baseline, base = self.root, self.baseline, self.base
        revalidated = validate_with_changes(base, files, self.env_prefix)  # the base's objects: identity path
        for head in (loaded_apart, revalidated):
            if head.snowddl is None or not head.validation.valid:
                continue
            incremental = plan_offline(baseline, head.snowddl)
            full = plan_offline(baseline, head.snowddl, skip_unchanged=False)  # every object compared
            assert _statements(incremental) == _statements(full), (root.name, label)
            assert incremental.errors == full.errors, (root.name, label)
            derived = Baseline.from_config(head.snowddl, previous=baseline)
            scratch = scratch_rows() if head is loaded_apart else Baseline.from_config(head.snowddl).rows()
            assert derived.rows() == scratch, (root.name, label)
            if head is loaded_apart:
                continue
            # and the derived baseline plans as the scratch one does (back to the base, say)
            assert (_statements(plan_offline(derived, base.config.snowddl))
                    == _statements(plan_offline(derived, base.config.snowddl, skip_unchanged=False))), (root.name, label)
            self.compared += 1


class _Kept:
    """A baseline written to the cache and read back derives, for the same config and for every changed
    one, the baseline built from scratch (same rows), and plans as the full plan does. Its own load of
    the config (`base`) and its own baseline built from scratch (`built`), as a process that kept it."""

    def __init__(self, root: Path, cache: Path, env_prefix: str):
        from core.snowddl import baseline_cache
        from core.snowddl.baseline_cache import KeptRole

        self.root, self.cache, self.compared = root, cache, 0
        self.base = Snapshot(root, None, load_config(root, env_prefix))
        self.valid = self.base.config.snowddl is not None and self.base.config.validation.valid
        if not self.valid:
            return
        self.built = Baseline.from_config(self.base.config.snowddl)
        assert baseline_cache.write(cache, SHA, self.built) is not None
        # the same config first: every kept role is reused, none derived again
        head = self.base.config
        kept, derived = self._derive(head)
        assert derived.rows() == self.built.rows(), (root.name, "same config")  # built: from this very config
        assert kept.derived and all(derived.derived[key][2] is entry[2] for key, entry in kept.derived.items())
        assert all(isinstance(entry[2], KeptRole) for entry in kept.derived.values())
        self._plans_and_next(derived, (head.snowddl,), "same config")  # head and base: the very same config

    def _derive(self, head):
        from core.snowddl import baseline_cache

        kept = baseline_cache.read(self.cache, SHA, head.snowddl)
        return kept, Baseline.from_config(head.snowddl, previous=kept)

    def _plans_and_next(self, derived, targets, label) -> None:
        root, base = self.root, self.base
        for target in targets:
            assert (_statements(plan_offline(derived, target))
                    == _statements(plan_offline(derived, target, skip_unchanged=False))), (root.name, label)
        # and the next baseline derived in the process from that one (kept roles and all) is right too
        assert Baseline.from_config(base.config.snowddl, previous=derived).rows() == self.built.rows(), (root.name, label)
        self.compared += 1

    def check(self, label: str, head, scratch_rows) -> None:
        """`head`: load_config(root, env_prefix, overlay=files) (valid); `scratch_rows()`: the rows of
        Baseline.from_config(head.snowddl), built once."""
        _, derived = self._derive(head)
        assert derived.rows() == scratch_rows(), (self.root.name, label)
        self._plans_and_next(derived, (self.base.config.snowddl, head.snowddl), label)


class _Fingerprints:
    """Sources.changes (by fingerprint, across processes) names exactly the blueprints that the
    in-process comparison (by equality) names, for every change of every file. Its own load (`base`)."""

    def __init__(self, root: Path):
        from core.snowddl.baseline_cache import Sources

        self.base = load_config(root)
        self.kept = Sources.of(self.base.snowddl)
        assert self.kept.changes(self.base.snowddl) == {}
        self.seen = 0

    @staticmethod
    def _names(changed):  # by type, each name once (equality lists a changed one's old and new objects)
        return {cls.__name__: sorted({str(bp.full_name) for bp in bps}) for cls, bps in changed.items() if bps}

    def check(self, label: str, head) -> None:
        """`head`: load_config(root, overlay=files)."""
        from core.snowddl.config_check import _changed_blueprints

        base, kept = self.base, self.kept
        if head.snowddl is None:
            return
        found = kept.changes(head.snowddl)
        if head.snowddl.permission_models != base.snowddl.permission_models:
            assert found is None, label  # as changes_since: nothing reused
            return
        if found is None:  # a removed object whose name has argument types (a function): nothing reused
            gone = {(cls.__name__, name) for cls, bps in base.snowddl.blueprints.items() for name in bps
                    if name not in head.snowddl.blueprints.get(cls, {})}
            assert any(kept.by_type[t][n][1] is None for t, n in gone), label
            return
        expected = self._names(_changed_blueprints(head.snowddl, base.snowddl, equal=True))
        assert self._names(found) == expected, label
        self.seen += bool(expected)


def _check(root: Path, env_prefix: str = "", cache: Path | None = None, plans: bool = True,
           fingerprints: bool = False) -> tuple:
    """Every change of every file of `root` (_variants), each loaded once (load_config(root, env_prefix,
    overlay=files): fresh blueprints, read only by the checks) and its baseline built from scratch once,
    for each family of checks asked for: the plans (_Plans), the kept baseline (_Kept, when `cache` is
    given), the fingerprints (_Fingerprints). Each family keeps its own load of the unchanged config.
    Returns the families (None for one not asked for or whose base config is invalid)."""
    fam_plans = _Plans(root, env_prefix) if plans else None
    fam_plans = fam_plans if fam_plans is not None and fam_plans.valid else None
    fam_kept = _Kept(root, cache, env_prefix) if cache is not None else None
    fam_kept = fam_kept if fam_kept is not None and fam_kept.valid else None
    fam_prints = _Fingerprints(root) if fingerprints else None
    for label, files in _variants(root):
        if fam_plans is None and fam_kept is None and fam_prints is None:
            break
        head = load_config(root, env_prefix, overlay=files)
        rows: list = []

        def scratch_rows(head=head, rows=rows):
            if not rows:
                rows.append(Baseline.from_config(head.snowddl).rows())
            return rows[0]

        if fam_plans is not None:
            fam_plans.check(label, files, head, scratch_rows)
        if fam_kept is not None and head.snowddl is not None and head.validation.valid:
            fam_kept.check(label, head, scratch_rows)
        if fam_prints is not None:
            fam_prints.check(label, head)
    return fam_plans, fam_kept, fam_prints


@pytest.mark.parametrize("root", [EXAMPLE] + SAMPLES, ids=lambda p: p.name)
def test_incremental_plans_kept_baselines_and_fingerprints_on_every_change_of_every_file(root, tmp_path):
    """On every change of every file: the incremental plan equals the full plan and a derived baseline
    the scratch one (_Plans), a kept baseline derives the scratch one (_Kept), and fingerprints find what
    equality finds (_Fingerprints); each change is loaded once for the three."""
    plans, kept, prints = _check(root, cache=tmp_path / "cache", fingerprints=True)
    assert plans is not None and plans.compared > 0
    assert kept is not None and kept.compared > 1
    assert prints.seen


def test_incremental_plans_and_kept_baselines_with_an_env_prefix(tmp_path):
    plans, kept, _ = _check(EXAMPLE, "dev", cache=tmp_path / "cache")
    assert plans is not None and plans.compared > 0
    assert kept is not None and kept.compared > 1


def test_incremental_plan_equals_full_plan_on_a_generated_tree(tmp_path):
    tree = generate(tmp_path / "config", users=30, business_roles=12, technical_roles=8, warehouses=5, databases=13,
                    schemas=5)
    plans, _, _ = _check(tree)
    assert plans is not None and plans.compared > 0


@pytest.mark.parametrize("root", _cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_incremental_plans_and_kept_baselines_on_shared_cases(root, tmp_path):
    _check(root, cache=tmp_path / "cache")  # invalid configs have no plan to compare


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


SHA, NEXT = "a1b2c3d", "b1b2c3d"
_NEW_USER = "\nNEW_ONE:\n  type: PERSON\n  business_roles:\n    - ROLE_0001\n"


def test_a_kept_baseline_and_fingerprints_on_a_generated_tree(tmp_path):
    _, kept, prints = _check(_tree(tmp_path), cache=tmp_path / "cache", plans=False, fingerprints=True)
    assert kept is not None and kept.compared > 1
    assert prints.seen


def test_a_blueprint_that_cannot_be_fingerprinted_counts_as_changed(tmp_path):
    from core.snowddl.baseline_cache import Sources

    base = load_config(_tree(tmp_path))
    kept = Sources.of(base.snowddl)
    users = next(bps for cls, bps in base.snowddl.blueprints.items() if cls.__name__ == "UserBlueprint")
    user = next(iter(users.values()))
    object.__setattr__(user, "comment", lambda: None)  # not picklable
    assert {cls.__name__: [str(bp.full_name) for bp in bps] for cls, bps in kept.changes(base.snowddl).items()} == {
        "UserBlueprint": [str(user.full_name)]}


_RESTART = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from core.snowddl import commit_snapshot
from core.snowddl.baseline_cache import KeptRole
from core.snowddl.config_loader import load_config
from core.snowddl.plan import plan_offline
from core.snowddl.skip_unchanged import changes_since
from core.snowddl import baseline_cache

tree, cache, users = Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]).read_text()
head = commit_snapshot.Snapshot(tree, sys.argv[5], load_config(tree, overlay={"user.yaml": users}), cache=cache)
kept = baseline_cache.read_newest(cache, head.config.snowddl)
changed = changes_since(kept, head.config.snowddl)
baseline = head.baseline()  # nothing built in this process: derived from the newest kept baseline
back = load_config(tree)  # and planned back to the kept commit's config
print(json.dumps({
    "changed": {cls.__name__: sorted(str(bp.full_name) for bp in bps) for cls, bps in changed.items()},
    "reused": sum(isinstance(entry[2], KeptRole) for entry in baseline.derived.values()),
    "rows": baseline.rows(),
    "plan": [s.to_dict() for s in plan_offline(baseline, back.snowddl).statements],
    "written": sorted(p.name for p in (cache / "baselines").iterdir()),
}))
"""


def test_a_restarted_process_derives_the_next_commits_baseline_from_the_kept_one(tmp_path):
    """Across processes (another hash seed): the next base commit's baseline, derived from the file the
    last process kept, equals the one built from scratch, and plans the same."""
    import json
    import subprocess
    import sys

    from core.snowddl import baseline_cache

    tree = _tree(tmp_path)
    cache = tmp_path / "cache"
    loaded = load_config(tree)
    assert baseline_cache.write(cache, SHA, Baseline.from_config(loaded.snowddl)) is not None
    users = (tree / "user.yaml").read_text() + _NEW_USER
    (tmp_path / "users.yaml").write_text(users)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _RESTART, str(root), str(tree), str(cache), str(tmp_path / "users.yaml"),
                           NEXT], capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "12345"},
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    head = load_config(tree, overlay={"user.yaml": users})
    scratch = Baseline.from_config(head.snowddl)
    assert out["changed"] == {"UserBlueprint": ["NEW_ONE"]}  # the fingerprints agree across processes
    assert out["reused"] == len(scratch.derived) - 1  # every role but the new user's, from the file
    assert out["rows"] == json.loads(json.dumps(scratch.rows()))
    assert out["plan"] == _statements(plan_offline(scratch, loaded.snowddl))
    assert [(s["action"], s["object"]) for s in out["plan"]] == [("DROP", "NEW_ONE__U_ROLE"), ("DROP", "NEW_ONE")]
    assert out["written"] == [f"{SHA}.json", f"{NEXT}.json"]  # and kept the new commit's for the next restart


def test_a_kept_baseline_that_does_not_match_or_is_damaged_is_not_used(tmp_path, monkeypatch):
    import json

    from core.snowddl import baseline_cache, commit_snapshot

    tree = _tree(tmp_path)
    loaded = load_config(tree)
    cache = tmp_path / "cache"
    built = Baseline.from_config(loaded.snowddl)
    path = baseline_cache.write(cache, SHA, built)
    assert path is not None and path.name == f"{SHA}.json"
    good = json.loads(path.read_text())
    assert baseline_cache.read(cache, "a1b2c3e", loaded.snowddl) is None  # another commit: no file
    assert baseline_cache.read(cache, "not a sha", loaded.snowddl) is None
    # each env prefix has its own file (DEV__ and DEV_ are different prefixes)
    assert len({baseline_cache.path_for(cache, SHA, p) for p in ("", "DEV__", "DEV_", "DEV$")}) == 4
    with pytest.raises(ValueError):
        baseline_cache.path_for(cache, SHA, "../x")
    role = next(iter(good["blueprints"]["UserRoleResolver"]))
    user_type = good["sources"]["UserBlueprint"]
    bad = {
        "format": dict(good, format=1),
        "snowddl version": dict(good, snowddl="0.0.1"),
        "commit": dict(good, commit="ffffff0"),
        "env prefix": dict(good, env_prefix="DEV__"),
        "a class that is not SnowDDL's": dict(good, sources={**good["sources"], "Path": {}}),
        "a look-up of a class that is not SnowDDL's": dict(good, lookups=[["Path", None]] + good["lookups"][1:]),
        "an identifier class that is not SnowDDL's": dict(good, sources={**good["sources"], "UserBlueprint": {
            **user_type, "GONE": ["0" * 32, ["Path", {}]]}}),
        "a source without its fingerprint": dict(good, sources={**good["sources"], "UserBlueprint": {
            **user_type, "GONE": ["0" * 32]}}),
        "a reference out of bounds": dict(good, lookup_sets=[[-1]] + good["lookup_sets"][1:]),
        "a role out of bounds": dict(good, blueprints={**good["blueprints"], "UserRoleResolver": [[role[0], 10 ** 6]]}),
        "a role without rows": dict(good, roles=[r for r in good["roles"] if r["name"] != role[0]]),
        "a role without grants": dict(good, role_grants={k: v for k, v in good["role_grants"].items() if k != role[0]}),
        "a derivation without its role": dict(good, blueprints={**good["blueprints"], "UserRoleResolver": []}),
        "a resolver that gives no roles": dict(good, blueprints={**good["blueprints"], "UserResolver": []}),
        "rows that are not rows": dict(good, roles=[["name", "x"]] + good["roles"]),
        "not an object": [good],
    }
    for label, body in bad.items():
        path.write_text(json.dumps(body))
        assert baseline_cache.read(cache, SHA, loaded.snowddl) is None, label
    text = json.dumps(good)
    for label, damaged in (("cut short", text[:len(text) // 2]), ("empty", ""), ("not text", "\xff\x00" * 50)):
        path.write_bytes(damaged.encode("utf-8", "surrogateescape") if label != "not text" else b"\xff\xfe\x00garbage")
        assert baseline_cache.read(cache, SHA, loaded.snowddl) is None, label
        # the snapshot builds its baseline again (the same one) and writes the file again, whole
        monkeypatch.setattr(commit_snapshot, "_last_baseline", [])
        monkeypatch.setattr(baseline_cache, "write_later", baseline_cache.write)
        again = Snapshot(tree, SHA, loaded, cache=cache).baseline()
        assert again.rows() == built.rows(), label
        assert baseline_cache.read(cache, SHA, loaded.snowddl) is not None, label
    path.write_text(text)
    assert baseline_cache.read(cache, SHA, loaded.snowddl) is not None


_WRITER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from core.snowddl import baseline_cache
from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline

loaded = load_config(Path(sys.argv[2]))
built = Baseline.from_config(loaded.snowddl)
for _ in range(int(sys.argv[4])):
    baseline_cache.write(Path(sys.argv[3]), "a1b2c3d", built)
"""


def test_two_processes_writing_one_commits_baseline_leave_a_whole_file(tmp_path):
    import subprocess
    import sys

    from core.snowddl import baseline_cache

    tree = _tree(tmp_path)
    cache = tmp_path / "cache"
    root = Path(__file__).resolve().parents[1]
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(tree), str(cache), "15"],
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    loaded = load_config(tree)
    seen = 0
    while any(w.poll() is None for w in writers):  # read while they write: whole files only
        if baseline_cache.path_for(cache, SHA, "").exists():
            assert baseline_cache.read(cache, SHA, loaded.snowddl) is not None
            seen += 1
    assert [w.wait() for w in writers] == [0, 0], [w.stderr.read()[-2000:] for w in writers]
    kept = baseline_cache.read(cache, SHA, loaded.snowddl)
    assert kept is not None
    assert Baseline.from_config(loaded.snowddl, previous=kept).rows() == Baseline.from_config(loaded.snowddl).rows()
    assert sorted(p.name for p in (cache / "baselines").iterdir()) == [f"{SHA}.json"]  # no temporary file left


def test_only_the_newest_kept_baselines_stay(tmp_path):
    import time

    from core.snowddl import baseline_cache

    loaded = load_config(_tree(tmp_path))
    built = Baseline.from_config(loaded.snowddl)
    cache = tmp_path / "cache"
    shas = [f"{n:07x}" for n in range(baseline_cache.KEEP_FILES + 2)]
    for sha in shas:
        baseline_cache.write(cache, sha, built)
        time.sleep(0.01)  # distinct modification times
    other = Baseline.from_config(load_config(EXAMPLE, "dev").snowddl)
    baseline_cache.write(cache, shas[0], other)  # another env prefix: its own files, not counted
    left = sorted(p.name for p in (cache / "baselines").iterdir())
    assert left == sorted([f"{sha}.json" for sha in shas[2:]] + [f"{shas[0]}-DEV__.json"])


def test_a_snapshot_keeps_its_baseline_and_derives_the_next_commits_from_it(tmp_path, monkeypatch):
    from core.snowddl import baseline_cache, commit_snapshot
    from core.snowddl.baseline_cache import KeptRole

    tree = _tree(tmp_path)
    cache = tmp_path / "cache"
    written = []
    monkeypatch.setattr(baseline_cache, "write_later", lambda *a: written.append(baseline_cache.write(*a)))
    monkeypatch.setattr(commit_snapshot, "_last_baseline", [])
    first = Snapshot(tree, SHA, load_config(tree), cache=cache)
    built = first.baseline()
    assert written == [baseline_cache.path_for(cache, SHA, "")]
    # the next base commit differs by one file: derived from the last baseline, equal to one from scratch
    users = (tree / "user.yaml").read_text() + _NEW_USER
    second = Snapshot(tree, NEXT, load_config(tree, overlay={"user.yaml": users}), cache=cache)
    derived = second.baseline()
    assert derived.rows() == Baseline.from_config(second.config.snowddl).rows()
    same = ("BusinessRoleResolver", "transform_blueprint", "ROLE_0001__B_ROLE")
    assert derived.derived[same][2] is built.derived[same][2]
    assert len(written) == 2
    # a new process (nothing built yet) reads the commit's kept baseline instead of deriving its roles
    monkeypatch.setattr(commit_snapshot, "_last_baseline", [])
    restarted = Snapshot(tree, SHA, load_config(tree), cache=cache)
    calls = []
    monkeypatch.setattr(baseline_cache, "read", lambda *a, _read=baseline_cache.read: calls.append(a[1]) or _read(*a))
    again = restarted.baseline()
    assert again.rows() == built.rows() and calls == [SHA]
    assert isinstance(again.derived[same][2], KeptRole)
    assert len(written) == 2  # the restarted process found its file: nothing written again
    # a new process whose base commit has no file: derived from the newest kept one (NEXT's), then kept
    (cache / "baselines" / f"{SHA}.json").unlink()
    monkeypatch.setattr(commit_snapshot, "_last_baseline", [])
    third = Snapshot(tree, "c1b2c3d", load_config(tree), cache=cache)
    calls.clear()
    derived = third.baseline()
    assert calls == ["c1b2c3d", NEXT]  # its own file first (none), then the newest one
    assert derived.rows() == built.rows() and isinstance(derived.derived[same][2], KeptRole)
    assert written[-1] == baseline_cache.path_for(cache, "c1b2c3d", "")
    # which, written from kept roles, reads back as the same baseline
    kept = baseline_cache.read(cache, "c1b2c3d", third.config.snowddl)
    assert Baseline.from_config(third.config.snowddl, previous=kept).rows() == built.rows()


def test_role_grants_are_compared_by_key_exactly_as_snowddl_compares_them(tmp_path, monkeypatch):
    """core.snowddl.plan._Grants: `grant in grants` by key is list membership (Grant.__eq__), and a full
    plan with it gives SnowDDL's own statements, in the same order, for changes that add and drop grants."""
    from core.snowddl import plan as plan_module

    tree = _tree(tmp_path)
    base = load_config(tree)
    baseline = Baseline.from_config(base.snowddl)
    roles = [bp for bps in baseline.blueprints.values() for bp in bps.values() if getattr(bp, "grants", None)]
    every = [g for bp in roles for g in bp.grants]
    probes = every[::max(1, len(every) // 150)] + [g.model_copy() for g in every[:20]]
    for bp in roles[::3]:
        keyed = plan_module._Grants(bp.grants)
        assert keyed.keys is not None and list(keyed) == bp.grants
        assert [g in keyed for g in probes] == [list.__contains__(bp.grants, g) for g in probes], str(bp.full_name)
    text = (tree / "business_role.yaml").read_text()
    assert "    - DB_000.SCH_1\n" in text
    changes = [("ROLE_0000 reads another schema",
                {"business_role.yaml": text.replace("    - DB_000.SCH_1\n", "    - DB_001.SCH_3\n", 1)})]
    actions: set = set()
    for label, files in changes:
        head = load_config(tree, overlay=files)
        for start, target in ((baseline, head.snowddl), (Baseline.from_config(head.snowddl), base.snowddl)):
            keyed = plan_offline(start, target, skip_unchanged=False)
            with monkeypatch.context() as m:
                m.setattr(plan_module, "_grants_by_key", lambda resolver: None)  # SnowDDL's own comparison
                own = plan_offline(start, target, skip_unchanged=False)
            assert _statements(keyed) == _statements(own) and keyed.errors == own.errors, label
            actions.update(s.action for s in own.statements)
    assert {"GRANT", "REVOKE"} <= actions, actions  # grants added and taken away were compared
