"""The portal's pages under Streamlit's AppTest: what a signed-in viewer sees and can do."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.changes.model import Status
from portal import ui
from tests.portal_support import as_viewer, page_app

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    return path


def page(name: str, actor) -> AppTest:
    at = page_app(name, TIMEOUT)
    as_viewer(at, actor)
    return at.run()


def fill_new_user(at: AppTest, **values) -> AppTest:
    for key in ("name", "first_name", "last_name", "email", "rsa_public_key", "comment", "justification"):
        if key in values:
            widget = at.text_area(key=f"new_user.{key}") if key in ("rsa_public_key", "justification") else at.text_input(key=f"new_user.{key}")
            widget.input(values[key])
    if "business_roles" in values:
        at.multiselect(key="new_user.business_roles").set_value(values["business_roles"])
    if "default_warehouse" in values:
        at.selectbox(key="new_user.default_warehouse").set_value(values["default_warehouse"])
    return next(b for b in at.button if b.label == "Preview").click().run()


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.error, *at.success, *at.warning, *at.info, *at.caption, *at.code])


def test_new_user_pickers_come_from_the_configuration(workspace, people):
    at = page("new_user", people["requester"])
    assert not at.exception
    services = ui.services()
    config = services.snapshot().config
    from recipes.common import role_labels

    labels = role_labels(services.snapshot())  # each role with its description and what it grants
    assert at.multiselect(key="new_user.business_roles").options == [labels[r] for r in config.business_roles]
    assert labels["ANALYST"].startswith("ANALYST: Read curated marts and marketing models")
    assert at.selectbox(key="new_user.default_warehouse").options[1:] == config.warehouses


def test_bad_input_shows_field_messages_and_writes_nothing(workspace, people, private_pem):
    at = page("new_user", people["requester"])
    at = fill_new_user(at, name="bad name", first_name="Jane", last_name="Doe", email="jane@", rsa_public_key=private_pem,
                       justification="short")
    shown = texts(at)
    assert "User name may contain only letters" in shown
    assert "Email is not a valid email address" in shown
    assert "holds a PRIVATE key" in shown
    assert "Business roles must not be empty" in shown
    assert "Justification is required" in shown
    assert at.text_area(key="new_user.rsa_public_key").value == ""  # the private key is dropped from the form
    assert private_pem.splitlines()[1] not in shown
    assert not [b for b in at.button if b.label == "Submit request"]
    assert ui.services().store.list() == []


def test_preview_then_submit_opens_a_request(workspace, people, public_pem):
    at = page("new_user", people["requester"])
    at = fill_new_user(at, name="jane_doe", first_name="Jane", last_name="Doe", email="jane@cascaderidge.example",
                       rsa_public_key=public_pem, business_roles=["ANALYST"], default_warehouse="ANALYST_WH",
                       justification="Joins the marketing analytics team.")
    assert not at.exception
    assert "+JANE_DOE:" in at.code[0].value
    assert any("validation passed" in s.value for s in at.success)
    assert any("Details: the files this changes" in e.label for e in at.expander)  # files and plan behind Details
    at = at.toggle[0].set_value(True).run()  # "SQL by object", folded inside Details
    sql = "\n".join(c.value for c in at.code if c.language == "sql")  # the offline plan's DDL, by object
    assert 'CREATE USER "JANE_DOE"' in sql and 'GRANT ROLE "ANALYST__B_ROLE" TO ROLE "JANE_DOE__U_ROLE"' in sql
    at = next(b for b in at.button if b.label == "Submit request").click().run()
    assert any("Submitted as #1" in s.value for s in at.success)
    [cr] = ui.services().store.list()
    assert cr.requester == "requester" and cr.status == Status.OPEN


def test_service_user_form_has_no_names_or_email(workspace, people):
    at = page("new_user", people["requester"])
    at.radio(key="new_user.type").set_value("SERVICE").run()
    keys = {w.key for w in at.text_input}
    assert "new_user.first_name" not in keys and "new_user.email" not in keys


def _submit(services, actor, raw):
    from app.operations import PreviewRequest, SubmitRequest
    from recipes import RECIPES

    recipe = RECIPES["new-user"]
    preview = PreviewRequest(services, recipe, raw).execute()
    return SubmitRequest(services, actor, recipe, raw, preview.base_sha).execute()


def test_review_queue_approve_and_merge(workspace, people, new_user_raw):
    at = page("review", people["approver"])
    assert any("Nothing is waiting" in i.value for i in at.info)
    cr = _submit(ui.services(), people["requester"], new_user_raw())
    at = page("review", people["approver"])
    assert "+JANE_DOE:" in at.code[0].value
    assert any('CREATE USER "JANE_DOE"' in c.value for c in at.code if c.language == "sql")  # plan of the commits
    assert not [b for b in at.button if b.label == "Merge and deploy"]  # approvers do not merge
    at = next(b for b in at.button if b.label == "Approve").click().run()
    assert any(f"{cr.ref} approved." in s.value for s in at.success)
    at = page("review", people["admin"])
    at = next(b for b in at.button if b.label == "Merge and deploy").click().run()
    assert any("merged into main and deployed" in s.value for s in at.success)
    assert ui.services().changes.get(cr.id).status == Status.DEPLOYED


def test_own_request_cannot_be_approved_from_the_page(workspace, people, new_user_raw):
    _submit(ui.services(), people["approver"], new_user_raw())
    at = page("review", people["approver"])
    assert any("your own request" in w.value for w in at.warning)
    approve = next(b for b in at.button if b.label == "Approve")
    assert approve.disabled  # the server-side refusal is tested in test_operations


def test_my_requests_shows_the_timeline(workspace, people, new_user_raw):
    at = page("my_requests", people["requester"])
    assert any("not asked for anything" in i.value for i in at.info)
    _submit(ui.services(), people["requester"], new_user_raw())
    at = page("my_requests", people["requester"])
    shown = texts(at)
    assert "#1 New person user JANE_DOE" in shown and "Submitted" in shown


def _links(at) -> dict[str, dict]:
    """Home's page links: label -> {"page": its page's url path, "query": its query string}."""
    return {link.proto.label: {"page": link.proto.page, "query": link.proto.query_string} for link in at.get("page_link")}


def test_home_is_an_inbox_per_role_and_every_count_is_a_link(workspace, people, new_user_raw):
    from app.operations import ApproveRequest

    services = ui.services()
    first = _submit(services, people["requester"], new_user_raw("first_one"))
    second = _submit(services, people["requester"], new_user_raw("second_one"))
    ApproveRequest(services, people["approver"], second.id).execute()

    requester = page("home", people["requester"])
    links = _links(requester)
    assert links["2 of my requests open"]["query"] == "status=open"
    shown = texts(requester)
    assert f"**{first.ref}** New person user FIRST_ONE · next: an approver reviews it" in shown
    assert f"**{second.ref}** New person user SECOND_ONE · next: an admin merges it" in shown
    assert not any("waiting for your review" in label for label in links)  # not an approver

    approver = _links(page("home", people["approver"]))
    # Waiting for this approver: the one they have not approved yet, oldest first, each a link to it.
    assert approver["1 waiting for your review (oldest first)"]["query"] == "status=open"
    [item] = [v for k, v in approver.items() if k.startswith(first.ref)]
    assert item["query"] == f"request={first.id}"
    assert not any(k.endswith("ready to merge") for k in approver)

    admin = _links(page("home", people["admin"]))
    assert admin["1 ready to merge"]["query"] == "status=approved"
    assert any(k.endswith("security findings") for k in admin)
    assert any(k.startswith("Spend in the 30 days to") for k in admin)


def test_a_home_link_opens_the_review_filtered(workspace, people, new_user_raw):
    from app.operations import ApproveRequest

    services = ui.services()
    first = _submit(services, people["requester"], new_user_raw("first_one"))
    second = _submit(services, people["requester"], new_user_raw("second_one"))
    ApproveRequest(services, people["approver"], first.id).execute()
    at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=TIMEOUT)
    as_viewer(at, people["admin"])
    at.query_params["status"] = "approved"
    at = at.run()
    table = next(d.value for d in at.dataframe if "Request" in d.value.columns)
    assert list(table["Request"]) == [first.ref]
    at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=TIMEOUT)
    as_viewer(at, people["admin"])
    at.query_params["request"] = str(first.id)
    at = at.run()
    assert at.subheader[0].value.startswith(f"{first.ref} ") and second.ref != first.ref


def test_entry_script_asks_to_sign_in_and_shows_the_demo_logins(workspace):
    at = AppTest.from_file(str(ROOT / "portal" / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("Demo logins" in i.value for i in at.info)
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert (workspace / "auth.yaml").is_file()
    assert "demo" not in (workspace / "auth.yaml").read_text().split("password:")[1].splitlines()[0]
