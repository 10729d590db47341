"""Attacks on issue 8's approval chain tried after it was built (the attacker's and the crash's view),
each one a test. Who is who: tests/github_support.py (snowtower-bot is the portal; alice is the
approver's GitHub login, with write permission; mallory has read access)."""
import pytest
import yaml

from core.changes import metadata as meta
from core.changes.base import ChangeError
from core.changes.model import Status
from app.operations import ApproveRequest, MergeRequest, PreviewRequest, RequestChanges, ResubmitRequest, SubmitRequest
from app.operations.shared.guards import approvals
from recipes import RECIPES
from tests.github_support import as_user, github, github_template, gh_services  # noqa: F401 (fixtures)


def submit(services, actor, raw, recipe="new-user"):
    preview = PreviewRequest(services, RECIPES[recipe], raw).execute()
    assert preview.ok, (preview.field_errors, preview.validation)
    return SubmitRequest(services, actor, RECIPES[recipe], raw, preview.base_sha).execute()


def test_an_old_signed_record_replayed_with_its_old_head_gets_no_approval_of_the_new_content(gh_services, github, people, new_user_raw):
    """A writer puts back the portal's own first record (from the PR body's edit history) and pushes the
    branch back to the head it names: the record verifies, but the approvals were given to the
    resubmitted content, not to this one."""
    first = submit(gh_services, people["requester"], new_user_raw(business_roles=["DATA_ENGINEER"]))
    first_body = github.pulls[first.id].body
    RequestChanges(gh_services, people["admin"], first.id, "ANALYST is enough").execute()
    fixed = ResubmitRequest(gh_services, people["requester"], first.id, new_user_raw()).execute()
    ApproveRequest(gh_services, people["approver"], first.id, "ok", fixed.head_sha).execute()
    assert gh_services.changes.get(first.id).status == Status.APPROVED

    writer = as_user(github, "alice-token")
    writer.get_pull(first.id).edit(body=first_body)
    github.git.update_ref(f"refs/heads/{first.branch}", first.head_sha, fixed.head_sha)

    replayed = gh_services.changes.get(first.id)
    if replayed is not None:
        assert replayed.status != Status.APPROVED and approvals(gh_services, replayed) == []
    assert all(c.status != Status.APPROVED for c in gh_services.changes.list())
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], first.id).execute()
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], first.id, first.head_sha).execute()
    assert "JANE_DOE" not in (yaml.safe_load(github.read("main", "snowddl/user.yaml")) or {})


def test_a_demoted_approver_s_github_approval_no_longer_counts(gh_services, github, people, new_user_raw):
    """The users file takes the approver role from "approver" (alice on GitHub, still a writer there):
    their native approval stops counting at once, as their portal clicks do."""
    from tests.github_support import PORTAL_ROLES, write_users

    cr = submit(gh_services, people["requester"], new_user_raw())
    as_user(github, "alice-token").get_pull(cr.id).create_review(event="APPROVE")
    assert gh_services.changes.get(cr.id).status == Status.APPROVED
    write_users(gh_services.workspace.root, {**PORTAL_ROLES, "approver": ["requester"]})
    after = gh_services.changes.get(cr.id)
    assert after.status == Status.OPEN and approvals(gh_services, after) == []
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    assert "JANE_DOE" not in (yaml.safe_load(github.read("main", "snowddl/user.yaml")) or {})


def test_a_rejected_request_reopened_by_a_writer_stays_rejected(gh_services, github, people, new_user_raw):
    """The branch is pushed back at the head the record names and the PR reopened on GitHub: the record
    verifies again, but the portal's rejection stands."""
    from app.operations import RejectRequest

    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    RejectRequest(gh_services, people["admin"], cr.id, "Not this quarter").execute()
    github.git.update_ref(f"refs/heads/{cr.branch}", cr.head_sha, None)
    as_user(github, "alice-token").get_pull(cr.id).edit(state="open")
    assert cr.id not in [c.id for c in gh_services.changes.list(statuses=[Status.OPEN, Status.APPROVED, Status.CHANGES_REQUESTED])]
    assert gh_services.changes.get(cr.id).status == Status.REJECTED
    for act in (lambda: ApproveRequest(gh_services, people["approver"], cr.id).execute(),
                lambda: MergeRequest(gh_services, people["admin"], cr.id).execute()):
        with pytest.raises(ChangeError, match="rejected"):
            act()
    assert "JANE_DOE" not in (yaml.safe_load(github.read("main", "snowddl/user.yaml")) or {})


