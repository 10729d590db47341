"""Adding a recipe end to end takes three places: its module (a typed request declaring its form's fields, parse and build),
its line in recipes.RECIPES and its page's line in portal.ui.PAGE_RECORDS. Here a tiny recipe defined in
the test is registered in those two registries only, and the portal lists it, draws its form at its own
address, previews it and submits it, and `snowtower request` previews it the same way: nothing else
names it. Also: every recipe's fields are derived from its typed request (declared once, on the dataclass)."""
from __future__ import annotations

import json
import typing
from dataclasses import dataclass, fields as dataclass_fields
from pathlib import Path
from typing import Any

import pytest

from core import fields
from core.snowddl.edit import set_fields
from core.snowddl.commit_snapshot import Snapshot
from portal import ui
from portal.cli import main
from recipes import RECIPES, SYSTEM_RECIPES
from recipes.base import FORM, ChangeSet, Collector, Recipe, checked, fields_of, form
from recipes.common import JUSTIFICATION, USER_FILE, edit, existing_user, refuse_unknown
from test_signin import attempt, portal, workspace  # noqa: F401  (workspace: a fixture)
from tests.portal_support import open_address

ROOT = Path(__file__).resolve().parents[1]
WHY = "The team page shows this comment; it is out of date."


# -- the recipe's module (recipes/set_user_comment.py, were it a real one) --------------------------------

@dataclass(frozen=True)
class SetCommentRequest:
    name: str = form("User", "The user whose comment changes.", required=True, kind="select", choices="users")
    comment: str = form("Comment", "One line: team or purpose.", required=True, placeholder="Pricing team")
    justification: str = JUSTIFICATION


def parse_comment(raw: dict[str, Any], base: Snapshot) -> SetCommentRequest:
    c = Collector()
    name, _ = existing_user(c, raw, base)
    comment = c.check(fields.free_text, "comment", raw.get("comment"), required=True, max_len=300)
    why = c.check(fields.justification, raw.get("justification"))
    refuse_unknown(c, raw, SET_USER_COMMENT.fields)
    c.raise_if_any()
    return SetCommentRequest(checked(name), checked(comment), checked(why))


def build_comment(base: Snapshot, req: SetCommentRequest) -> ChangeSet:
    rel = base.file("user")
    text = edit("comment", rel, set_fields, base.text(rel) or "", req.name, {"comment": req.comment})
    return ChangeSet(f"Set the comment of {req.name}", {rel: text}, f"Sets the comment of {req.name}.")


SET_USER_COMMENT: Recipe[SetCommentRequest] = Recipe(
    "set-user-comment", "Set a user's comment", SetCommentRequest, parse_comment, build_comment,
    description="Change the comment on a user", page="set_user_comment", touches=(USER_FILE,),
    intro="Sets the comment SnowDDL writes on the user.",
)
PAGE = ui.PageRecord("set_user_comment", "Set a comment", ":material/edit_note:", "Access")


@pytest.fixture
def registered(monkeypatch):
    """The recipe's line in RECIPES and its page's line in PAGE_RECORDS (the views derive from it)."""
    monkeypatch.setitem(RECIPES, SET_USER_COMMENT.name, SET_USER_COMMENT)
    for name, value in ui.page_views((*ui.PAGE_RECORDS, PAGE)).items():
        monkeypatch.setattr(ui, name, value)


def test_a_registered_recipe_is_listed_drawn_previewed_and_submitted_by_the_portal(workspace, registered):  # noqa: F811
    at = attempt(portal(), "requester", "demo")
    assert "set_user_comment" in ui.REQUEST_SECTIONS["Access"]
    links = {str(link.proto.label) for link in at.get("page_link")}
    assert "Set a comment" in links  # Home's "Ask for", from the registry's request sections
    at = open_address(at, "set_user_comment")
    assert not at.exception
    assert [t.value for t in at.title] == ["Set a user's comment"]
    assert "Sets the comment SnowDDL writes on the user." in [c.value for c in at.caption]
    assert at.text_input(key="set_user_comment.comment").placeholder == "e.g. Pricing team"
    at.selectbox(key="set_user_comment.name").set_value("MOKAFOR")
    at.text_input(key="set_user_comment.comment").input("Pricing team lead")
    at.text_area(key="set_user_comment.justification").input(WHY)
    at = next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception
    assert "-  comment: Senior Data Engineer\n+  comment: Pricing team lead" in at.code[0].value
    at = next(b for b in at.button if b.label == "Submit request").click().run()
    assert not at.exception
    [cr] = ui.services().store.list()
    assert (cr.recipe, cr.requester) == ("set-user-comment", "requester")
    assert cr.request == {"name": "MOKAFOR", "comment": "Pricing team lead", "justification": WHY}


