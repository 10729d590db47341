"""How long opening one change request on GitHub takes, by PyGithub throttling setting.

Runs the real backend (real PyGithub over HTTP) against the GitHub test server on 127.0.0.1, so the
numbers are SnowTower's and PyGithub's own time plus the throttling, without network latency.

    .venv/bin/python benchmarks/github_open_pr.py [--runs 5]

Numbers are written down in docs/github.md.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.changes.github import GitHubChanges, GitHubConfig, connect  # noqa: E402
from core.changes.model import Actor  # noqa: E402
from core.workspace import seed_files  # noqa: E402
from app.settings import EXAMPLE_CONFIG  # noqa: E402
from tests.github_server import FakeGitHub  # noqa: E402

SETTINGS = {
    "PyGithub defaults (0.25 s / 1 s)": (0.25, 1.0),
    "SnowTower default (0 s / 0.25 s)": (0.0, 0.25),
    "no throttling (0 s / 0 s)": (0.0, 0.0),
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = FakeGitHub(Path(tmp) / "gh", tokens={"t": "bot"})
        server.seed(seed_files(EXAMPLE_CONFIG))
        server.start()
        try:
            actor = Actor("bench", "Bench Mark", "bench@example.com")
            for label, (between_requests, between_writes) in SETTINGS.items():
                cfg = GitHubConfig(server.full_name, server.base_url, token="t", seconds_between_requests=between_requests,
                                   seconds_between_writes=between_writes)
                backend = GitHubChanges(connect(cfg), cfg, Path(tmp) / "cache", signing_key=secrets.token_bytes(32))
                backend.portal_login  # noqa: B018 - learned once per process, not part of opening a request
                times, calls = [], []
                for i in range(args.runs):
                    base = backend.base_head()
                    files = {f"bench/{label[:8]}_{i}_{n}.yaml": f"n: {n}\n" for n in range(10)}
                    server.reset_calls()
                    started = time.perf_counter()
                    backend.open(recipe="bench", title=f"bench {i}", body="b", requester=actor, justification="j",
                                 request={"label": label, "i": i}, files=files, base_sha=base, validation={"valid": True})
                    times.append(time.perf_counter() - started)
                    calls.append(len(server.calls))
                print(f"{label:36s} median {statistics.median(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f}; "
                      f"{max(calls)} calls, 10 files)")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