def test_an_approved_request_retargeted_to_another_base_branch_is_not_merged_there(gh_services, github, people, new_user_raw):
    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    main = github.git.branch_head("main")
    github.git.update_ref("refs/heads/release", main, None)
    as_user(github, "alice-token").get_pull(cr.id).edit(base="release")
    assert gh_services.changes.get(cr.id) is None
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    assert github.git.branch_head("release") == main == github.git.branch_head("main")


# -- the local backend: a real process killed in the middle of a merge ---------------------------------

KILLED_MERGE = """
import os, signal, sys
from pathlib import Path
from core.changes.model import Actor
from app.operations import MergeRequest
from app.services import build_services
from app.settings import load_settings

services = build_services(load_settings(Path(sys.argv[1])))
repo = services.changes.repo
real = repo.update_ref

def dying(ref, new, old):
    real(ref, new, old)
    if ref == "refs/heads/main":
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no exception handler, no rollback code runs
repo.update_ref = dying
MergeRequest(services, Actor("admin", "Ada Admin", "admin@snowtower.example", ("requester", "approver", "admin")),
             int(sys.argv[2])).execute()
"""


def test_a_merge_killed_with_sigkill_after_main_moved_is_merged_and_deployed_at_the_next_start(services, people, new_user_raw):
    import subprocess
    import sys
    from pathlib import Path

    from app.services import build_services

    cr = submit(services, people["requester"], new_user_raw())
    ApproveRequest(services, people["approver"], cr.id).execute()
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", KILLED_MERGE, str(services.settings.workspace), str(cr.id)],
                          cwd=root, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert services.changes.repo.branch_head("main") == cr.head_sha  # main moved; the record did not
    again = build_services(services.settings)  # the next start
    after = again.changes.get(cr.id)
    assert after.status == Status.DEPLOYED and after.merged_sha == cr.head_sha == again.store.deployed_sha()
    with pytest.raises(ChangeError, match="already"):
        MergeRequest(again, people["admin"], cr.id).execute()


def test_a_ref_lock_left_by_a_killed_git_is_cleared_and_a_live_one_is_a_message(services, people, new_user_raw):
    """kill -9 of the portal's whole process group can stop `git update-ref` holding refs/heads/main.lock.
    Before: every merge said "main moved while merging; try again" and recorded one more rebase, for good."""
    import os
    import time

    from core.changes.git import STALE_LOCK_SECONDS

    cr = submit(services, people["requester"], new_user_raw())
    ApproveRequest(services, people["approver"], cr.id).execute()
    lock = services.changes.repo.path / "refs/heads/main.lock"
    lock.write_text("")  # a live writer's lock
    with pytest.raises(ChangeError, match="being changed by another process right now; nothing was done"):
        MergeRequest(services, people["admin"], cr.id).execute()
    after = services.changes.get(cr.id)
    assert after.status == Status.APPROVED and after.head_sha == cr.head_sha
    assert [e.action for e in services.changes.events(cr)] == ["submitted", "approved"]
    old = time.time() - STALE_LOCK_SECONDS - 5  # the same lock, left by a process that died
    os.utime(lock, (old, old))
    merged = MergeRequest(services, people["admin"], cr.id).execute()
    assert merged.status == Status.DEPLOYED and services.changes.repo.branch_head("main") == cr.head_sha
    assert not lock.exists()