def test_a_registered_recipe_is_previewed_by_the_command_line(tmp_path, capsys, registered):
    code = main(["request", "set-user-comment", "--set", "name=MOKAFOR", "--set", "comment=Pricing team lead",
                 "--set", f"justification={WHY}", "--config", str(ROOT / "snowddl"), "--workspace", str(tmp_path / "ws"),
                 "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    shown = json.loads(out)
    assert (shown["recipe"], shown["title"], shown["files"]) == ("set-user-comment", "Set the comment of MOKAFOR", ["user.yaml"])
    assert "+  comment: Pricing team lead" in shown["diff"] and shown["validation"]["valid"]


@pytest.mark.parametrize("recipe", [*RECIPES.values(), *SYSTEM_RECIPES.values()], ids=lambda r: r.name)
def test_a_recipes_fields_are_declared_once(recipe):
    """A recipe's form fields are its typed request's form() fields (Recipe.fields is derived, never given), each
    named as the request's field, in its order; a recipe sharing another's request type only tailors them. Its
    stored request is then those fields (Recipe.to_dict), unless the recipe stores something else (Recipe.stored)."""
    request_type = typing.get_type_hints(recipe.parse)["return"]
    assert issubclass(request_type, recipe.request), recipe.name  # parse returns the declared request type
    derived = fields_of(recipe.request)
    assert recipe.fields == (recipe.tailor(derived) if recipe.tailor else derived), recipe.name
    assert recipe.fields, recipe.name
    assert [f.name for f in derived] == [f.name for f in dataclass_fields(recipe.request) if FORM in f.metadata], recipe.name
    if recipe.tailor:  # tailoring only leaves fields out or restyles them: never a field the request lacks
        assert {f.name for f in recipe.fields} <= {f.name for f in derived}, recipe.name
    pages = {p.key for p in ui.PAGE_RECORDS}
    assert not recipe.page or recipe.page in pages, recipe.name  # its page is registered
    if recipe.page and ui.PAGES[recipe.page].file is None:  # a page that is its form alone: one recipe's
        assert [r.name for r in RECIPES.values() if r.page == recipe.page] == [recipe.name]


def test_the_test_recipes_fields_are_its_requests():
    """The tiny recipe above declares its fields once, on SetCommentRequest; a shared form value (JUSTIFICATION)
    keeps its name, and one used under another name is refused rather than silently renamed."""
    assert [(f.name, f.label, f.placeholder) for f in SET_USER_COMMENT.fields] == [
        ("name", "User", ""), ("comment", "Comment", "Pricing team"), ("justification", "Justification", "")]
    shared = form("Why", required=True)  # not JUSTIFICATION: a dataclass records its name on the shared value

    @dataclass(frozen=True)
    class Asked:
        why: str = shared

    @dataclass(frozen=True)
    class Renamed:
        because: str = shared

    with pytest.raises(TypeError, match="shared form value"):
        fields_of(Asked)


# -- a page's role is checked by the page itself, whatever the navigation shows ----------------------------

@pytest.fixture
def registered_for_admins(monkeypatch):
    """The tiny recipe above, its page registered for admins only (PageRecord role="admin")."""
    monkeypatch.setitem(RECIPES, SET_USER_COMMENT.name, SET_USER_COMMENT)
    record = ui.PageRecord("set_user_comment", "Set a comment", ":material/edit_note:", "Access", role="admin")
    for name, value in ui.page_views((*ui.PAGE_RECORDS, record)).items():
        monkeypatch.setattr(ui, name, value)


def _run_as(key: str, actor):
    from tests.portal_support import as_viewer, page_app

    at = page_app(key, 30)
    as_viewer(at, actor)
    return at.run()


def test_a_recipe_page_with_a_role_refuses_a_viewer_without_it_itself(workspace, registered_for_admins, people):  # noqa: F811
    """A page's role is its record's, and every page checks it itself (the navigation is not the guard): a
    generated recipe page whose record names a role refuses a viewer without it, and shows no form."""
    at = _run_as("set_user_comment", people["requester"])
    assert not at.exception
    assert "Set a comment is for admins" in " ".join(e.value for e in at.error)
    assert not at.button and not at.text_input and not at.selectbox  # no form, no preview, no submit
    at = _run_as("set_user_comment", people["admin"])
    assert not at.exception and "Preview" in [b.label for b in at.button]


@pytest.mark.parametrize("key", [p.key for p in ui.PAGE_RECORDS if p.role])
def test_every_restricted_page_refuses_a_viewer_without_its_role_when_run_directly(workspace, people, key):  # noqa: F811
    """Every page whose record names a role, run by itself (not through the navigation), for a requester."""
    at = _run_as(key, people["requester"])
    assert not at.exception, key
    assert "is for" in " ".join(e.value for e in at.error), key
    assert not at.button and not at.dataframe, key
