"""The health of a deployment, for the admins' Status page: each backend checked, each answer one line.

    checks(services, snowflake) -> [Check(name, ok, detail), ...]

Every check runs in its own thread and is given at most `seconds` (wall clock, all checks at once): one
that has not answered by then is reported as such and left to finish in the background (GitHub's and
the connector's own time-outs end it). While it still runs, the next call reports it as still waiting
instead of starting it again: reloading the page never piles up hung threads or connections. A failure
is one plain line (the exception's message, whitespace folded, clipped), never a traceback; nothing
here writes anything.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

CHECK_SECONDS = 10.0  # the longest the Status page waits for any check
MAX_DETAIL = 300  # characters of a failure's message shown
# (id of the services, check name) -> (its thread, when it started): a check still running is not started again.
_RUNNING: dict[tuple[int, str], tuple[threading.Thread, float]] = {}
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class Check:
    """One line of the Status page. `ok`: True healthy, False broken; `detail`: what was found, in words."""
    name: str
    ok: bool
    detail: str


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "…"


def _settings(services) -> list[Check]:
    from app.settings import check_setup

    _, problems = check_setup(services.settings.workspace)  # the list `snowtower check` prints
    if not problems:
        return [Check("Settings", True, "no problems (`snowtower check` shows the effective settings)")]
    return [Check("Settings", False, str(p)) for p in problems]


def _mode(services) -> list[Check]:
    s = services.settings
    if services.mode.demo_account:
        where = "Snowflake stand-in (DuckDB, generated data) and a local git repository in the workspace"
        return [Check("Mode", True, f"demo: {where}; merging deploys")]
    runtime = "Streamlit in Snowflake" if services.mode.in_sis else "a server"
    changes = f"GitHub {s.github_repository}" if services.mode.on_github else "a local git repository"
    return [Check("Mode", True, f"{s.mode} on {runtime}: live Snowflake account, change requests on {changes}, "
                               f"audit log in {s.audit_log}")]


def _changes(services) -> list[Check]:
    from core.changes.github.records import WRITE_PERMISSIONS

    s = services.settings
    head = services.changes.base_head()
    if not services.mode.on_github:
        return [Check("Change requests", True, f"local git repository; {s.base_branch} at {head[:8]}")]
    access = services.changes.repository_access()
    login = services.changes.portal_login
    if access not in WRITE_PERMISSIONS:
        return [Check("GitHub", False, f"{s.github_repository} is reachable, but {login} has {access} permission there: "
                                       "SnowTower needs write (contents and pull requests)")]
    return [Check("GitHub", True, f"{s.github_repository} reachable at {s.github_base_url} as {login} ({access}); "
                                  f"{s.base_branch} at {head[:8]}")]


def _snowflake(source) -> Callable[[object], list[Check]]:
    def check(services) -> list[Check]:
        from core.snowflake.queries import ask

        if source is None:
            return [Check("Snowflake", False, "no Snowflake connection is configured")]
        views = ask(source, "status_account_usage")
        kind = "stand-in" if services.mode.demo_account else "account"
        return [Check("Snowflake", True, f"{kind} reachable; the {len(views)} ACCOUNT_USAGE views the pages read are "
                                         "readable")]
    return check


def _snowddl(services) -> list[Check]:
    version = metadata.version("snowddl")
    return [Check("SnowDDL", True, f"version {version}")]


def _config(services) -> list[Check]:
    head = services.changes.base_head()
    validation = services.snapshot(head).config.validation
    where = f"{services.settings.config_dir}/ on {services.settings.base_branch} at {head[:8]}"
    if validation.valid:
        return [Check("Configuration", True, f"{where} is valid ({len(validation.warnings)} warning(s))")]
    first = next((e for e in validation.errors if not e.knock_on), validation.errors[0])  # a cause, not a knock-on
    place = ":".join(str(x) for x in (first.file, first.line) if x) or "config"
    return [Check("Configuration", False, f"{where} has {len(validation.errors)} error(s); first: {place}: "
                                          f"{' '.join(first.message.split())[:MAX_DETAIL]}")]


def _audit(services) -> list[Check]:
    from app.audit_record import AuditQuery

    services.audit.search(AuditQuery(limit=1))
    check_writable = getattr(services.audit, "check_writable", None)  # a Snowflake table: INSERT granted?
    if check_writable is None:
        return [Check("Audit log", True, f"readable ({services.settings.audit_log})")]
    check_writable()
    return [Check("Audit log", True, f"readable and writable ({services.settings.audit_log})")]


def _records(services) -> list[Check]:
    """With audit_log = "snowflake": the tables of finding states, the alerts' ledger, campaigns and the
    writers' lock rows (deploy/setup.sql step 4) readable and writable by the app's role; nothing otherwise
    (the workspace's SQLite file)."""
    if services.settings.audit_log != "snowflake":
        return []
    from app import campaigns
    from app.findings_state import states_for

    stores: list[Any] = [states_for(services), campaigns.store_for(services)]  # Snowflake tables: check_writable
    for store in stores:
        store.check_writable()
    return [Check("SnowTower records", True, "finding states, alerts' ledger, campaigns and lock rows: readable and "
                                             "writable (Snowflake tables)")]


def _one_by_one(*steps: tuple[str, Callable]) -> Callable[[object], list[Check]]:
    """Steps run one after the other in one thread, each failing on its own line: the Snowflake probe
    and a Snowflake audit log share one connection, which is not for two threads at once."""
    def check(services) -> list[Check]:
        out = []
        for name, fn in steps:
            try:
                out += fn(services)
            except Exception as exc:  # noqa: BLE001 - every failure becomes its line on the page
                out.append(Check(name, False, _line(exc)))
        return out
    return check


def checks(services, snowflake=None, seconds: float = CHECK_SECONDS) -> list[Check]:
    """Every check of `services` (app.services.Services) and the Snowflake source `snowflake` (a
    core.snowflake CursorSource; None: not configured), in a fixed order, within `seconds` in all."""
    named: list[tuple[str, Callable]] = [
        ("Settings", _settings), ("Mode", _mode),
        ("GitHub" if services.mode.on_github else "Change requests", _changes),
        ("SnowDDL", _snowddl), ("Configuration", _config),
        ("Snowflake and audit log", _one_by_one(("Snowflake", _snowflake(snowflake)), ("Audit log", _audit),
                                                ("SnowTower records", _records)))]
    results: list[list[Check] | None] = [None] * len(named)

    def run(i: int, name: str, fn: Callable) -> None:
        try:
            results[i] = fn(services)
        except Exception as exc:  # noqa: BLE001 - every failure becomes its line on the page
            results[i] = [Check(name, False, _line(exc))]

    threads = []
    now = time.monotonic()
    with _RUNNING_LOCK:
        for key in [k for k, (t, _) in _RUNNING.items() if not t.is_alive()]:
            del _RUNNING[key]  # finished: kept no longer than its thread
        for i, (name, fn) in enumerate(named):
            previous = _RUNNING.get((id(services), name))
            if previous is not None and previous[0].is_alive():
                results[i] = [Check(name, False, f"still waiting for the previous check (started "
                                                 f"{now - previous[1]:.0f} s ago)")]
                continue
            t = threading.Thread(target=run, args=(i, name, fn), daemon=True, name=f"status-{name}")
            _RUNNING[(id(services), name)] = (t, now)
            threads.append(t)
            t.start()
    deadline = now + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    out: list[Check] = []
    for (name, _), found in zip(named, results, strict=True):
        out += found if found is not None else [Check(name, False, f"no answer within {seconds:g} s")]
    return out
