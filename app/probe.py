"""Reachability of GitHub and Snowflake from the settings alone, for `snowtower check --online`:

    probe(settings, secrets, seconds) -> [Check(name, ok, detail), ...]

Nothing is built or written (no workspace, no backend): one read of the repository through PyGithub with
the configured credentials (its `permissions` say whether they may write), and one `SELECT` over the
Snowflake connector with the portal's connection (secrets [connections.NAME], as app.settings finds it).
Each probe runs in its own thread and is given `seconds` (wall clock, both at once) on top of its
client's own time-outs: a host that swallows packets is reported as not answering, never waited on.
A failure is one plain line (app.status.Check), never a traceback, never a secret.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from app.mode import Mode
from app.status import Check, _line

PROBE_SECONDS = 10.0


def _github(settings, secrets_data: dict, seconds: float) -> Check:
    from github import GithubException

    from app.settings import github_secrets
    from core.changes.base import ChangeError
    from core.changes.github import GitHubConfig, connect

    creds = github_secrets(settings)
    cfg = GitHubConfig(repository=settings.github_repository, base_url=settings.github_base_url,
                       token=creds["token"], private_key=creds["private_key"],
                       app_id=settings.github_app_id or None, installation_id=creds["installation_id"],
                       timeout=max(1, int(seconds)))
    where = f"{settings.github_repository} at {settings.github_base_url}"
    try:
        repo = connect(cfg)().get_repo(settings.github_repository)  # lazy: raw_data makes the one request
        permissions = repo.raw_data.get("permissions") or {}
    except GithubException as exc:
        reason = {401: "GitHub refuses the credentials (401: a wrong or expired token, or App key)",
                  403: "GitHub refuses access (403)",
                  404: "GitHub has no such repository, or the credentials may not see it (404)"}
        return Check("GitHub", False, f"{where}: {reason.get(exc.status, f'GitHub answered {exc.status}')}")
    except ChangeError as exc:  # no credentials, or the App is not installed there: its own words
        return Check("GitHub", False, f"{where}: {_line(exc)}")
    except Exception as exc:  # noqa: BLE001 - unreachable host, refused connection, TLS, a ChangeError
        return Check("GitHub", False, f"{where}: not reachable ({type(exc).__name__}: {_line(exc)})")
    if permissions and not (permissions.get("push") or permissions.get("maintain") or permissions.get("admin")):
        return Check("GitHub", False, f"{where}: reachable, but the credentials may only read it; SnowTower needs "
                                      "write (contents and pull requests)")
    return Check("GitHub", True, f"{where}: reachable" + (", with write permission" if permissions else ""))


def _snowflake(settings, secrets_data: dict, seconds: float) -> Check:
    from app.settings import snowflake_connection_params

    params, where = snowflake_connection_params(settings, secrets_data)
    if params is None:
        return Check("Snowflake", False, f"no connection [connections.{settings.snowflake_connection}] to try")
    import snowflake.connector

    timeout = max(1, int(seconds))
    try:
        # The same parameters Streamlit's SnowflakeConnection passes to the connector, bounded in time.
        conn = snowflake.connector.connect(**{**params, "login_timeout": timeout, "network_timeout": timeout,
                                              "socket_timeout": timeout})
        try:
            cursor: Any = conn.cursor()
            account, role = cursor.execute("SELECT CURRENT_ACCOUNT(), CURRENT_ROLE()").fetchone()
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - the connector's errors, network errors: one line
        return Check("Snowflake", False, f"{where}: not reachable or refused ({type(exc).__name__}: {_line(exc)})")
    return Check("Snowflake", True, f"{where}: signed in to account {account} as role {role}")


def probe(settings, secrets_data: dict, seconds: float = PROBE_SECONDS) -> list[Check]:
    """GitHub (when backend = github) and Snowflake (outside the demo's stand-in and Streamlit in
    Snowflake) reached with the configured credentials, within `seconds` in all."""
    todo = []
    mode = Mode.of(settings)
    if mode.on_github and settings.github_repository:
        todo.append(("GitHub", _github))
    if mode.live_snowflake:
        todo.append(("Snowflake", _snowflake))
    results: list[Check | None] = [None] * len(todo)

    def run(i: int, name: str, fn) -> None:
        try:
            results[i] = fn(settings, secrets_data, seconds)
        except Exception as exc:  # noqa: BLE001 - a probe that fails in an unforeseen way is its line
            results[i] = Check(name, False, _line(exc))

    threads = [threading.Thread(target=run, args=(i, name, fn), daemon=True, name=f"probe-{name}")
               for i, (name, fn) in enumerate(todo)]
    deadline = time.monotonic() + seconds
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [found or Check(name, False, f"no answer within {seconds:g} s")
            for (name, _), found in zip(todo, results, strict=True)]
