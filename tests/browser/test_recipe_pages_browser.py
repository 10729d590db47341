"""Each recipe's page in a real browser against one real `snowtower demo`: a refusal next to the field
(nothing written), then the fixed request previewed, validated and submitted as a one-commit branch.
Also: a key pair generated in the browser, and a request sent back, edited and resubmitted."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from core.changes.git import GitRepo
from tests.browser.test_demo_flow import act, demo, go, idle, shot, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
WHY = "Needed for the pricing project this quarter."


@pytest.fixture(scope="module")
def requester(demo, browser):  # noqa: F811
    url, _ = demo
    return sign_in(browser, url, "requester")


@pytest.fixture(scope="module")
def repo(demo):  # noqa: F811
    return GitRepo(demo[1] / "repo.git")


def branches(repo) -> list[str]:
    return repo.git("for-each-ref", "--format=%(refname:short)", "refs/heads/snowtower").split()


def main_area(page):
    return page.get_by_test_id("stMain")


def fill(page, label: str, value: str) -> None:
    main_area(page).get_by_role("textbox", name=label, exact=True).fill(value)


def option_named(value: str):
    """An option whose words name `value`: the value itself, "Full Name (VALUE)" (people) or "VALUE: what it
    is · what it grants" (business roles)."""
    v = re.escape(value)
    return re.compile(rf"^(?:{v}|.*\({v}\)|{v}: .*)$")


def choose(page, label: str, option: str) -> None:
    main_area(page).get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.keyboard.type(option.split(" (")[0])  # filter: long lists are virtualised
    page.get_by_role("option", name=option_named(option)).first.click()
    idle(page)


def choose_many(page, label: str, options: list[str]) -> None:
    box = main_area(page).get_by_test_id("stMultiSelect").filter(has_text=label)
    for option in options:
        box.locator("input").fill(option)  # filter: long lists are virtualised
        page.get_by_role("option", name=option_named(option)).first.click()
    page.keyboard.press("Escape")
    main_area(page).get_by_role("heading").first.click()  # leave the picker: its long labels' list closes
    idle(page)


def set_date(page, day: dt.date, typed: str | None = None) -> None:
    """How long: "A date", then the end date typed from the keyboard as a person types it (2027/01/31: the
    form that the date picker's own spinbuttons turned into 7013-02-02)."""
    main_area(page).get_by_test_id("stRadio").filter(has_text="How long").get_by_text("A date", exact=True).click()
    box = main_area(page).get_by_role("textbox", name="End date, typed", exact=False)
    box.fill("")  # a request being edited holds its earlier date here
    box.click()
    page.keyboard.type(typed or day.strftime("%Y/%m/%d"), delay=20)
    main_area(page).get_by_role("heading").first.click()  # blur: the widget commits its value
    idle(page)


def press(page, label: str) -> None:
    act(page, lambda: main_area(page).get_by_role("button", name=label, exact=True).click())


def refused(page, repo, message: str) -> None:
    press(page, "Preview")
    page.get_by_text(message).first.wait_for()
    page.get_by_text("nothing was written").wait_for()
    assert not main_area(page).get_by_role("button", name="Submit request").count()


def submitted(page, repo, name: str) -> None:
    before = set(branches(repo))
    press(page, "Preview")
    try:
        page.get_by_text("SnowDDL validation passed").wait_for()
    finally:
        shot(page, f"recipe-{name}-preview")
    press(page, "Submit request")
    page.get_by_text("Submitted as #").wait_for()
    [new] = set(branches(repo)) - before
    assert repo.git("rev-list", "--count", f"main..{new}").strip() == "1"


def open_page(page, link: str) -> None:
    go(page, link)
    page.get_by_test_id("stForm").wait_for()


