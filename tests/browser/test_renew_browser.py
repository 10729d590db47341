"""Renew in a real browser against a real `snowtower demo`: access ending within 14 days shows on Home with
a Renew button; Renew opens the grant form filled in, linked to the earlier request; submitting opens a
normal grant request that renews it."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_demo_flow import demo, idle, shot, sign_in  # noqa: F401 (fixtures)
from tests.browser.test_recipe_pages_browser import main_area, press

pytestmark = pytest.mark.browser
SOON = dt.date.today() + dt.timedelta(days=6)


def test_renew_prefills_the_grant_form_and_submits_a_linked_request(demo, browser, people):  # noqa: F811
    from app.ending_soon import ending_soon
    from app.services import build_services
    from app.settings import load_settings
    from tests.test_expire import land

    url, workspace = demo
    services = build_services(load_settings(workspace))
    first = land(services, people, "grant-role", {"name": "MOKAFOR", "business_roles": ["ANALYST"],
                                                  "until": SOON.isoformat(), "justification": "Quarter-end close work."})

    page = sign_in(browser, url, "requester")
    row = main_area(page).get_by_text(f"MOKAFOR · ANALYST · until {SOON.isoformat()}")
    row.wait_for()
    shot(page, "renew-01-home")
    press(page, "Renew")
    page.get_by_text("Renewing ANALYST for MOKAFOR").wait_for()
    shot(page, "renew-01b-form")
    justification = main_area(page).get_by_role("textbox", name="Justification", exact=True)
    # Filled by the run the Renew button started (under load the box may draw before its value arrives).
    expect(justification).to_have_value(re.compile(re.escape(f"Renewal of #{first.id} (until {SOON.isoformat()}): ")))
    expect(main_area(page).get_by_role("textbox", name="Renews request")).to_have_value(str(first.id))  # shown: Renew filled it
    justification.fill(justification.input_value() + "the close runs late this quarter.")
    press(page, "Preview")
    main_area(page).get_by_role("button", name="Submit request").wait_for()
    shot(page, "renew-02-preview")
    press(page, "Submit request")
    page.get_by_text("Submitted as").wait_for()

    renewal = services.changes.list(requester="requester")[0]
    assert renewal.id != first.id and renewal.recipe == "grant-role" and renewal.request["renews"] == first.id
    assert renewal.title == f"Renew ANALYST of MOKAFOR until {(SOON + dt.timedelta(days=90)).isoformat()}"
    assert renewal.files == ["__snowtower/expiry.yaml"]  # the role stays; only its end date moves
    assert [e.granted_by.id for e in ending_soon(services, people["requester"])] == [first.id]
