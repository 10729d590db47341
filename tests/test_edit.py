"""Minimal-diff edits: only the edited entry's lines change; everything else stays byte-identical."""
import difflib
from pathlib import Path

import pytest
import yaml

from core.snowddl.edit import EditError, add_entry, entries, remove_entry, replace_entry

EXAMPLE_USERS = (Path(__file__).resolve().parents[1] / "snowddl" / "user.yaml").read_text()

HAND_WRITTEN = """\
# Hand-written, with every YAML feature people use
defaults: &defaults
  type: PERSON   # trailing comment
  business_roles: [ANALYST]

ALICE:
  <<: *defaults
  first_name: "Alice"
  last_name: 'O''Neil'
  comment: >
    folded
    text

# Bob is special
BOB: {type: SERVICE, business_roles: [LOADER]}
CAROL:
    type: PERSON
    business_roles:
    - ANALYST
    # indented comment that belongs to CAROL
# the end
"""


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        if line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
    return removed, added


def test_add_to_the_example_only_appends_the_entry():
    after = add_entry(EXAMPLE_USERS, "NEW_USER", {"type": "PERSON", "business_roles": ["ANALYST"]})
    assert after.startswith(EXAMPLE_USERS)
    removed, added = changed_lines(EXAMPLE_USERS, after)
    assert removed == []
    assert added == ["", "NEW_USER:", "  type: PERSON", "  business_roles:", "    - ANALYST"]
    assert yaml.safe_load(after)["NEW_USER"] == {"type": "PERSON", "business_roles": ["ANALYST"]}


def test_add_follows_an_indentless_list_style_and_quotes_what_yaml_needs():
    after = add_entry(HAND_WRITTEN, "DAVE", {"comment": "yes", "first_name": "#1: 'x'", "business_roles": ["A"]})
    assert after.startswith(HAND_WRITTEN)
    loaded = yaml.safe_load(after)["DAVE"]
    assert loaded == {"comment": "yes", "first_name": "#1: 'x'", "business_roles": ["A"]}
    assert "  business_roles:\n  - A\n" in after  # CAROL writes lists at the key's indentation


def test_replace_changes_only_that_entry():
    after = replace_entry(HAND_WRITTEN, "BOB", {"type": "SERVICE", "business_roles": ["LOADER", "BI_TOOL"]})
    removed, added = changed_lines(HAND_WRITTEN, after)
    assert removed == ["BOB: {type: SERVICE, business_roles: [LOADER]}"]
    assert added[0] == "BOB:"
    data = yaml.safe_load(after)
    assert data["BOB"]["business_roles"] == ["LOADER", "BI_TOOL"]
    assert data["ALICE"]["last_name"] == "O'Neil"


def test_remove_keeps_the_neighbours_comments():
    after = remove_entry(HAND_WRITTEN, "ALICE")
    removed, _ = changed_lines(HAND_WRITTEN, after)
    assert "# Bob is special" in after
    assert all(line.strip() in ("", "ALICE:", "<<: *defaults", 'first_name: "Alice"', "last_name: 'O''Neil'",
                                "comment: >", "folded", "text") for line in removed)
    after = remove_entry(HAND_WRITTEN, "CAROL")
    assert "indented comment that belongs to CAROL" not in after
    assert after.endswith("# the end\n")
    assert set(yaml.safe_load(after)) == {"defaults", "ALICE", "BOB"}


def test_entry_spans_are_found_with_anchors_flow_and_comments():
    found = {e.key: (e.start, e.end) for e in entries(HAND_WRITTEN)}
    lines = HAND_WRITTEN.splitlines()
    assert lines[found["ALICE"][0]] == "ALICE:"
    assert lines[found["ALICE"][1] - 1].strip() == "text"
    assert found["BOB"][1] - found["BOB"][0] == 1


def test_large_file_edit_touches_one_entry():
    big = "".join(f"U{i}:\n  type: PERSON\n  business_roles:\n    - R{i % 7}\n\n" for i in range(5000))
    after = replace_entry(big, "U2500", {"type": "SERVICE", "business_roles": ["R3"]})
    old, new = big.splitlines(), after.splitlines()
    assert len(old) == len(new)
    differing = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert differing == [("  type: PERSON", "  type: SERVICE"), ("    - R1", "    - R3")]  # 2500 % 7 == 1
    assert yaml.load(after, Loader=yaml.CSafeLoader)["U2499"] == yaml.load(big, Loader=yaml.CSafeLoader)["U2499"]


def test_refusals():
    with pytest.raises(EditError, match="already exists"):
        add_entry(EXAMPLE_USERS, "praman", {"type": "PERSON"})
    with pytest.raises(EditError, match="does not exist"):
        remove_entry(EXAMPLE_USERS, "NOBODY")
    with pytest.raises(EditError, match="not valid YAML"):
        add_entry("A: [\n", "B", {})
    with pytest.raises(EditError, match="not a mapping"):
        add_entry("- a\n- b\n", "B", {})


