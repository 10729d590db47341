"""API calls and wall time per page view that lists change requests on GitHub, with a long history.

Runs the real backend (real PyGithub over HTTP) against the GitHub test server on 127.0.0.1, which
paginates, sends ETags and answers 304 as GitHub does. The repository holds `--total` portal pull
requests (default 800), `--open` of them open (runs 20 and 400 by default), from 10 requesters.
For each page it measures the first view of a fresh process (cold) and the next views when nothing
changed (warm, median of `--runs`):

- review queue: `list(statuses=[open, changes requested, approved])`
- my requests: `list(requester=...)` (open and closed requests of one person)
- my req. page: what pages/my_requests.py asks for: that list, then each request's history and diff

    .venv/bin/python benchmarks/github_list.py                  # this checkout
    .venv/bin/python benchmarks/github_list.py --code DIR       # the backend of another checkout (before)

To measure "before": `git archive main | tar -x -C /tmp/before`, then `--code /tmp/before` (the test
server and the seeding still come from this checkout). Numbers are written down in docs/github.md.
"""
from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.github_server import FakeGitHub  # noqa: E402
from tests.github_support import seed_history  # noqa: E402

REQUESTERS = tuple(f"person{i}" for i in range(10))
KEY = b"benchmark-signing-key"  # the portal's record key (any bytes; only this process uses it)


def load_backend(code: str | None):
    """core.changes.github from this checkout, or from `code` (another checkout) when given."""
    if code:
        for name in [n for n in sys.modules if n == "core" or n.startswith("core.")]:
            del sys.modules[name]
        sys.path.insert(0, str(Path(code).resolve()))
    from core.changes import github
    from core.changes.model import Status
    return github, Status


def measure(server, make_backend, view, runs: int) -> dict:
    backend = make_backend()  # a fresh process: nothing remembered
    server.reset_calls()
    started = time.perf_counter()
    view(backend)
    cold = {"seconds": time.perf_counter() - started, "calls": len(server.calls), "rate": server.rate_cost}
    warm_times, warm_calls, warm_rate = [], [], []
    for _ in range(runs):
        server.reset_calls()
        started = time.perf_counter()
        view(backend)
        warm_times.append(time.perf_counter() - started)
        warm_calls.append(len(server.calls))
        warm_rate.append(server.rate_cost)
    return {"cold": cold, "warm": {"seconds": statistics.median(warm_times), "calls": max(warm_calls), "rate": max(warm_rate)}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=800)
    parser.add_argument("--open", type=int, action="append", help="open pull requests (repeatable; default 20 and 400)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--code", help="a checkout whose core/ is measured instead of this one's")
    args = parser.parse_args()
    github, Status = load_backend(args.code)
    queue = [Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED]
    views = {
        "review queue": lambda b: b.list(statuses=queue),
        "my requests": lambda b: b.list(requester=REQUESTERS[0]),
        "my req. page": lambda b: [(b.events(cr), b.diff(cr)) for cr in b.list(requester=REQUESTERS[0])],
    }
    print(f"backend: {args.code or 'this checkout'}; {args.total} pull requests; {args.runs} warm runs")
    for opened in args.open or [20, 400]:
        with tempfile.TemporaryDirectory() as tmp:
            from core.workspace import seed_files
            from app.settings import EXAMPLE_CONFIG

            server = FakeGitHub(Path(tmp) / "gh", tokens={"t": "bot"})
            server.seed(seed_files(EXAMPLE_CONFIG))
            seed_history(server, closed=args.total - opened, opened=opened, requesters=REQUESTERS, key=KEY, author="bot")
            server.start()
            try:
                cfg = github.GitHubConfig(server.full_name, server.base_url, token="t")

                def make_backend():
                    # The "before" code (--code) predates signed records and takes no key.
                    signed = "signing_key" in inspect.signature(github.GitHubChanges).parameters
                    return github.GitHubChanges(github.connect(cfg), cfg, Path(tmp) / "cache",
                                                **({"signing_key": KEY} if signed else {}))

                for name, view in views.items():
                    r = measure(server, make_backend, view, args.runs)
                    c, w = r["cold"], r["warm"]
                    print(f"{opened:4d} open  {name:13s} cold {c['calls']:4d} calls ({c['rate']:4d} rate-limited) {c['seconds']:6.2f} s"
                          f" | warm {w['calls']:4d} calls ({w['rate']:4d} rate-limited) {w['seconds']:6.2f} s")
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
