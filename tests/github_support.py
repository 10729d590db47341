"""Fixtures for the GitHub backend tests: the test server seeded with the example config, and
SnowTower services configured for it the way an operator would (settings.toml + a token secret)."""
from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timedelta, timezone

import pytest

from core.workspace import seed_files
from app.settings import EXAMPLE_CONFIG
from tests.github_server import FakeGitHub, recommended_protection

BOT_TOKEN = "bot-token"
# Who is who on the test server: the portal's bot; alice, an approver's GitHub account (mapped to the
# portal user "approver" in the settings, with write permission); riley, the requester's GitHub
# account (mapped to "requester"); mallory, an outsider with read access; the deploy workflow.
TOKENS = {BOT_TOKEN: "snowtower-bot", "alice-token": "alice", "riley-token": "riley", "mallory-token": "mallory",
          "actions-token": "github-actions[bot]"}
APPROVERS = {"alice": "approver", "riley": "requester"}


def write_settings(workspace, server: FakeGitHub, github_timeout: int = 10, **extra) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    lines = ["[snowtower]", 'backend = "github"', f'github_repository = "{server.full_name}"',
             f'github_base_url = "{server.base_url}"', f"github_timeout = {github_timeout}",
             "github_seconds_between_writes = 0.0"]
    tables = {k: v for k, v in extra.items() if isinstance(v, dict)}
    lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in extra.items() if k not in tables]
    for name, table in tables.items():
        lines += ["", f"[snowtower.{name}]", *[f'"{k}" = "{v}"' for k, v in table.items()]]
    (workspace / "settings.toml").write_text("\n".join(lines).replace("'", '"') + "\n")
    write_users(workspace)


# The portal's sign-in (users file) of the GitHub workspaces: a mapped GitHub login's reviews count only
# while its portal user is an approver. The hashes are placeholders: nobody signs in during these tests.
PORTAL_ROLES = {"requester": ["requester"], "approver": ["requester", "approver"], "blake": ["requester", "approver"],
                "carol": ["requester", "approver"], "admin": ["requester", "approver", "admin"]}


def write_users(workspace, roles: dict | None = None) -> None:
    import yaml

    from portal.auth import new_users_file

    users = {login: {"password": "$2b$12$" + "x" * 53, "roles": list(r)} for login, r in (roles or PORTAL_ROLES).items()}
    (workspace / "auth.yaml").write_text(yaml.safe_dump(new_users_file(users)))


def fast_retries(services, **changes):
    """Keep the retry policy, with back-off in milliseconds so the fault tests run quickly."""
    backend = services.changes
    backend.cfg = dataclasses.replace(backend.cfg, **({"backoff": 0.01} | changes))
    return services


@pytest.fixture(scope="session")
def github_template(tmp_path_factory):
    """The server's repository seeded with the example config once, packed into a few files."""
    seeded = FakeGitHub(tmp_path_factory.mktemp("github-template"))
    seeded.seed(seed_files(EXAMPLE_CONFIG))
    seeded.pack()
    seeded.stop()
    return seeded.git.path


@pytest.fixture
def github(tmp_path, github_template):
    server = FakeGitHub(tmp_path / "github", timeout_sleep=2.5, template=github_template,
                        tokens=dict(TOKENS))
    server.permissions.update({"snowtower-bot": "admin", "alice": "write", "riley": "write", "github-actions[bot]": "write"})
    if os.environ.get("SNOWTOWER_TEST_GITHUB_PROTECTION") == "1":
        # The whole GitHub suite under the branch protection docs/github.md recommends, with a
        # pr-validation that passes at once (tests of a pending or failing check set their own).
        server.protection = recommended_protection()
        server.default_check = "success"
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gh_services(tmp_path, github, monkeypatch):
    from app.services import build_services
    from app.settings import load_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", BOT_TOKEN)
    write_settings(tmp_path / "ws", github, github_approvers=APPROVERS)
    services = fast_retries(build_services(load_settings(tmp_path / "ws")))
    github.signing_key = services.changes._signing_key  # what seed_history signs with
    return services


def as_user(server: FakeGitHub, token: str):
    """The server's repository through real PyGithub, signed in with `token` (someone other than the portal)."""
    from github import Auth, Github

    return Github(auth=Auth.Token(token), base_url=server.base_url, retry=None, seconds_between_writes=0).get_repo(server.full_name)


def seed_history(server: FakeGitHub, *, closed: int = 0, opened: int = 0, requesters=("requester",),
                 recipe: str = "new-user", key: bytes | None = None, author: str = "snowtower-bot") -> list[int]:
    """Pull requests as the portal opens them (branch `snowtower/...`, body with its request block),
    recorded directly on the server for speed: `closed` merged or rejected ones (every third rejected)
    then `opened` open ones, requesters taken in turn, a minute apart a year ago, opened by `author` (the
    portal's login) with records signed by `key` (default: the one `gh_services` gave the server, so the
    portal counts them as its own). Returns their numbers."""
    key = key if key is not None else server.signing_key
    from core.changes import metadata as meta

    main = server.git.branch_head("main")
    # One commit on top of main that every seeded pull request proposes (so each has a diff).
    head = server.git.commit_files(main, {"snowddl/seeded.yaml": "seeded: true\n"}, "Seeded change\n",
                                   ("SnowTower", "bot@example.com"))
    start = datetime.now(timezone.utc) - timedelta(days=365)
    numbers = []
    for i in range(closed + opened):
        requester = requesters[i % len(requesters)]
        name = f"USER_{i:04d}"
        request = {"name": name, "first_name": "Test", "last_name": f"User {i}", "email": f"user{i}@example.com",
                   "business_roles": ["ANALYST"], "default_warehouse": "ANALYST_WH"}
        idem = meta.idempotency_key(recipe, requester, request)
        branch = f"snowtower/{idem[:10]}-new-person-user-{name.lower()}"
        data = {"v": meta.VERSION, "key": idem, "recipe": recipe, "title": f"New person user {name}", "requester": requester,
                "requester_name": requester.title(), "justification": f"Seeded request {i}.", "request": request,
                "branch": branch, "base_sha": main, "head_sha": head, "files": ["user.yaml"],
                "validation": {"valid": True, "errors": [], "warnings": []}}
        text = (f"**New person user {name}** requested by {requester}.\n\n> Seeded request {i}.\n\n"
                "| field | value |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in request.items())
                + "\n**Validation:** passed\n")
        state = "open" if i >= closed else ("closed" if i % 3 == 2 else "merged")
        pr = server.add_pull(f"New person user {name}", meta.embed(text, meta.REQUEST, meta.sign(data, key)),
                             branch, head_sha=head, state=state, author=author,
                             at=start + timedelta(minutes=len(server.pulls)))
        pr.labels = ["snowtower", recipe]
        numbers.append(pr.number)
    return numbers
