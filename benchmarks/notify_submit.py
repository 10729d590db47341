"""What notifications cost a request: the time of SubmitRequest on a demo workspace with no notification
channel, and with a Slack webhook whose receiver hangs (it holds every message until the run is over;
notify_timeout 5 s). Delivery runs in the background, so the two should be the same.

    .venv/bin/python benchmarks/notify_submit.py [--runs 5]

Numbers are written down in docs/notifications.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.operations import PreviewRequest, SubmitRequest  # noqa: E402
from app.services import build_services  # noqa: E402
from app.settings import load_settings  # noqa: E402
from core.changes.model import Actor  # noqa: E402
from recipes import RECIPES  # noqa: E402
from tests.notify_support import SlackReceiver, write_users  # noqa: E402

RECIPE = RECIPES["grant-role"]
REQUESTER = Actor("requester", "Riley Requester", "", ("requester",))


def timed_submits(workspace: Path, runs: int) -> list[float]:
    write_users(workspace)
    (workspace / "settings.toml").write_text('[snowtower]\nbase_url = "https://snowtower.example"\nnotify_timeout = 5.0\n')
    services = build_services(load_settings(workspace))
    users = sorted(services.snapshot().config.users)
    out = []
    for i in range(runs):
        raw = {"name": users[i], "business_roles": ["BI_TOOL"], "justification": "Benchmark run."}
        preview = PreviewRequest(services, RECIPE, raw).execute()
        start = time.perf_counter()
        SubmitRequest(services, REQUESTER, RECIPE, raw, preview.base_sha).execute()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        quiet = timed_submits(Path(tmp) / "quiet", args.runs)
        receiver = SlackReceiver()
        receiver.hold = threading.Event()  # every message waits: a receiver that does not answer
        os.environ["SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL"] = f"{receiver.url}/services/T/B/X"
        try:
            hung = timed_submits(Path(tmp) / "hung", args.runs)
            posted = len(receiver.posts)
        finally:
            receiver.stop()
            del os.environ["SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL"]
    for label, times in (("no notification channel", quiet), ("Slack receiver that hangs", hung)):
        print(f"{label:28s} submit median {statistics.median(times) * 1000:7.1f} ms  max {max(times) * 1000:7.1f} ms"
              f"  ({len(times)} runs)")
    print(f"messages the hung receiver had taken and not answered while the requests were submitted: {posted}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
