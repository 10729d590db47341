"""The review queue and detail page (pages/review.py) under AppTest, and the merge's second confirmation
of unsafe statements (app/operations/merge.py): what an approver or admin sees and can do."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.audit_record import REFUSED, AuditQuery
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, RejectRequest, SubmitRequest
from core.changes.base import ChangeError
from core.changes.model import Status
from portal import ui
from recipes import RECIPES
from tests.portal_support import as_viewer

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    return path


def page(actor) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=TIMEOUT)
    as_viewer(at, actor)
    return at.run()


def submit(actor, recipe: str, raw: dict):
    services = ui.services()
    preview = PreviewRequest(services, RECIPES[recipe], raw).execute()
    assert preview.ok, (preview.field_errors, preview.validation)
    return SubmitRequest(services, actor, RECIPES[recipe], raw, preview.base_sha).execute()


def big_warehouse(name="huge_wh"):
    return {"name": name, "size": "XLARGE", "auto_suspend": 60, "justification": "Month-end close needs the power."}


def revoke(name="PRAMAN"):
    return {"name": name, "business_roles": ["ANALYTICS_ENGINEER"], "justification": "Moved to another team."}


COLUMN = {"review.table": "Request", "review.flags": "Level", "review.request": "Field", "plan": "Statements"}


def _frame(at, key):
    """The table `key` of the page, known by a column only it has (AppTest does not expose table keys)."""
    column = COLUMN["plan" if key.startswith("review.plan") else key]
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table {key}")


# A new database with two schemas, its three business roles, a warehouse and a budget: about 210 statements.
NEW_DATABASE = {"name": "big_db", "schemas": "raw,models", "business_roles": "READ,WRITE,OWNER", "size": "XSMALL",
                "credit_quota": 100, "justification": "A new data product."}


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_the_queue_lists_open_requests_with_approvals_validation_and_risk(workspace, people, new_user_raw):
    wh = submit(people["requester"], "new-warehouse", big_warehouse())
    user = submit(people["requester"], "new-user", new_user_raw())
    at = page(people["approver"])
    queue = _frame(at, "review.table")
    assert list(queue["Request"]) == [user.ref, wh.ref]  # newest first
    row = queue.set_index("Request").loc[wh.ref]
    assert (row["Kind"], row["Requester"], row["Approvals"], row["Validation"], row["Status"]) == \
        ("new-warehouse", "Riley Requester · requester", "0 of 1", "passed", "open")  # full name, then login
    assert row["Risk"] == "medium"  # an XLARGE warehouse, above the LARGE threshold
    assert queue.set_index("Request").loc[user.ref, "Risk"] == "medium"  # a PERSON user without an MFA policy

    at.multiselect(key="review.kinds").set_value(["new-warehouse"]).run()
    assert list(_frame(at, "review.table")["Request"]) == [wh.ref]
    at.multiselect(key="review.kinds").set_value([]).run()
    at.text_input(key="review.search").input("jane").run()
    assert list(_frame(at, "review.table")["Request"]) == [user.ref]
    at.text_input(key="review.search").input("").run()
    at.selectbox(key="review.sort").set_value("Oldest").run()
    assert list(_frame(at, "review.table")["Request"]) == [wh.ref, user.ref]
    at.multiselect(key="review.risk").set_value(["high"]).run()
    assert any("No request matches" in i.value for i in at.info)


def test_the_detail_shows_the_change_first_and_each_flag_with_its_line(workspace, people):
    cr = submit(people["requester"], "new-warehouse", big_warehouse())
    at = page(people["approver"])
    assert at.markdown[[m.value for m in at.markdown].index("**The change**") + 0].value == "**The change**"
    assert at.code[0].language == "diff" and "+HUGE_WH:" in at.code[0].value  # the diff is the first code block
    flags = _frame(at, "review.flags")
    [row] = flags[flags["Risk"].str.contains("HUGE_WH")].to_dict("records")
    lines = ui.services().changes.config_at(cr.head_sha).joinpath("warehouse.yaml").read_text().split("\n")
    number = lines.index("  size: XLARGE") + 1
    assert lines[lines.index("HUGE_WH:") + 1] == "  size: XLARGE"
    assert row == {"Level": "medium", "Risk": "warehouse HUGE_WH is XLARGE, above the LARGE threshold",
                   "Where": f"warehouse.yaml:{number}", "Line": "  size: XLARGE"}
    request = _frame(at, "review.request")
    assert dict(zip(request["Field"], request["Value"], strict=True))["size"] == "XLARGE"
    assert any(t.value == "Month-end close needs the power." for t in at.text)  # justification as plain text
    assert any("Projected monthly cost" in m.value for m in at.markdown)  # a warehouse request has a cost


def test_hostile_text_is_shown_as_plain_text(workspace, people):
    raw = big_warehouse()
    raw["justification"] = "**urgent** <img src=x onerror=alert(1)> [click](http://evil.example)"
    submit(people["requester"], "new-warehouse", raw)
    at = page(people["approver"])
    assert any(t.value == raw["justification"] for t in at.text)
    assert not any("evil.example" in m.value or "<img" in m.value for m in at.markdown)


def test_approve_shows_the_approved_state_on_the_same_run(workspace, people):
    cr = submit(people["requester"], "new-warehouse", big_warehouse())
    at = page(people["approver"])
    at = button(at, "Approve").click().run()
    assert any(f"{cr.ref} approved." in s.value for s in at.success)
    done = button(at, "Approved by you")
    assert done.disabled
    assert not [b for b in at.button if b.label == "Approve"]
    assert any(":violet-badge[approved]" in m.value and "approvals 1 of 1" in m.value for m in at.markdown)
    assert _frame(at, "review.table").set_index("Request").loc[cr.ref, "Approvals"] == "1 of 1"


def test_unsafe_statements_need_a_second_confirmation_to_merge(workspace, people):
    cr = submit(people["requester"], "revoke-role", revoke())
    services = ui.services()
    ApproveRequest(services, people["approver"], cr.id).execute()
    assert services.plan(cr.base_sha, cr.head_sha).unsafe_count >= 1  # a REVOKE

    # On the server: refused and audited without the confirmation, whatever the page sent.
    with pytest.raises(ChangeError, match="unsafe statement"):
        MergeRequest(services, people["admin"], cr.id).execute()
    [record] = services.audit.search(AuditQuery(action="merge", request_id=cr.id))
    assert (record.actor, record.outcome) == ("admin", REFUSED) and "unsafe statement" in record.reason
    assert services.changes.get(cr.id).status == Status.APPROVED

    # On the page: the merge button waits for the checkbox, then merges.
    at = page(people["admin"])
    assert button(at, "Merge and deploy").disabled
    revokes = _frame(at, "review.flags")
    assert any(revokes["Risk"].str.startswith("revokes from"))
    at.checkbox(key=f"review.unsafe.{cr.id}.{cr.head_sha}").check().run()
    at = button(at, "Merge and deploy").click().run()
    assert any("merged into main and deployed" in s.value for s in at.success)
    assert services.changes.get(cr.id).status == Status.DEPLOYED
    assert any(f"{cr.ref} is deployed" in i.value for i in at.info)  # the same run shows the new state


def test_closed_requests_can_be_searched(workspace, people, new_user_raw):
    services = ui.services()
    kept = submit(people["requester"], "new-user", new_user_raw("kept_open"))
    gone = submit(people["requester"], "new-user", new_user_raw("turned_down"))
    RejectRequest(services, people["approver"], gone.id, "Not needed.").execute()
    at = page(people["approver"])
    assert list(_frame(at, "review.table")["Request"]) == [kept.ref]
    at.segmented_control(key="review.view").set_value("Closed").run()
    closed = _frame(at, "review.table")
    assert list(closed["Request"]) == [gone.ref] and list(closed["Status"]) == ["rejected"]
    at.text_input(key="review.search").input("TURNED").run()
    assert list(_frame(at, "review.table")["Request"]) == [gone.ref]
    assert any(f"{gone.ref} is rejected" in i.value for i in at.info)
    assert not [b for b in at.button if b.label in ("Approve", "Reject")]
    at.text_input(key="review.search").input("nobody-like-this").run()
    assert any("No request matches" in i.value for i in at.info)


def test_a_long_plan_is_grouped_by_object_and_paged(workspace, people):
    cr = submit(people["requester"], "new-database", NEW_DATABASE)
    plan = ui.services().plan(cr.base_sha, cr.head_sha)
    at = page(people["approver"])
    assert len(plan.statements) > 200
    flags = _frame(page(people["approver"]), "review.flags")
    # SnowDDL drops the new database's PUBLIC schema and gives its owner roles OWNERSHIP: nothing that
    # existed is dropped or changes owner. The owner business role it asked for is flagged.
    assert not any(flags["Risk"].str.startswith(("drops", "changes the owner")))
    assert any(flags["Risk"].str.contains("business role BIG_DB_OWNER becomes owner"))
    objects = _frame(at, f"review.plan.{cr.id}.objects")
    assert objects["Statements"].sum() == len(plan.statements)
    assert len(objects) < len(plan.statements)  # grouped: one row per object
    sql_blocks = [c for c in at.code if c.language == "sql"]
    assert len(sql_blocks) <= 21  # one page of objects (and the unsafe list), never every statement's block


def test_request_changes_and_reject_show_their_new_state_on_the_same_run(workspace, people, new_user_raw):
    asked = submit(people["requester"], "new-user", new_user_raw("asked_back"))
    at = page(people["approver"])
    at.session_state["review.selected"] = asked.id
    at.run()
    at.text_area(key=f"review.comment.{asked.id}").input("Which team?").run()
    at = button(at, "Request changes").click().run()
    assert button(at, "Changes requested").disabled
    assert any(":orange-badge[changes requested]" in m.value for m in at.markdown)

    at.text_area(key=f"review.comment.{asked.id}").input("Not needed after all.").run()
    at = button(at, "Reject").click().run()
    assert any(f"{asked.ref} rejected." in s.value for s in at.success)
    assert any(f"{asked.ref} is rejected: nothing left to decide." in i.value for i in at.info)
    assert not [b for b in at.button if b.label in ("Approve", "Reject", "Request changes")]


def test_a_threshold_that_is_no_size_is_a_settings_error_naming_it(workspace, monkeypatch):
    """Checked with every other setting (app.settings): the portal and `snowtower check` name it, and the
    review page never runs with a threshold it cannot compare."""
    from app.settings import SettingsError, load_settings

    monkeypatch.setenv("SNOWTOWER_RISK_WAREHOUSE_SIZE_THRESHOLD", "HUGE")
    with pytest.raises(SettingsError, match="risk_warehouse_size_threshold: must be a warehouse size .* "
                                            "SNOWTOWER_RISK_WAREHOUSE_SIZE_THRESHOLD"):
        load_settings(workspace)


def test_a_statement_flag_s_number_is_shown_next_to_that_statement_in_the_plan(workspace, people):
    # Found as a reviewer: a REVOKE flag said "plan statement N", but the plan on the page is grouped by
    # object with unsafe statements first and numbered nowhere, so N pointed at nothing one could find.
    cr = submit(people["requester"], "revoke-role", revoke())
    plan = ui.services().plan(cr.base_sha, cr.head_sha)
    at = page(people["approver"])
    flags = _frame(at, "review.flags")
    revokes = flags[flags["Risk"].str.startswith("revokes from")]
    assert len(revokes)
    sql = "\n".join(c.value for c in at.code if c.language == "sql")
    for where, line in zip(revokes["Where"], revokes["Line"], strict=True):
        number = int(where.removeprefix("plan statement "))
        statement = plan.statements[number - 1]
        assert " ".join(statement.sql.split()) == line
        lines = sql.splitlines()
        marked = [i for i, text in enumerate(lines) if text == f"-- statement {number}: UNSAFE: {statement.reason}"]
        assert marked and all(lines[i + 1] == f"{statement.sql.rstrip()};" for i in marked), sql


def test_the_review_leads_with_the_summary_and_chips_and_offers_the_next_request(workspace, people, new_user_raw):
    import datetime as dt

    until = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=30)).isoformat()
    first = submit(people["requester"], "new-user", new_user_raw("first_one"))
    grant = submit(people["requester"], "grant-role", {"name": "MOKAFOR", "business_roles": ["ANALYTICS_ENGINEER"],
                                                       "until": until, "justification": "Quarter-end close work."})
    at = page(people["approver"])
    texts = [m.value for m in at.markdown]
    # The newest request is on screen: its sentence, then the chips (status, risk, approvals, end date).
    summary = next(i for i, t in enumerate(texts) if t.startswith("Adds business role(s) ANALYTICS_ENGINEER to MOKAFOR"))
    chips = texts[summary + 1]
    assert ":blue-badge[open]" in chips and "risk:" in chips and "approvals 0 of 1" in chips and f"until {until}" in chips
    assert "Requested by **Riley Requester · requester**" in texts[summary + 2]
    # The diff without git's header lines, the file named above it.
    diff = next(c for c in at.code if c.language == "diff")
    assert not any(line.startswith(("diff --git", "index ", "--- ", "+++ ")) for line in diff.value.splitlines())
    assert "+    - ANALYTICS_ENGINEER" in diff.value or "ANALYTICS_ENGINEER" in diff.value

    at = button(at, "Approve").click().run()
    assert any(f"{grant.ref} approved." in s.value for s in at.success)
    assert any(":violet-badge[approved]" in m.value for m in at.markdown)  # the new state, same run
    nxt = button(at, f"Next request: {first.ref} {first.title}")
    at = nxt.click().run()
    assert any(m.value.startswith("Adds user FIRST_ONE") or "FIRST_ONE" in m.value for m in at.markdown
               if m.value.startswith("Adds") or m.value.startswith("Creates"))
    assert any(s.value.startswith(f"{first.ref} ") for s in at.subheader)


def test_a_permanent_grant_carries_a_permanent_chip(workspace, people):
    submit(people["requester"], "grant-role", {"name": "MOKAFOR", "business_roles": ["ANALYTICS_ENGINEER"],
                                               "until": "permanent", "justification": "Joins the team for good."})
    at = page(people["approver"])
    assert any(":orange-badge[permanent]" in m.value for m in at.markdown)


def test_the_readable_diff_drops_git_headers_and_folds_long_lines():
    from portal.widgets import readable_diff

    key = "A" * 700
    diff = ("diff --git a/user.yaml b/user.yaml\nindex 1234567..89abcde 100644\n--- a/user.yaml\n+++ b/user.yaml\n"
            "@@ -1,2 +1,3 @@\n JDOE:\n---- a removed line that looks like a header\n+  rsa_public_key: " + key + "\n"
            "--- /dev/null\n+++ b/__snowtower/expiry.yaml\n@@ -0,0 +1 @@\n+MOKAFOR: {}\n")
    [(first, body), (second, body2)] = readable_diff(diff)
    assert (first, second) == ("user.yaml", "__snowtower/expiry.yaml")
    lines = body.splitlines()
    assert lines[0].startswith("@@") and "---- a removed line that looks like a header" in lines
    folded = lines[-1]
    assert folded.startswith("+  rsa_public_key: AAAA") and folded.endswith("(619 more characters folded)")
    assert len(folded) < 160 and body2 == "@@ -0,0 +1 @@\n+MOKAFOR: {}"


def test_a_title_with_markdown_is_plain_text_on_the_queue_s_cards(workspace, people, new_user_raw):
    """Button labels render Markdown, links and images included (Streamlit's st.button docs): a title
    read from a backend (a pull request's title, a stored record) was put into the card's label as is."""
    import sqlite3

    cr = submit(people["requester"], "new-user", new_user_raw())
    hostile = "[urgent: click](https://evil.example/x) ![](https://evil.example/pixel.png)"
    with sqlite3.connect(ui.services().workspace.db_path) as db:
        db.execute("UPDATE change_requests SET title = ? WHERE id = ?", (hostile, cr.id))
    at = page(people["approver"])
    label = at.button(key=f"review.card.{cr.id}").label
    import re
    assert re.search(r"(?<!\\)[\[\]]", label) is None and label.startswith(f"{cr.ref} \\[urgent"), label  # every bracket escaped
