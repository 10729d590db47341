"""Every recipe page under AppTest: pickers from the config, errors by the fields, key generation, resubmit."""
import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from core.changes.model import Status
from portal import ui
from app.operations import PreviewRequest, RequestChanges, SubmitRequest
from recipes import RECIPES
from tests.portal_support import page_app
from tests.test_pages import TIMEOUT, page, texts

WHY = "Needed for the pricing project this quarter."


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    return path


def preview(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Preview").click().run()


def click(at: AppTest, label: str) -> AppTest:
    return next(b for b in at.button if b.label == label).click().run()


@pytest.mark.parametrize("key", [k for keys in ui.REQUEST_SECTIONS.values() for k in keys])
def test_every_request_page_renders_and_refuses_an_empty_form(workspace, people, key):
    at = page(key.removesuffix(".py"), people["requester"])
    assert not at.exception
    at = preview(at)
    assert not at.exception
    assert any("nothing was written" in e.value for e in at.error)
    assert any("Justification is required" in e.value for e in at.error)
    assert ui.services().store.list() == []


def test_grant_until_a_date_previews_the_end_date_and_submits(workspace, people):
    at = page("grant_role", people["requester"])
    config = ui.services().snapshot().config
    from recipes.common import role_labels, user_labels

    # Pickers speak in people's names and each role's description and grants; the values stay the names.
    users, roles = user_labels(ui.services().snapshot()), role_labels(ui.services().snapshot())
    assert at.selectbox(key="grant_role.name").options == [users[u] for u in config.users]
    assert users["MOKAFOR"] == "Marcus Okafor (MOKAFOR)"
    assert at.multiselect(key="grant_role.business_roles").options == [roles[r] for r in config.business_roles]
    assert roles["FINANCE_ANALYST"] == ("FINANCE_ANALYST: Read finance models and raw Stripe data for revenue reporting · "
                                        "reads ANALYTICS.MARTS, ANALYTICS.FINANCE; 2 technical role(s); warehouse ANALYST_WH")
    later = dt.date.today() + dt.timedelta(days=30)
    at.selectbox(key="grant_role.name").set_value("MOKAFOR")
    at.multiselect(key="grant_role.business_roles").set_value(["ANALYST"])
    at.radio(key="grant_role.until").set_value("A date")
    at.date_input(key="grant_role.until.picked").set_value(later)
    at.text_area(key="grant_role.justification").input(WHY)
    at = preview(at)
    diff = at.code[0].value
    assert "+    - ANALYST\n" in diff and f"+    until: {later.isoformat()}" in diff  # the end date in the expiry file
    assert "+++ b/snowddl/__snowtower/expiry.yaml" in diff
    at = click(at, "Submit request")
    assert any("Submitted as #1" in s.value for s in at.success)
    [cr] = ui.services().store.list()
    assert cr.request["until"] == later.isoformat() and cr.requester == "requester"


def test_change_warehouse_starts_from_the_current_values_and_shows_the_credits(workspace, people):
    at = page("change_warehouse", people["requester"])
    at.selectbox(key="change_warehouse.name").set_value("ANALYST_WH").run()
    assert at.selectbox(key="change_warehouse.size").value == "SMALL"
    assert at.text_input(key="change_warehouse.auto_suspend").value == "120"
    at.selectbox(key="change_warehouse.size").set_value("LARGE")
    at.text_area(key="change_warehouse.justification").input(WHY)
    at = preview(at)
    assert "+6 credit(s) per running hour" in texts(at)
    assert any(m.label == "Requested" and "+6" in str(m.delta) for m in at.metric)


def test_generated_key_is_offered_once_and_only_the_public_key_is_kept(workspace, people):
    at = page("new_service_user", people["requester"])
    at.text_input(key="new_service_user.passphrase").input("a passphrase to protect it")
    at = click(at, "Generate a key pair for me")
    public = at.text_area(key="new_service_user.rsa_public_key").value
    assert public.startswith("-----BEGIN PUBLIC KEY-----")
    downloads = at.get("download_button")
    assert len(downloads) == 1 and "private key" in downloads[0].proto.label
    assert at.text_input(key="new_service_user.passphrase").value == ""
    assert "new_service_user.private_once" not in at.session_state  # popped when the download was offered
    at = at.run()
    assert at.get("download_button") == []  # offered once
    at.text_input(key="new_service_user.name").input("svc_pricing")
    at.multiselect(key="new_service_user.business_roles").set_value(["LOADER"])
    at.text_area(key="new_service_user.justification").input(WHY)
    at = click(preview(at), "Submit request")
    [cr] = ui.services().store.list()
    assert cr.request["rsa_public_key"] in "".join(public.splitlines())
    assert b"PRIVATE" not in open(ui.services().workspace.db_path, "rb").read()


def test_my_requests_shows_the_reviewers_comment_and_resubmits_on_the_same_branch(workspace, people):
    services = ui.services()
    recipe = RECIPES["grant-role"]
    raw = {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": WHY}
    cr = SubmitRequest(services, people["requester"], recipe, raw, PreviewRequest(services, recipe, raw).execute().base_sha).execute()
    RequestChanges(services, people["approver"], cr.id, "Use FINANCE_ANALYST instead").execute()
    at = page("my_requests", people["requester"])
    assert any("asked for changes" in w.value for w in at.warning)
    assert [t.value for t in at.text] == ["Use FINANCE_ANALYST instead"]  # the comment, as plain text
    assert "Changes requested" in texts(at)
    # The page hands the request to the recipe's page, which starts from its fields.
    from portal.recipe_form import PENDING_KEY

    at = page("grant_role", people["requester"])
    at.session_state[PENDING_KEY] = {"recipe": "grant-role", "id": cr.id, "ref": cr.ref, "raw": cr.request,
                                     "comment": "Use FINANCE_ANALYST instead"}
    at = at.run()
    assert at.multiselect(key="grant_role.business_roles").value == ["ANALYST"]
    assert any("Editing **#1**" in i.value for i in at.info)
    at.multiselect(key="grant_role.business_roles").set_value(["FINANCE_ANALYST"])
    at = click(preview(at), "Resubmit request")
    again = services.changes.get(cr.id)
    assert again.status == Status.OPEN and again.branch == cr.branch and again.request["business_roles"] == ["FINANCE_ANALYST"]
    at = page("my_requests", people["requester"])
    assert "Resubmitted" in texts(at)


def test_home_lists_every_request_page(workspace, people):
    at = page("home", people["requester"])
    links = " ".join(str(link.proto.label) for link in at.get("page_link"))
    for keys in ui.REQUEST_SECTIONS.values():
        for key in keys:
            assert ui.PAGES[key].title in links, key
    captions = " ".join(c.value for c in at.caption)  # each link's description, under it (it wraps; a link does not)
    assert "until a date" in captions and "credits" in captions


def test_a_typed_end_date_survives_to_the_committed_expiry_file(workspace, people):
    # Found in a browser: 2027/01/31 typed into the date picker became 7013-02-02, then nothing, and the
    # grant went through as permanent. A typed date is now read whole by the recipe, or refused.
    from app.operations import ApproveRequest, MergeRequest

    later = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=40)
    at = page("grant_role", people["requester"])
    assert at.radio(key="grant_role.until").value is None  # nothing chosen: never permanent by default
    at.selectbox(key="grant_role.name").set_value("MOKAFOR")
    at.multiselect(key="grant_role.business_roles").set_value(["ANALYST"])
    at.text_area(key="grant_role.justification").input(WHY)
    at = preview(at)
    assert any("How long choose how long" in e.value for e in at.error)  # no choice: a field error
    at.radio(key="grant_role.until").set_value("A date")
    at.text_input(key="grant_role.until.typed").input(later.strftime("%Y/%m/%d"))  # as typed, with slashes
    at = preview(at)
    assert any(f"until {later.isoformat()}" in m.value for m in at.markdown)  # the end date as a chip
    at = click(at, "Submit request")
    [cr] = ui.services().store.list()
    assert cr.request["until"] == later.isoformat()
    services = ui.services()
    ApproveRequest(services, people["approver"], cr.id, "ok").execute()
    MergeRequest(services, people["admin"], cr.id, confirm_unsafe=True).execute()
    committed = services.snapshot().text("__snowtower/expiry.yaml")
    assert f"MOKAFOR:\n  ANALYST:\n    until: {later.isoformat()}" in committed


@pytest.mark.parametrize("typed, message", [
    ("7013-02-02", "must be within three years"),  # what the picker made of 2027/01/31
    ("2027/13/45", "must be a date written YYYY-MM-DD"),
    ("31.01.2027", "must be a date written YYYY-MM-DD"),
])
def test_a_typed_end_date_that_does_not_parse_or_lies_too_far_is_a_field_error(workspace, people, typed, message):
    at = page("grant_role", people["requester"])
    at.selectbox(key="grant_role.name").set_value("MOKAFOR")
    at.multiselect(key="grant_role.business_roles").set_value(["ANALYST"])
    at.text_area(key="grant_role.justification").input(WHY)
    at.radio(key="grant_role.until").set_value("A date")
    at.text_input(key="grant_role.until.typed").input(typed)
    at = preview(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not [b for b in at.button if b.label == "Submit request"]


def test_the_server_refuses_an_end_date_beyond_grant_max_days_and_an_empty_choice(workspace, people, monkeypatch):
    from recipes import FieldErrors

    monkeypatch.setenv("SNOWTOWER_GRANT_MAX_DAYS", "30")
    ui._services.clear()
    services = ui.services()
    today = services.clock().date()
    base = {"name": "MOKAFOR", "business_roles": ["ANALYST"], "justification": WHY}
    assert PreviewRequest(services, RECIPES["grant-role"], {**base, "until": (today + dt.timedelta(days=30)).isoformat()}).execute().ok
    far = PreviewRequest(services, RECIPES["grant-role"], {**base, "until": (today + dt.timedelta(days=31)).isoformat()}).execute()
    assert "at most 30 days" in far.field_errors["until"]
    assert "choose how long" in PreviewRequest(services, RECIPES["grant-role"], {**base, "until": ""}).execute().field_errors["until"]
    assert PreviewRequest(services, RECIPES["grant-role"], {**base, "until": "permanent"}).execute().ok
    with pytest.raises(FieldErrors, match="at most 30 days"):  # the submit computes it again on the server
        SubmitRequest(services, people["requester"], RECIPES["grant-role"],
                      {**base, "until": (today + dt.timedelta(days=31)).isoformat()}, far.base_sha).execute()


def test_renews_request_shows_only_when_renew_filled_it(workspace, people):
    from portal.recipe_form import PENDING_KEY

    later = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=90)
    fresh = page("grant_role", people["requester"])
    assert "grant_role.renews" not in {w.key for w in fresh.text_input}  # a new grant: no such field
    at = page_app("grant_role", TIMEOUT)
    from tests.portal_support import as_viewer

    as_viewer(at, people["requester"])
    at.session_state[PENDING_KEY] = {"recipe": "grant-role", "id": None, "ref": None, "comment": "", "note": "Renewing.",
                                     "raw": {"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": later.isoformat(),
                                             "justification": "Renewal of #7 (until 2026-01-01): ", "renews": 7}}
    at = at.run()
    assert not at.exception
    renews = at.text_input(key="grant_role.renews")
    assert renews.value == "7" and renews.disabled  # filled by Renew, read-only
    assert at.text_area(key="grant_role.justification").value == "Renewal of #7 (until 2026-01-01): "
    assert at.radio(key="grant_role.until").value == "A date"
    assert at.text_input(key="grant_role.until.typed").value == later.isoformat()
