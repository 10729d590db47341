"""The revert recipe (pure) and the three-way merge it stands on: a merged change's files go back to their
content before it, keeping what the base branch changed elsewhere since; the same lines changed since is
a refusal naming them, never a guess."""
from pathlib import Path

import pytest

from core import merge3
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes
from recipes import RECIPES, SYSTEM_RECIPES, FieldErrors, recipe_named
from recipes.base import SOURCES
from recipes.revert import REVERT

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"
A, B = "a" * 40, "b" * 40  # the merged commit, its parent
WHY = "The deployment of #7 failed; restore what it changed."


@pytest.fixture(scope="module")
def base() -> Snapshot:
    return Snapshot(EXAMPLE, None, load_config(EXAMPLE))


def raw(files: dict[str, tuple[str | None, str | None]], **extra) -> dict:
    """A revert of #7 whose commit changed each file from before to after."""
    texts = {}
    for rel, (before, after) in files.items():
        texts[f"{B}:{rel}"], texts[f"{A}:{rel}"] = before, after
    return {"request": 7, "merged_sha": A, "parent_sha": B, "files": list(files), "justification": WHY,
            SOURCES: texts, **extra}


def build(base, r):
    return REVERT.build(base, REVERT.parse(r, base))


def test_merge_takes_each_side_s_change_and_refuses_the_same_lines():
    base = ["a\n", "b\n", "c\n", "d\n", "e\n", "f\n", "g\n"]
    ours = ["a\n", "B\n", "c\n", "d\n", "e\n", "f\n", "g\n"]  # line 2 changed
    theirs = ["a\n", "b\n", "c\n", "d\n", "e\n", "F\n", "g\n"]  # line 6 changed
    assert merge3.merge(base, ours, theirs).lines == ["a\n", "B\n", "c\n", "d\n", "e\n", "F\n", "g\n"]
    same = merge3.merge(base, ["a\n", "X\n", "c\n", "d\n", "e\n", "f\n", "g\n"], ["a\n", "Y\n", "c\n", "d\n", "e\n", "f\n", "g\n"])
    assert not same.clean and same.conflicts == [merge3.Conflict(2, 2, 2, 2)]
    assert merge3.merge(base, ours, ours).lines == ours  # both made the same change
    assert merge3.lines("x\r\ny\u2028z") == ["x\r\n", "y\u2028z"]  # lines end at LF only, as git counts them


def main_with(tmp_path, **texts) -> Snapshot:
    """The base branch now: the example config with `texts` (file -> text) written over it."""
    import shutil

    root = tmp_path / "main"
    shutil.copytree(EXAMPLE, root)
    for rel, text in texts.items():
        (root / rel).write_text(text)
    return Snapshot(root, None, load_config(root))


USERS = (EXAMPLE / "user.yaml").read_text()
BEFORE = USERS  # the config before #7
AFTER = USERS.replace("  comment: Head of Data\n", "  comment: Head of Data and Platform\n")  # what #7 merged


def test_a_revert_restores_the_lines_the_change_touched_and_keeps_later_changes_elsewhere(tmp_path):
    later = AFTER.replace("  comment: Senior Data Engineer\n", "  comment: Staff Data Engineer\n")  # merged after #7
    main = main_with(tmp_path, **{"user.yaml": later})
    changes = build(main, raw({"user.yaml": (BEFORE, AFTER)}))
    assert changes.files == {"user.yaml": USERS.replace("  comment: Senior Data Engineer\n", "  comment: Staff Data Engineer\n")}
    assert changes.title == "Revert #7: its deployment failed" and "user.yaml" in changes.summary
    assert validate_with_changes(main, changes.files).validation.valid


