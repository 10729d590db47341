"""Round trip on generated configs in every YAML style real repositories use (issue 9): block and flow
lists, flow-mapping entries, inline comments, 2- and 4-space indentation, CRLF, no final newline,
`.yml` / capitalised file names, lower- and upper-case names, duplicated keys. For each, every user and
warehouse recipe's result validates with SnowDDL itself, does what the request says to the entry
SnowDDL deploys, and changes only that entry's lines, in the file's own style.

SNOWTOWER_HYPOTHESIS_EXAMPLES (default 60) configs per recipe.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.snowddl import yaml_reader
from core.snowddl.edit import entries
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot
from app.operations.shared.preview import preview
from recipes import RECIPES

SETTINGS = settings(max_examples=int(os.environ.get("SNOWTOWER_HYPOTHESIS_EXAMPLES", "60")), deadline=None,
                    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ROLES = ["r1", "r2", "r3", "r4"]
WHY = "Generated request for the round-trip test."


@st.composite
def styled_config(draw):
    """(files, user file name, style) of a small valid config written in a drawn style."""
    indent = " " * draw(st.sampled_from([2, 4]))
    case = draw(st.sampled_from([str.lower, str.upper]))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    final_newline = draw(st.booleans())
    user_file = draw(st.sampled_from(["user.yaml", "user.yml", "User.yaml"]))
    names = draw(st.lists(st.sampled_from(["alex", "blake", "casey", "drew", "emery"]), min_size=1, max_size=5, unique=True))
    entries_text = []
    for name in names:
        roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True))
        style = draw(st.sampled_from(["block", "flow-list", "flow-map"]))
        comment = draw(st.sampled_from(["", "  # approved in T-1"]))
        written = [case(r) for r in roles]
        if style == "flow-map":
            text = f"{case(name)}: {{email: {name}@example.com, business_roles: [{', '.join(written)}]}}{comment}\n"
        elif style == "flow-list":
            text = f"{case(name)}:\n{indent}email: {name}@example.com\n{indent}business_roles: [{', '.join(written)}]{comment}\n"
        else:
            items = "".join(f"{indent}{indent}- {r}{comment}\n" for r in written)
            text = f"{case(name)}:\n{indent}email: {name}@example.com\n{indent}business_roles:\n{items}"
        if draw(st.booleans()):
            text = f"# {name}'s entry\n" + text
        entries_text.append(text)
    if draw(st.booleans()):  # a shadowed copy above, as after a copy-paste: SnowDDL uses the last one
        entries_text.insert(0, f"{case(names[-1])}:\n{indent}email: old@example.com\n")
    users = draw(st.sampled_from(["\n", ""])).join(entries_text)
    if not final_newline:
        users = users.rstrip("\n")
    warehouses = "".join(f"{case(w)}:\n{indent}size: XSMALL\n{indent}auto_suspend: 60\n" for w in ("wh_a", "wh_b"))
    roles = "".join(f"{case(r)}:\n{indent}warehouse_usage: [{case('wh_a' if i % 2 else 'wh_b')}]\n" for i, r in enumerate(ROLES))
    files = {user_file: users.replace("\n", nl), "warehouse.yaml": warehouses.replace("\n", nl),
             "business_role.yml": roles}
    return files, user_file, names


# Every example's config goes below one folder, removed with this module's process (hypothesis runs
# hundreds of examples; a folder each was left in /tmp by every run).
_FOLDER = tempfile.TemporaryDirectory(prefix="snowtower-roundtrip-")


def _snapshot(files: dict[str, str]) -> Snapshot:
    root = Path(tempfile.mkdtemp(dir=_FOLDER.name))
    for rel, text in files.items():
        (root / rel).write_bytes(text.encode("utf-8"))
    return Snapshot(root, None, load_config(root))


def _only_entry_changed(old: str, new: str, key: str) -> None:
    """Every byte outside the edited entry's lines is as it was (in the file's line ends)."""
    lf_old = old.replace("\r\n", "\n")
    entry = [e for e in entries(lf_old + ("" if lf_old.endswith("\n") else "\n")) if e.key.upper() == key.upper()][-1]
    lines = old.split("\n")
    head = "\n".join(lines[:entry.start])
    tail = "\n".join(lines[entry.end:])
    assert new.startswith(head)
    if entry.end < len(lines) and tail:
        assert new.endswith(tail)
    if "\r\n" in old:
        assert new.count("\n") == new.count("\r\n")


def _current(text: str, name: str) -> dict:
    found = yaml_reader.load_entry(text, name)
    return dict(found[1]) if found else {}


@pytest.mark.parametrize("recipe", ["grant-role", "revoke-role", "offboard-user"])
@SETTINGS
@given(data=st.data(), drawn=styled_config())
def test_user_recipes_round_trip_in_every_style(recipe, data, drawn):
    files, user_file, names = drawn
    base = _snapshot(files)
    assert base.config.validation.valid, base.config.validation.errors
    assert base.file("user") == user_file
    name = data.draw(st.sampled_from(names))
    old = files[user_file]
    has = [str(r).upper() for r in _current(old, name).get("business_roles") or []]
    if recipe == "grant-role":
        roles = data.draw(st.lists(st.sampled_from([r.upper() for r in ROLES if r.upper() not in has]), min_size=1, max_size=2,
                                   unique=True)) if len(has) < len(ROLES) else None
    elif recipe == "revoke-role":
        roles = data.draw(st.lists(st.sampled_from(has), min_size=1, max_size=len(has), unique=True))
    else:
        roles = []
    if roles is None:
        return
    raw = {"name": name.upper(), "justification": WHY}
    if recipe != "offboard-user":
        raw["business_roles"] = roles
    result = preview(RECIPES[recipe], raw, base)
    assert result.ok, (result.field_errors, result.validation and result.validation.errors)
    assert list(result.changes.files) == [user_file]
    new = result.changes.files[user_file]
    _only_entry_changed(old, new, name)
    after = _current(new, name)
    now = [str(r).upper() for r in after.get("business_roles") or []]
    if recipe == "grant-role":
        assert now == has + roles
        written = [str(r) for r in after["business_roles"]][len(has):]
        assert written == [r.lower() if files["business_role.yml"].startswith("r1") else r for r in roles]
    elif recipe == "revoke-role":
        assert now == [r for r in has if r not in roles]
    else:
        assert after.get("disabled") is True and not now
    others = {k: v for k, v in yaml_reader.load(old).items() if str(k).upper() != name.upper()}
    assert {k: v for k, v in yaml_reader.load(new).items() if str(k).upper() != name.upper()} == others
    flow_before = "[" in old.split("\n")[[e for e in entries(old.replace("\r\n", "\n") + "\n")
                                          if e.key.upper() == name.upper()][-1].start]
    if flow_before and recipe != "offboard-user" and now:
        assert "[" in new  # a flow entry or list stays flow
    assert old.endswith("\n") == new.endswith("\n") or name.upper() == names[-1].upper()


@SETTINGS
@given(data=st.data(), drawn=styled_config())
def test_warehouse_resize_round_trips_in_every_style(data, drawn):
    files = drawn[0]
    base = _snapshot(files)
    name = data.draw(st.sampled_from(["WH_A", "WH_B"]))
    size = data.draw(st.sampled_from(["SMALL", "MEDIUM", "LARGE"]))
    result = preview(RECIPES["change-warehouse"], {"name": name, "size": size, "justification": WHY}, base)
    assert result.ok, (result.field_errors, result.validation and result.validation.errors)
    new = result.changes.files["warehouse.yaml"]
    _only_entry_changed(files["warehouse.yaml"], new, name)
    assert _current(new, name)["size"] == size
    assert [s["sql"] for s in result.plan["statements"]][0].startswith(f'ALTER WAREHOUSE "{name}" SET')


@SETTINGS
@given(data=st.data(), drawn=styled_config())
def test_new_users_are_appended_in_the_files_style(data, drawn, public_pem):
    files, user_file, names = drawn
    base = _snapshot(files)
    old = files[user_file]
    roles = data.draw(st.lists(st.sampled_from([r.upper() for r in ROLES]), min_size=1, max_size=3, unique=True))
    raw = {"name": "NEW_ONE", "rsa_public_key": public_pem, "business_roles": roles, "justification": WHY}
    result = preview(RECIPES["new-service-user"], raw, base)
    assert result.ok, (result.field_errors, result.validation and result.validation.errors)
    new = result.changes.files[user_file]
    kept = old if old.endswith("\n") else old[: old.rfind("\n") + 1] if "\n" in old else ""
    assert new.startswith(kept)  # nothing above changes (only a missing final newline is added)
    lower = files["business_role.yml"].startswith("r1")
    key = "new_one" if all(n == n.lower() for n in yaml_reader.top_keys(old)) else "NEW_ONE"
    entry = _current(new, key)
    assert [str(r) for r in entry["business_roles"]] == [r.lower() if lower else r for r in roles]
    indent = " " * 4 if "\n    email" in old.replace("\r\n", "\n") else " " * 2
    assert f"\n{indent}type: SERVICE" in new.replace("\r\n", "\n")
    assert ("\r\n" in old) == ("\r\n" in new) and (not old.endswith("\n")) == (not new.endswith("\n"))
    create = next(s["sql"] for s in result.plan["statements"] if s["sql"].startswith("CREATE USER"))
    assert "DEFAULT_WAREHOUSE = 'WH_" in create  # the first role's first warehouse, found by the name as written


@SETTINGS
@given(data=st.data(), drawn=styled_config(), flow=st.booleans(), old_key=st.booleans())
def test_business_role_lists_round_trip_in_every_style(data, drawn, flow, old_key):
    files = dict(drawn[0])
    key = "tech_roles" if old_key else "technical_roles"
    files["technical_role.yaml"] = "t1:\n  comment: one\nt2:\n  comment: two\nt3:\n  comment: three\n"
    roles = files["business_role.yml"]
    ind = " " * 4 if "\n    warehouse_usage" in roles else " " * 2
    lists = "[t1, t2]  # bundles" if flow else f"\n{ind}{ind}- t1  # first\n{ind}{ind}- t2"
    first = roles.index("\n") + 1
    first = roles.index("\n", first) + 1  # after the first role's warehouse_usage line
    files["business_role.yml"] = roles[:first] + f"{ind}{key}: {lists}\n{ind}comment: the first\n" + roles[first:]
    base = _snapshot(files)
    assert base.config.validation.valid, base.config.validation.errors
    role = next(n for n in base.config.business_roles if "T1" in str(_current(files["business_role.yml"], n)).upper())
    wanted = data.draw(st.lists(st.sampled_from(["T1", "T2", "T3"]), min_size=1, max_size=3, unique=True))
    if sorted(wanted) == ["T1", "T2"]:
        return
    raw = {"name": role, "technical_roles": wanted, "justification": WHY}
    result = preview(RECIPES["change-business-role"], raw, base)
    assert result.ok, (result.field_errors, result.validation and result.validation.errors)
    new = result.changes.files["business_role.yml"]
    _only_entry_changed(files["business_role.yml"], new, role)
    after = _current(new, role)
    assert sorted(str(t).upper() for t in after[key]) == sorted(wanted)
    assert ("technical_roles" in after) == (not old_key) and ("tech_roles" in after) == old_key
    line = next(x for x in new.split("\n") if x.lstrip().startswith(f"{key}:"))
    assert ("[" in line) == flow and (not flow or "# bundles" in line)
    assert list(after)[:3] == ["warehouse_usage", key, "comment"]  # the key stays where it was