def test_a_request_from_the_issue_form_is_never_approved_by_its_author_under_their_portal_name(gh_services, github, people, new_user_raw):
    """The process-access-request workflow submits as the issue's GitHub login (SNOWTOWER_USER, as
    `snowtower request --submit` does). alice is the GitHub login of the portal approver "approver": her
    own request must not be approved by alice on GitHub nor by "approver" in the portal."""
    from core.changes.model import Actor

    from app.identity import Vouched

    gh_services.identity = Vouched(gh_services.identity, "alice")  # as `snowtower request --submit` vouches
    cr = submit(gh_services, Actor("alice", "alice", roles=("requester",)), new_user_raw())
    assert cr.requester == "alice"
    as_user(github, "alice-token").get_pull(cr.id).create_review(event="APPROVE")
    after = gh_services.changes.get(cr.id)
    assert after.status == Status.OPEN and approvals(gh_services, after) == []
    with pytest.raises(ChangeError, match="your own request"):
        ApproveRequest(gh_services, people["approver"], cr.id).execute()
    with pytest.raises(ChangeError, match="needs 1 approval"):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    ApproveRequest(gh_services, people["admin"], cr.id).execute()  # someone else: counts
    assert approvals(gh_services, gh_services.changes.get(cr.id)) == ["admin"]


def _edit_portal_review(github, pr_number, index, edit):
    """A writer edits the body of the portal's `index`-th review (GitHub lets anyone with write access edit
    others' comments and review bodies): `edit(metadata) -> metadata`."""
    writer = as_user(github, "alice-token").get_pull(pr_number)
    review = [r for r in writer.get_reviews() if r.user.login == "snowtower-bot"][index]
    data = edit(meta.extract(review.body, meta.REVIEW))
    body = meta.embed(meta.visible(review.body), meta.REVIEW, data)
    writer._requester.requestJsonAndCheck("PUT", f"{writer.url}/reviews/{review.id}", input={"body": body})


def test_a_portal_review_edited_by_a_writer_is_never_an_approval(gh_services, github, people, new_user_raw):
    """Changes requested by the admin, edited on GitHub into the approver's approval of the head."""
    cr = submit(gh_services, people["requester"], new_user_raw())
    RequestChanges(gh_services, people["admin"], cr.id, "Which team?").execute()
    _edit_portal_review(github, cr.id, 0, lambda d: {**d, "reviewer": "approver", "decision": "approve", "comment": ""})
    after = gh_services.changes.get(cr.id)
    assert after.status != Status.APPROVED and approvals(gh_services, after) == []
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
    assert "JANE_DOE" not in (yaml.safe_load(github.read("main", "snowddl/user.yaml")) or {})


def test_a_resubmission_edited_away_by_a_writer_does_not_bring_back_approvals_of_replaced_content(gh_services, github, people, new_user_raw):
    """required_approvals = 2: the approver approved v1, the admin asked for changes; the requester
    resubmits v2 (which voids the approval) and then, as a writer, turns the portal's resubmit review into
    a comment. Only the admin approves v2: one approval of v2, not two."""
    gh_services.changes.required_approvals = 2
    gh_services.settings = gh_services.settings.model_copy(update={"required_approvals": 2})
    cr = submit(gh_services, people["requester"], new_user_raw(business_roles=["DATA_ENGINEER"]))
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    RequestChanges(gh_services, people["admin"], cr.id, "ANALYST is enough").execute()
    fixed = ResubmitRequest(gh_services, people["requester"], cr.id, new_user_raw()).execute()
    _edit_portal_review(github, cr.id, 2, lambda d: {**d, "decision": "comment"})
    ApproveRequest(gh_services, people["admin"], cr.id, "ok", fixed.head_sha).execute()
    after = gh_services.changes.get(cr.id)
    assert after.status != Status.APPROVED and approvals(gh_services, after) == ["admin"]
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], cr.id).execute()


# -- hostile sizes in text anyone can post ---------------------------------------------------------------

def test_metadata_blocks_are_found_and_hidden_as_before_in_tricky_text():
    review = meta.embed("hello", meta.REVIEW, {"a": 1})
    assert (meta.visible(review), meta.extract(review, meta.REVIEW)) == ("hello", {"a": 1})
    two = "a <!-- snowtower:review {\"x\": 1} --> b <!-- snowtower:review {bad} --> c"
    assert (meta.visible(two), meta.extract(two, meta.REVIEW)) == ("a\nb\nc", {"x": 1})  # the last block that parses
    nested = "<!-- snowtower:review {\"x\": \"} --> tail\"} --> end"  # a block ends at its first "} -->"
    assert (meta.visible(nested), meta.extract(nested, meta.REVIEW)) == ("tail\"} --> end", None)
    assert meta.visible(" \n <!-- snowtower:event {} -->\n\n x") == "x" and meta.extract("<!-- snowtower:review {", meta.REVIEW) is None
    inner = meta.embed(meta.embed("x  ", meta.REQUEST, {"b": "-- <!-- x -->"}), meta.EVENT, {"c": 2})
    assert meta.extract(inner, meta.REQUEST) == {"b": "-- <!-- x -->"} and meta.visible(inner) == "x"