def test_the_same_lines_changed_since_is_a_refusal_naming_them(tmp_path):
    later = AFTER.replace("  comment: Head of Data and Platform\n", "  comment: Chief Data Officer\n")
    main = main_with(tmp_path, **{"user.yaml": later})
    with pytest.raises(FieldErrors) as err:
        build(main, raw({"user.yaml": (BEFORE, AFTER)}))
    line = later.splitlines().index("  comment: Chief Data Officer") + 1
    message = err.value.by_field()["request"]
    assert f"user.yaml line {line}" in message and "none was made" in message


def test_a_file_the_change_added_is_deleted_and_one_it_deleted_comes_back(tmp_path):
    new = "comment: added by 7\n"
    import shutil

    root = tmp_path / "m2"
    shutil.copytree(EXAMPLE, root)
    (root / "warehouse.yaml").unlink()  # #7 deleted it
    (root / "extra.yaml").write_text(new)  # and added this
    main = Snapshot(root, None, load_config(root))
    wh = (EXAMPLE / "warehouse.yaml").read_text()
    changes = build(main, raw({"extra.yaml": (None, new), "warehouse.yaml": (wh, None)}))
    assert changes.files == {"extra.yaml": None, "warehouse.yaml": wh}
    (root / "extra.yaml").write_text(new + "# edited since\n")
    main = Snapshot(root, None, load_config(root))
    with pytest.raises(FieldErrors, match=r"extra.yaml \(added by the change, edited since\)"):
        build(main, raw({"extra.yaml": (None, new), "warehouse.yaml": (wh, None)}))


def test_nothing_left_to_revert_is_said(base):
    with pytest.raises(FieldErrors, match="nothing to revert"):
        build(base, raw({"user.yaml": (BEFORE, AFTER)}))  # the base branch is as it was before #7


def test_texts_come_from_the_application_never_from_the_request_and_sizes_are_bounded(base):
    bad = raw({"user.yaml": (BEFORE, AFTER)})
    del bad[SOURCES]
    with pytest.raises(FieldErrors, match="could not be read"):
        REVERT.parse(bad, base)
    for files in (["../etc/passwd"], ["/abs.yaml"], [f"f{i}.yaml" for i in range(201)], []):
        with pytest.raises(FieldErrors) as err:
            REVERT.parse({**raw({"user.yaml": (BEFORE, AFTER)}), "files": files}, base)
        assert "files" in err.value.by_field()
    with pytest.raises(FieldErrors) as err:
        REVERT.parse({**raw({"user.yaml": (BEFORE, AFTER)}), "merged_sha": "HEAD", "extra": 1}, base)
    assert {"merged_sha", "extra"} <= set(err.value.by_field())
    assert REVERT.sources(raw({"user.yaml": (BEFORE, AFTER)})) == [(B, "user.yaml"), (A, "user.yaml")]


def test_the_stored_request_rebuilds_the_same_change(tmp_path):
    main = main_with(tmp_path, **{"user.yaml": AFTER})
    request = REVERT.parse(raw({"user.yaml": (BEFORE, AFTER)}), main)
    stored = REVERT.to_dict(request)
    assert SOURCES not in stored and "texts" not in stored  # a pull request body stays small: commits, not texts
    again = REVERT.parse({**stored, SOURCES: raw({"user.yaml": (BEFORE, AFTER)})[SOURCES]}, main)
    assert REVERT.build(main, again).files == {"user.yaml": BEFORE}


def test_the_revert_is_no_recipe_people_can_pick_and_is_urgent():
    assert "revert" not in RECIPES and SYSTEM_RECIPES["revert"] is REVERT is recipe_named("revert")
    assert REVERT.urgent and not any(r.urgent for r in RECIPES.values())


def test_merge_identities_hold_for_any_texts():
    from hypothesis import given, settings, strategies as st

    texts = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "- X\n", "\n"]), max_size=12)

    @settings(max_examples=300, deadline=None)
    @given(texts, texts)
    def run(base, other):
        for got in (merge3.merge(base, base, other), merge3.merge(base, other, base), merge3.merge(base, other, other)):
            assert got.clean and got.lines == other  # one side changed (or both alike): that change, exactly

    run()
