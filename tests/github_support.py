"""Fixtures for the GitHub backend tests: the test server seeded with the example config, and
SnowTower services configured for it the way an operator would (settings.toml + a token secret)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from core.workspace import seed_files
from portal.settings import EXAMPLE_CONFIG
from tests.github_server import FakeGitHub

BOT_TOKEN = "bot-token"


def write_settings(workspace, server: FakeGitHub, github_timeout: int = 10, **extra) -> None:
    workspace.mkdir(parents=True, exist_ok=True)
    lines = ["[snowtower]", 'backend = "github"', f'github_repository = "{server.full_name}"',
             f'github_base_url = "{server.base_url}"', f"github_timeout = {github_timeout}",
             "github_seconds_between_writes = 0.0"]
    lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in extra.items()]
    (workspace / "settings.toml").write_text("\n".join(lines).replace("'", '"') + "\n")


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
                        tokens={BOT_TOKEN: "snowtower-bot", "alice-token": "alice"})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gh_services(tmp_path, github, monkeypatch):
    from portal.services import build_services
    from portal.settings import load_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", BOT_TOKEN)
    write_settings(tmp_path / "ws", github)
    return fast_retries(build_services(load_settings(tmp_path / "ws")))


def seed_history(server: FakeGitHub, *, closed: int = 0, opened: int = 0, requesters=("requester",),
                 recipe: str = "new-user") -> list[int]:
    """Pull requests as the portal opens them (branch `snowtower/...`, body with its request block),
    recorded directly on the server for speed: `closed` merged or rejected ones (every third rejected)
    then `opened` open ones, requesters taken in turn, a minute apart a year ago. Returns their numbers."""
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
        key = meta.idempotency_key(recipe, requester, request)
        data = {"v": meta.VERSION, "key": key, "recipe": recipe, "requester": requester, "requester_name": requester.title(),
                "justification": f"Seeded request {i}.", "request": request, "base_sha": main,
                "files": ["user.yaml"], "validation": {"valid": True, "errors": [], "warnings": []}}
        text = (f"**New person user {name}** requested by {requester}.\n\n> Seeded request {i}.\n\n"
                "| field | value |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in request.items())
                + "\n**Validation:** passed\n")
        state = "open" if i >= closed else ("closed" if i % 3 == 2 else "merged")
        pr = server.add_pull(f"New person user {name}", meta.embed(text, meta.REQUEST, data),
                             f"snowtower/{key[:10]}-new-person-user-{name.lower()}", head_sha=head, state=state,
                             at=start + timedelta(minutes=len(server.pulls)))
        pr.labels = ["snowtower", recipe]
        numbers.append(pr.number)
    return numbers