def test_new_service_user_with_a_generated_key(requester, repo):
    page = requester
    open_page(page, "New service user")
    fill(page, "User name", 'svc"; DROP USER x; --')
    page.get_by_text("No key pair yet?").click()
    generate = main_area(page).get_by_role("button", name="Generate a key pair for me")
    generate.wait_for()
    page.wait_for_timeout(500)  # the expander's opening animation
    generate.click()
    idle(page)
    expect(main_area(page).get_by_role("textbox", name="RSA public key")).to_have_value(re.compile("BEGIN PUBLIC KEY"))
    shot(page, "recipe-key-generated")
    offer = main_area(page).get_by_test_id("stDownloadButton")
    offer.wait_for()
    with page.expect_download() as download:
        offer.get_by_role("button").click()
    assert download.value.suggested_filename == "rsa_key.p8"
    assert "BEGIN PUBLIC KEY" in main_area(page).get_by_role("textbox", name="RSA public key").input_value()
    choose_many(page, "Business roles", ["LOADER"])
    fill(page, "Justification", WHY)
    refused(page, repo, "User name may contain only letters")
    assert "PRIVATE KEY" not in page.content()  # the private key went to the download only
    fill(page, "User name", "svc_pricing")
    submitted(page, repo, "new-service-user")


def test_grant_role_until_a_date(requester, repo):
    page = requester
    open_page(page, "Grant roles")
    choose(page, "User", "MOKAFOR")
    choose_many(page, "Business roles", ["DATA_ENGINEER"])
    fill(page, "Justification", WHY)
    refused(page, repo, "MOKAFOR already has DATA_ENGINEER")
    main_area(page).get_by_test_id("stMultiSelect").filter(has_text="Business roles").get_by_role("button", name="Clear all").click()
    choose_many(page, "Business roles", ["FINANCE_ANALYST"])
    later = dt.date.today() + dt.timedelta(days=45)
    set_date(page, later)
    submitted(page, repo, "grant-role")
    last = branches(repo)[-1]
    assert "    - FINANCE_ANALYST\n" in repo.read_text(last, "snowddl/user.yaml")
    assert f"  FINANCE_ANALYST:\n    until: {later.isoformat()}\n" in repo.read_text(last, "snowddl/__snowtower/expiry.yaml")


def test_revoke_role(requester, repo):
    page = requester
    open_page(page, "Revoke roles")
    choose(page, "User", "PRAMAN")
    choose_many(page, "Business roles to revoke", ["LOADER"])
    fill(page, "Justification", WHY)
    refused(page, repo, "PRAMAN does not have LOADER")
    main_area(page).get_by_test_id("stMultiSelect").filter(has_text="Business roles to revoke").get_by_role("button", name="Clear all").click()
    choose_many(page, "Business roles to revoke", ["ANALYTICS_ENGINEER"])
    submitted(page, repo, "revoke-role")


def test_rotate_key_refuses_a_private_key(requester, repo, public_pem, private_pem):
    page = requester
    open_page(page, "Rotate a key")
    choose(page, "User", "SVC_DBT")
    fill(page, "New RSA public key", private_pem)
    fill(page, "Justification", WHY)
    refused(page, repo, "holds a PRIVATE key")
    assert main_area(page).get_by_role("textbox", name="New RSA public key").input_value() == ""
    fill(page, "New RSA public key", public_pem)
    submitted(page, repo, "rotate-key")


def test_offboard_user(requester, repo):
    page = requester
    open_page(page, "Offboard a user")
    choose(page, "User", "TLINDQVIST")
    fill(page, "Justification", "left")
    refused(page, repo, "Justification is required")
    fill(page, "Justification", "Tomas left the company on Friday.")
    submitted(page, repo, "offboard-user")


def test_new_business_role(requester, repo):
    page = requester
    open_page(page, "New business role")
    fill(page, "Role name", "pricing'analyst")
    choose_many(page, "Read schemas", ["ANALYTICS.MARTS", "RAW.*"])
    choose_many(page, "Warehouses", ["ANALYST_WH"])
    fill(page, "Justification", WHY)
    refused(page, repo, "Role name may contain only letters")
    fill(page, "Role name", "pricing_analyst")
    submitted(page, repo, "new-business-role")


def test_change_business_role(requester, repo):
    page = requester
    open_page(page, "Change a business role")
    choose(page, "Role", "FINANCE_ANALYST")
    fill(page, "Justification", WHY)
    refused(page, repo, "nothing to change")
    choose_many(page, "Read schemas", ["ANALYTICS.MARKETING"])
    submitted(page, repo, "change-business-role")


