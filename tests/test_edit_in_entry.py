"""Edits inside one entry: only the edited key's lines change, comments and other entries stay."""
import pytest
import yaml

from core.snowddl.edit import EditError, add_list_items, remove_list_items, set_fields
from tests.test_edit import EXAMPLE_USERS, HAND_WRITTEN, changed_lines


def test_set_replaces_adds_and_removes_keys_of_one_entry():
    after = set_fields(EXAMPLE_USERS, "MOKAFOR", {"default_warehouse": "ANALYST_WH", "disabled": True, "comment": None})
    removed, added = changed_lines(EXAMPLE_USERS, after)
    assert sorted(removed) == ["  comment: Senior Data Engineer", "  default_warehouse: TRANSFORM_WH"]
    assert added == ["  default_warehouse: ANALYST_WH", "  disabled: true"]
    assert yaml.safe_load(after)["MOKAFOR"]["disabled"] is True


def test_list_items_keep_the_other_items_and_their_comments():
    text = HAND_WRITTEN.replace("    - ANALYST\n", "    - ANALYST  # SnowTower: ANALYST until 2030-01-01\n")
    after = add_list_items(text, "CAROL", "business_roles", ["LOADER"], {"LOADER": "SnowTower: LOADER until 2031-01-01"})
    assert changed_lines(text, after) == ([], ["    - LOADER  # SnowTower: LOADER until 2031-01-01"])
    back = remove_list_items(after, "CAROL", "business_roles", ["loader"])
    assert back == text
    gone = remove_list_items(text, "CAROL", "business_roles", ["ANALYST"])
    assert "business_roles" not in yaml.safe_load(gone)["CAROL"]
    assert "# indented comment that belongs to CAROL" in gone and "# the end" in gone


def test_flow_style_entries_and_missing_ones():
    after = add_list_items(HAND_WRITTEN, "BOB", "business_roles", ["ANALYST"])
    assert yaml.safe_load(after)["BOB"]["business_roles"] == ["LOADER", "ANALYST"]
    assert after.startswith(HAND_WRITTEN.split("BOB:")[0])
    with pytest.raises(EditError, match="does not exist"):
        set_fields(HAND_WRITTEN, "NOBODY", {"x": 1})


@pytest.mark.parametrize("value", ["a: b", "#x", "'q'", 'say "hi"', "- item", "multi\nline", "日本 😀", "null", "yes"])
def test_values_are_quoted_as_yaml_needs(value):
    after = set_fields(EXAMPLE_USERS, "PRAMAN", {"comment": value})
    assert yaml.safe_load(after)["PRAMAN"]["comment"] == value
    assert set(yaml.safe_load(after)) == set(yaml.safe_load(EXAMPLE_USERS))
