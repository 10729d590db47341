"""Fixtures for the GitHub backend tests: the test server seeded with the example config, and
SnowTower services configured for it the way an operator would (settings.toml + a token secret)."""
from __future__ import annotations

import dataclasses

import pytest

from core.workspace import seed_files
from portal.settings import EXAMPLE_CONFIG
from tests.github_server import FakeGitHub

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
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gh_services(tmp_path, github, monkeypatch):
    from portal.services import build_services
    from portal.settings import load_settings

    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", BOT_TOKEN)
    write_settings(tmp_path / "ws", github, github_approvers=APPROVERS)
    return fast_retries(build_services(load_settings(tmp_path / "ws")))


def as_user(server: FakeGitHub, token: str):
    """The server's repository through real PyGithub, signed in with `token` (someone other than the portal)."""
    from github import Auth, Github

    return Github(auth=Auth.Token(token), base_url=server.base_url, retry=None, seconds_between_writes=0).get_repo(server.full_name)
