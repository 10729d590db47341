"""Effective access in the portal under AppTest: first in the preview of a grant, and in the review above the diff."""
import pytest

from portal import ui
from tests.test_pages import page

WHY = "Month-end close needs the finance marts."
GAIN = "Elena Vasquez will newly be able to create tables and views in DEV_SANDBOX.SCRATCH."


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    return path


def in_order(node) -> list[tuple[str, str]]:
    """Every element of the page in the order it is drawn: (type, its text)."""
    out = []
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for key in sorted(children):
            out += in_order(children[key])
    elif hasattr(node, "value") or hasattr(node, "body"):
        out.append((type(node).__name__, str(getattr(node, "value", getattr(node, "body", "")))))
    return out


def test_the_preview_of_a_grant_shows_the_access_gained_before_the_diff(workspace, people):
    at = page("grant_role", people["requester"])
    at.selectbox(key="grant_role.name").set_value("EVASQUEZ")
    at.multiselect(key="grant_role.business_roles").set_value(["FINANCE_ANALYST"])
    at.radio(key="grant_role.until").set_value("Permanent")  # how long must be chosen
    at.text_area(key="grant_role.justification").input(WHY)
    at = next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception
    shown = in_order(at.main)
    texts = [t for _, t in shown]
    gain = next(i for i, t in enumerate(texts) if GAIN in t)
    diff = next(i for i, (kind, t) in enumerate(shown) if kind == "Code" and "+    - FINANCE_ANALYST" in t)
    assert gain < diff
    assert any("already reads ANALYTICS.FINANCE, ANALYTICS.MARTS and RAW.STRIPE" in t and "through ANALYTICS_ENGINEER" in t
               for t in texts)


REQUESTS = [
    ("grant-role", {"name": "EVASQUEZ", "business_roles": ["FINANCE_ANALYST"]}, GAIN, "+    - FINANCE_ANALYST"),
    ("revoke-role", {"name": "PRAMAN", "business_roles": ["ANALYTICS_ENGINEER"]},
     "Priya Raman will no longer be able to own new objects in DEV_SANDBOX.DBT_DEV;", "-    - ANALYTICS_ENGINEER"),
    ("change-business-role", {"name": "FINANCE_ANALYST", "schema_read": ["ANALYTICS.MARTS", "ANALYTICS.FINANCE"],
                              "technical_roles": ["STRIPE_READ"], "warehouse_usage": ["ANALYST_WH"]},
     "Business role FINANCE_ANALYST (changed) reaches 2 users: 2 users lose create tables and views in DEV_SANDBOX.SCRATCH.",
     "-    - SCRATCH_CREATE"),
]


@pytest.mark.parametrize("recipe,fields,sentence,line", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_the_review_shows_the_access_change_above_the_diff(workspace, people, recipe, fields, sentence, line):
    from app.operations import PreviewRequest, SubmitRequest
    from recipes import RECIPES

    services = ui.services()
    raw = {**fields, "justification": WHY}
    preview = PreviewRequest(services, RECIPES[recipe], raw).execute()
    assert not preview.field_errors and preview.access.changes
    cr = SubmitRequest(services, people["requester"], RECIPES[recipe], raw, preview.base_sha).execute()
    at = page("review", people["approver"])
    assert not at.exception
    shown = in_order(at.main)
    texts = [t for _, t in shown]
    said = next(i for i, t in enumerate(texts) if sentence in t)
    diff = next(i for i, (kind, t) in enumerate(shown) if kind == "Code" and line in t)
    assert said < diff
    # the same computation as the preview's, from the request's commits
    from app.access import for_request

    assert for_request(services, services.changes.get(cr.id)).to_dict()["access"] == preview.access.to_dict()["access"]
