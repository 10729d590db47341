"""My requests' Withdraw button and the recipe form's duplicate warning, under Streamlit's AppTest."""
from __future__ import annotations

from core.changes.model import Status
from portal import ui
from tests.test_pages import _submit, fill_new_user, page, texts, workspace  # noqa: F401 (fixture)


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_withdraw_asks_to_confirm_then_closes_the_request(workspace, people, new_user_raw):
    cr = _submit(ui.services(), people["requester"], new_user_raw())
    at = page("my_requests", people["requester"])
    at = button(at, "Withdraw").click().run()
    assert ui.services().changes.get(cr.id).status == Status.OPEN  # one click only asks
    at = button(at, "Keep it").click().run()
    assert [b.label for b in at.button if b.label.startswith("Withdraw")] == ["Withdraw"]
    at = button(at, "Withdraw").click().run()
    at.text_input(key=f"my_requests.reason.{cr.id}").input("Jane no longer joins.")
    at = button(at, f"Withdraw {cr.ref}").click().run()
    assert not at.exception
    assert any(f"{cr.ref} was withdrawn" in s.value for s in at.success)
    assert ui.services().changes.get(cr.id).status == Status.WITHDRAWN
    shown = texts(at)
    assert "withdrawn" in shown and "Withdrawn" in shown  # the badge and the timeline
    assert not [b for b in at.button if b.label.startswith("Withdraw")]  # nothing left to withdraw


def test_a_withdraw_click_after_the_request_left_the_queue_says_so(workspace, people, new_user_raw):
    from app.operations import RejectRequest

    cr = _submit(ui.services(), people["requester"], new_user_raw())
    at = page("my_requests", people["requester"])
    at = button(at, "Withdraw").click().run()
    RejectRequest(ui.services(), people["approver"], cr.id, "not needed").execute()  # meanwhile, elsewhere
    at = button(at, f"Withdraw {cr.ref}").click().run()
    assert not at.exception
    assert any(f"{cr.ref} is already rejected by approver" in e.value for e in at.error)
    assert ui.services().changes.get(cr.id).status == Status.REJECTED


def test_submitting_the_same_change_again_warns_and_links_to_the_open_one(workspace, people, public_pem):
    values = dict(name="jane_doe", first_name="Jane", last_name="Doe", email="jane@cascaderidge.example",
                  rsa_public_key=public_pem, business_roles=["ANALYST"], default_warehouse="ANALYST_WH",
                  justification="Joins the marketing analytics team.")
    at = fill_new_user(page("new_user", people["requester"]), **values)
    at = button(at, "Submit request").click().run()
    assert any("Submitted as #1" in s.value for s in at.success)
    at = fill_new_user(page("new_user", people["requester"]), **values)
    at = button(at, "Submit request").click().run()
    assert not at.exception
    [warning] = [w.value.replace("\\", "") for w in at.warning if "same change" in w.value]  # as rendered
    assert warning.startswith("#1 (New person user JANE") and "requested by requester, is still open" in warning
    assert len(ui.services().store.list()) == 1
    links = [e.proto.label for e in at.get("page_link")]
    assert "Follow #1 under My requests" in links
    at = button(at, "Submit anyway").click().run()
    assert any("Submitted as #2" in s.value for s in at.success)
    assert len(ui.services().store.list()) == 2