@pytest.mark.parametrize("body", ["x" + " " * 65_534 + "x", "<!-- snowtower:review {" * 2_849],
                         ids=["spaces", "unclosed-openings"])
def test_a_review_of_github_s_maximum_size_by_an_outsider_is_read_as_text(gh_services, github, people, new_user_raw, body):
    """GitHub's limit for a review body (65,536 characters) by a read-only account: shown as that
    account's comment. The metadata reader took 6 s (spaces) and 0.8 s (openings) per review and view
    before it became linear (benchmarks/hostile_text.py, docs/security.md)."""
    cr = submit(gh_services, people["requester"], new_user_raw())
    as_user(github, "mallory-token").get_pull(cr.id).create_review(event="COMMENT", body=body)
    after = gh_services.changes.get(cr.id)
    [shown] = gh_services.changes.reviews(after)
    assert (shown.reviewer, shown.decision, shown.comment) == ("github:mallory", "comment", body.strip())
    assert after.status == Status.OPEN


# -- the review page -------------------------------------------------------------------------------------

def test_a_click_on_the_review_page_after_the_approver_was_demoted_approves_nothing(tmp_path, monkeypatch, people, new_user_raw):
    """The buttons' callbacks run before the entry script reads the roles again: the click must not act
    with the roles the approver had when the page was drawn."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from portal import ui
    from app.services import build_services
    from app.settings import load_settings

    root = Path(__file__).resolve().parents[1]
    workspace = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(workspace))
    ui._services.clear()
    at = AppTest.from_file(str(root / "portal" / "app.py"), default_timeout=60).run()
    fields = {t.label: t for t in at.text_input}
    fields["Username"].input("approver")
    fields["Password"].input("demo")
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    services = build_services(load_settings(workspace))
    cr = submit(services, people["requester"], new_user_raw())
    at.switch_page(str(root / "pages" / "review.py")).run()
    approve = next(b for b in at.button if b.label == "Approve")

    users = workspace / "auth.yaml"
    config = yaml.safe_load(users.read_text())
    config["credentials"]["usernames"]["approver"]["roles"] = ["requester"]  # demoted while the page is open
    users.write_text(yaml.safe_dump(config))
    approve.click()
    at.run()
    after = services.changes.get(cr.id)
    assert after.status == Status.OPEN and approvals(services, after) == []
    assert not at.exception


def test_a_submit_click_by_a_login_removed_after_the_form_was_drawn_submits_nothing(tmp_path, monkeypatch, people, public_pem):
    from portal import ui
    from tests.test_pages import fill_new_user, page

    workspace = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(workspace))
    at = page("new_user", people["requester"])
    at = fill_new_user(at, name="jane_doe", first_name="Jane", last_name="Doe", email="jane@cascaderidge.example",
                       rsa_public_key=public_pem, business_roles=["ANALYST"], default_warehouse="ANALYST_WH",
                       justification="Joins the marketing analytics team.")
    submit_button = next(b for b in at.button if b.label == "Submit request")
    users = workspace / "auth.yaml"
    config = yaml.safe_load(users.read_text())
    del config["credentials"]["usernames"]["requester"]  # removed while the form is open
    users.write_text(yaml.safe_dump(config))
    at = submit_button.click().run()
    assert ui.services().store.list() == [] and not at.exception
    assert any("no longer allowed" in e.value for e in at.error)


# -- private keys in free text ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_the_body_of_an_openssh_private_key_pasted_without_its_header_lines_is_refused(services, people, new_user_raw, kind, tmp_path):
    """ssh-keygen writes private keys in OpenSSH's own format (not DER): its base64 body, pasted without
    the BEGIN / END lines into a justification or a comment, was stored."""
    import subprocess

    from app.operations.shared.guards import clean_comment

    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(key)], check=True)
    body = "\n".join(line for line in key.read_text().splitlines() if not line.startswith("-----"))
    for text in (body, "Here is my key: " + body.replace("\n", ""), body.replace("\n", "\r\n")):
        preview = PreviewRequest(services, RECIPES["new-user"], new_user_raw(justification=text)).execute()
        assert "PRIVATE key" in preview.field_errors.get("justification", "")
        with pytest.raises(ChangeError, match="PRIVATE key"):
            clean_comment(text)
    assert services.changes.list() == []


def test_one_person_under_two_spellings_of_their_name_counts_once_and_never_on_their_own_request(tmp_path, github, people, new_user_raw, monkeypatch):
    """github_approvers maps alice to "Approver" (capitalised) while the portal login is "approver"; a
    request submitted from the command line as "Requester". Logins are case-insensitive everywhere."""
    from core.changes.model import Actor
    from app.services import build_services
    from app.settings import load_settings
    from tests.github_support import fast_retries, write_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    write_settings(tmp_path / "ws", github, required_approvals=2, github_approvers={"alice": "Approver"})
    services = fast_retries(build_services(load_settings(tmp_path / "ws")))
    cr = submit(services, people["requester"], new_user_raw())
    ApproveRequest(services, people["approver"], cr.id).execute()
    as_user(github, "alice-token").get_pull(cr.id).create_review(event="APPROVE")  # the same person on GitHub
    after = services.changes.get(cr.id)
    assert after.status == Status.OPEN and len(approvals(services, after)) == 1
    with pytest.raises(ChangeError, match="needs 2 approval"):
        MergeRequest(services, people["admin"], cr.id).execute()

    own = submit(services, Actor("Approver", "Approver", roles=("requester",)), new_user_raw("john_roe"))
    with pytest.raises(ChangeError, match="your own request"):
        ApproveRequest(services, people["approver"], own.id).execute()
    as_user(github, "alice-token").get_pull(own.id).create_review(event="APPROVE")
    assert approvals(services, services.changes.get(own.id)) == []


def test_the_unsafe_apply_gate_never_counts_the_requester_s_mapped_github_account(gh_services, github, people, new_user_raw, monkeypatch):
    """riley is the requester's GitHub login in github_approvers, but the portal's commit email is not
    riley's on GitHub: riley's approval must not allow `snowddl apply --apply-unsafe`."""
    from github import Auth, Github

    from core.changes.github.gate import gate, portal_names_from

    cr = submit(gh_services, people["requester"], new_user_raw())
    github.pulls[cr.id].labels.append("apply-unsafe")
    as_user(github, "riley-token").get_pull(cr.id).create_review(event="APPROVE")
    bot = Github(auth=Auth.Token("bot-token"), base_url=github.base_url, lazy=True).get_repo(github.full_name)
    pr = bot.get_pull(cr.id)
    sha = pr.merge(merge_method="squash", sha=pr.head.sha).sha
    assert gate(bot, sha).unsafe  # without the mapping the gate cannot know riley
    decision = gate(bot, sha, 1, portal_names_from("riley=requester, alice=approver"))
    assert not decision.unsafe and "riley wrote the change" in decision.reason


def test_a_portal_approval_copied_over_a_later_portal_review_never_withdraws_a_request_for_changes(gh_services, github, people, new_user_raw):
    """The approver approved, then asked for changes; the admin commented. A writer copies the approver's
    signed approval over the admin's later review: the approver's latest decision must stay "changes"."""
    cr = submit(gh_services, people["requester"], new_user_raw())
    ApproveRequest(gh_services, people["approver"], cr.id).execute()
    RequestChanges(gh_services, people["approver"], cr.id, "Wait, which team?").execute()
    ApproveRequest(gh_services, people["admin"], cr.id, "fine by me").execute()
    writer = as_user(github, "alice-token").get_pull(cr.id)
    portal = [r for r in writer.get_reviews() if r.user.login == "snowtower-bot"]
    writer._requester.requestJsonAndCheck("PUT", f"{writer.url}/reviews/{portal[2].id}", input={"body": portal[0].body})
    after = gh_services.changes.get(cr.id)
    assert after.status != Status.APPROVED and "approver" not in approvals(gh_services, after)
    with pytest.raises(ChangeError):
        MergeRequest(gh_services, people["admin"], cr.id).execute()