def test_new_database(requester, repo):
    page = requester
    open_page(page, "New database")
    fill(page, "Database name", "proj_pricing")
    fill(page, "Schemas", "PUBLIC, MODELS")
    choose_many(page, "Business roles to create", ["READ", "WRITE"])
    choose(page, "Dedicated warehouse size", "Small (SMALL)")
    fill(page, "Monthly credit quota", "40")
    fill(page, "Justification", WHY)
    refused(page, repo, "PUBLIC is made by Snowflake itself")
    fill(page, "Schemas", "RAW, MODELS")
    submitted(page, repo, "new-database")
    last = branches(repo)[-1]
    assert repo.read_text(last, "snowddl/PROJ_PRICING/MODELS/params.yaml") is not None
    assert "PROJ_PRICING_WH:" in repo.read_text(last, "snowddl/warehouse.yaml")


def test_new_warehouse(requester, repo):
    page = requester
    open_page(page, "New warehouse")
    fill(page, "Warehouse name", "marketing_wh")
    choose(page, "Size", "X-Small (XSMALL)")
    fill(page, "Auto-suspend (seconds)", "0")
    fill(page, "Justification", WHY)
    refused(page, repo, "Auto-suspend (seconds) must be between 60")
    fill(page, "Auto-suspend (seconds)", "60")
    submitted(page, repo, "new-warehouse")


def test_resize_warehouse_shows_the_credits_difference(requester, repo):
    page = requester
    open_page(page, "Resize a warehouse")
    choose(page, "Warehouse", "DATA_SCIENCE_WH")
    fill(page, "Justification", WHY)
    refused(page, repo, "nothing to change")
    choose(page, "Size", "Large (LARGE)")
    submitted(page, repo, "change-warehouse")
    page.get_by_text("Submitted as #").wait_for()


def test_sent_back_request_is_edited_and_resubmitted(demo, browser, requester, repo):  # noqa: F811
    from core.changes.model import Actor
    from app.operations import PreviewRequest, SubmitRequest
    from app.services import build_services
    from app.settings import load_settings
    from recipes import RECIPES

    url, workspace = demo
    # Its own request, made through the operations on the demo's workspace (the other tests' are theirs).
    services = build_services(load_settings(workspace))
    raw = {"name": "EVASQUEZ", "business_roles": ["FINANCE_ANALYST"], "until": (dt.date.today() + dt.timedelta(days=90)).isoformat(),
           "justification": WHY}
    recipe = RECIPES["grant-role"]
    SubmitRequest(services, Actor("requester", "Riley Requester", roles=("requester",)), recipe, raw,
                  PreviewRequest(services, recipe, raw).execute().base_sha).execute()
    approver = sign_in(browser, url, "approver")
    go(approver, "Review queue")
    filters = main_area(approver).get_by_text("Filter and sort")
    filters.wait_for(timeout=60000)
    filters.click()
    main_area(approver).get_by_role("textbox", name="Search").fill("to EVASQUEZ")  # the queue is long by now
    approver.keyboard.press("Enter")
    idle(approver)
    approver.get_by_role("heading", name="to EVASQUEZ").first.wait_for()  # the only match opens
    approver.get_by_role("textbox", name="Comment for the requester").fill("Two weeks are enough: shorten the end date.")
    approver.get_by_role("button", name="Request changes").click()
    idle(approver)
    approver.get_by_text("Changes requested on").wait_for()
    approver.context.close()

    page = requester
    go(page, "My requests")
    page.get_by_text("Two weeks are enough").first.wait_for()
    branch_before = [b for b in branches(repo) if "evasquez" in b]
    head_before = repo.branch_head(branch_before[0])
    main_area(page).get_by_role("button", name="Edit and resubmit").first.click()
    idle(page)
    page.get_by_text("sent back by a reviewer").wait_for()
    soon = dt.date.today() + dt.timedelta(days=14)
    set_date(page, soon)
    press(page, "Preview")
    page.get_by_text("SnowDDL validation passed").wait_for()
    press(page, "Resubmit request")
    page.get_by_text("again. Follow it").wait_for()
    assert [b for b in branches(repo) if "evasquez" in b] == branch_before  # the same branch
    assert repo.branch_head(branch_before[0]) != head_before
    assert f"until: {soon.isoformat()}" in repo.read_text(branch_before[0], "snowddl/__snowtower/expiry.yaml")
    go(page, "My requests")
    page.get_by_text("Resubmitted").first.wait_for()
    shot(page, "recipe-resubmitted")
