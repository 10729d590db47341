"""The Access review page under AppTest on the demo account: admins see every item and the report, a
reviewer decides their items, a requester with nothing assigned sees nothing of who holds what."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import campaigns
from tests.portal_support import as_viewer
from tests.test_usage_evidence import EXPECTED

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    return path


@pytest.fixture
def campaign(workspace, services, people):
    services.sync_demo_account(generate=True, query_rows=500)
    return campaigns.start(services, people["admin"], "all", services.clock().date() + dt.timedelta(days=7), "Q1")


def page(actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "access_review.py"), default_timeout=TIMEOUT)
    as_viewer(at, actor)
    return at.run()


def test_an_admin_sees_every_grant_with_its_verdict_and_the_report(campaign, people):
    at = page(people["admin"])
    assert not at.exception
    table = at.dataframe[0].value
    # "unused" says for how long: the campaign's access_unused_days
    assert {(r["User"], r["Business role"]): r["Verdict"] for _, r in table.iterrows()} == {
        k: "unused 90 days" if v == "unused" else v for k, v in EXPECTED.items()}
    assert [str(m.value) for m in at.metric] == [str(len(EXPECTED)), "0", str(len(EXPECTED)), "0"]
    at.toggle(key="access_review.report").set_value(True).run()
    assert not at.exception
    assert {b.label for b in at.get("download_button")} >= {"CSV", "JSON"}
    assert any("Access review #" in t.value for t in at.text)


def test_a_reviewer_records_a_revocation(campaign, services, people):
    at = page(people["approver"])
    assert not at.exception
    item = next(i for i in campaigns.store_for(services).items(campaign.id) if i.user == "SROSSI")
    at.selectbox(key="access_review.item").set_value(item.id).run()
    at.radio(key="access_review.decision").set_value(campaigns.REVOKE)
    at.text_input(key=f"access_review.reason.{item.id}").input("no use in a year")
    next(b for b in at.button if b.label == "Record decision").click().run()
    assert not at.exception
    done = campaigns.store_for(services).item(item.id)
    assert done.decision == campaigns.REVOKE and done.decided_by == "approver" and done.reason == "no use in a year"
    assert any("Open the requests" == b.label for b in at.button)
    assert [s.value for s in at.success] == ["Recorded: revoke SROSSI's ANALYST."]
    assert any(re.match(r"Decided so far: revoke by approver on \d{4}-\d\d-\d\d \d\d:\d\d UTC: ", t.value) and t.value.endswith(
        ": no use in a year. A new decision replaces it until the requests are opened.") for t in at.text)


def test_a_requester_with_nothing_assigned_sees_no_grant(campaign, people):
    at = page(people["requester"])
    assert not at.exception
    assert [i.value for i in at.info] == ["No access review has items for you."]
    assert len(at.dataframe) == 0


def test_campaign_tables_that_cannot_be_read_give_a_message_naming_the_statement_not_a_traceback(workspace, people,
                                                                                                 monkeypatch):
    """With audit_log = "snowflake" and SNOWTOWER_CAMPAIGNS missing, the page says which statement to run."""
    from app.snowflake_tables import TableError

    class Missing:
        def list(self):
            raise TableError("the campaign records cannot be read or written: the table SNOWTOWER.APP.SNOWTOWER_CAMPAIGNS "
                             "does not exist or the role SNOWTOWER_APP cannot see it: an administrator runs "
                             "deploy/setup.sql step 4", setup=True)

    monkeypatch.setattr(campaigns, "store_for", lambda services: Missing())
    at = page(people["admin"])
    assert not at.exception
    [error] = at.error
    assert error.value.startswith("the campaign records cannot be read") and "deploy/setup.sql step 4" in error.value
    assert not at.dataframe


def test_each_campaign_shows_its_own_items_and_a_reminder_link_opens_it(campaign, services, people, monkeypatch):
    """Admins list every campaign; the page reads the items of the one shown (and only those: with a
    campaign of 15,000 items a year, reading all of them on every run was the page's largest cost)."""
    analysts = campaigns.start(services, people["admin"], "role:ANALYST", services.clock().date() + dt.timedelta(days=7),
                               "Analysts")
    read = []
    items = campaigns.SqliteCampaignStore.items
    monkeypatch.setattr(campaigns.SqliteCampaignStore, "items", lambda self, cid: read.append(cid) or items(self, cid))
    at = AppTest.from_file(str(ROOT / "pages" / "access_review.py"), default_timeout=TIMEOUT)
    as_viewer(at, people["admin"])
    at.query_params["campaign"] = str(campaign.id)  # a reminder's link
    at.run()
    assert not at.exception
    assert at.selectbox(key="access_review.campaign").value == campaign.id
    assert len(at.dataframe[0].value) == len(EXPECTED) and read == [campaign.id]
    at.selectbox(key="access_review.campaign").set_value(analysts.id).run()
    assert {r["User"] for _, r in at.dataframe[0].value.iterrows()} == {"OBRENNAN", "HCHO", "NJENSEN", "DPRICE", "SROSSI"}
    # the requester reviews nothing: nothing is shown, though every campaign was looked through
    at = page(people["requester"])
    assert [i.value for i in at.info] == ["No access review has items for you."]
