"""The effective access in the pull request body, through the GitHub backend (real PyGithub, test server)."""
from app.operations import PreviewRequest, SubmitRequest
from recipes import RECIPES
from tests.github_support import github, github_template, gh_services  # noqa: F401 (fixtures)


def test_the_pull_request_body_says_what_the_grant_gives_in_plain_words(gh_services, github, people):
    recipe = RECIPES["grant-role"]
    raw = {"name": "EVASQUEZ", "business_roles": ["FINANCE_ANALYST"], "justification": "Month-end close needs the finance marts."}
    preview = PreviewRequest(gh_services, recipe, raw).execute()
    SubmitRequest(gh_services, people["requester"], recipe, raw, preview.base_sha).execute()
    [pr] = github.open_pulls()
    section = pr.body[pr.body.index("**Effective access:**"):pr.body.index("**Fields:**")]
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    assert lines[0] == "- Elena Vasquez will newly be able to create tables and views in DEV_SANDBOX.SCRATCH."
    assert lines[1].startswith("- Elena Vasquez already reads ANALYTICS.FINANCE, ANALYTICS.MARTS and RAW.STRIPE;")
    assert len(lines) == 2