def test_add_to_an_empty_or_comment_only_file():
    assert yaml.safe_load(add_entry("", "A", {"type": "PERSON"})) == {"A": {"type": "PERSON"}}
    after = add_entry("# users\n", "A", {"type": "PERSON"})
    assert after.startswith("# users\n") and yaml.safe_load(after) == {"A": {"type": "PERSON"}}


ODD = """\
# Odd but valid YAML people write by hand
"WEIRD.USER":   # a quoted key with a dot
  comment: 'it''s: quoted # not a comment'
  business_roles: ["ANALYST", 'LOADER']
'single_quoted':
  comment: "tab\\there"
plain_user: {type: PERSON, business_roles: [ANALYST]}   # flow style, trailing comment
"""


def only_entry_changed(before: str, after: str, key: str) -> None:
    """Every entry but `key` keeps its exact bytes, in the same order."""
    before_lines, after_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    old = {e.key: "".join(before_lines[e.start:e.end]) for e in entries(before)}
    new = {e.key: "".join(after_lines[e.start:e.end]) for e in entries(after)}
    assert [k for k in old if k != key] == [k for k in new if k != key]
    for k in old:
        if k != key and k in new:
            assert new[k] == old[k], k


def test_large_generated_file_with_comments_add_replace_remove(tmp_path):
    from benchmarks.generate import generate

    text = (generate(tmp_path / "big", users=1000, business_roles=20, technical_roles=10, warehouses=5, databases=20) / "user.yaml").read_text()
    assert len(text) > 600_000
    added = add_entry(text, "NEW_PERSON", {"type": "PERSON", "business_roles": ["ROLE_0001"]})
    assert added.startswith(text) and added[len(text):] == "\nNEW_PERSON:\n  type: PERSON\n  business_roles:\n    - ROLE_0001\n"
    replaced = replace_entry(text, "USER_00500", {"type": "SERVICE", "business_roles": ["ROLE_0002"]})
    only_entry_changed(text, replaced, "USER_00500")
    assert len(replaced.splitlines()) < len(text.splitlines())
    start = text.index("\nUSER_00500:\n")
    assert replaced[:start] == text[:start]  # everything before, the entry's own comment included
    assert replaced[start:].startswith("\nUSER_00500:\n  type: SERVICE\n  business_roles:\n    - ROLE_0002\n\n# User 501:")
    gone = remove_entry(text, "USER_00999")
    only_entry_changed(text, gone, "USER_00999")
    assert "USER_00999:" not in gone and "USER_00998:" in gone


def test_odd_quoting_and_flow_entries_keep_their_bytes():
    after = replace_entry(ODD, "WEIRD.USER", {"comment": "plain", "business_roles": ["ANALYST"]})
    only_entry_changed(ODD, after, "WEIRD.USER")
    assert yaml.safe_load(after)["WEIRD.USER"] == {"comment": "plain", "business_roles": ["ANALYST"]}
    assert "plain_user: {type: PERSON, business_roles: [ANALYST]}   # flow style, trailing comment\n" in after
    after = remove_entry(ODD, "single_quoted")
    only_entry_changed(ODD, after, "single_quoted")
    assert set(yaml.safe_load(after)) == {"WEIRD.USER", "plain_user"}
    after = add_entry(ODD, "it's: odd", {"comment": "#1: yes", "business_roles": ["A"]})
    assert after.startswith(ODD) and yaml.safe_load(after)["it's: odd"] == {"comment": "#1: yes", "business_roles": ["A"]}


def test_anchors_used_elsewhere_are_not_broken():
    # ALICE merges &defaults: removing or rewriting `defaults` would break ALICE, so it is refused
    with pytest.raises(EditError, match="alias"):
        remove_entry(HAND_WRITTEN, "defaults")
    with pytest.raises(EditError, match="alias"):
        replace_entry(HAND_WRITTEN, "defaults", {"type": "SERVICE"})
    # editing the entry that uses the anchor is fine, and the anchor's owner keeps its bytes
    after = replace_entry(HAND_WRITTEN, "ALICE", {"type": "PERSON", "business_roles": ["ANALYST"], "first_name": "Alice"})
    only_entry_changed(HAND_WRITTEN, after, "ALICE")
    assert yaml.safe_load(after)["ALICE"]["first_name"] == "Alice"


def test_crlf_files_stay_crlf():
    text = "A:\r\n  type: PERSON\r\n\r\nB:\r\n  type: PERSON\r\n"
    after = add_entry(text, "C", {"type": "SERVICE"})
    assert after.startswith(text) and "\n" not in after.replace("\r\n", "")
    after = replace_entry(text, "A", {"type": "SERVICE"})
    assert after == "A:\r\n  type: SERVICE\r\n\r\nB:\r\n  type: PERSON\r\n"
