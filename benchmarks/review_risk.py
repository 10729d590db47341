"""How long the review page's risk flags take on the example config: one request's flags computed from
its base and head configs (head parsed, its baseline derived, both role graphs walked), and the queue's
rows for N open requests (each request's flags once; later page runs reuse them).

    .venv/bin/python benchmarks/review_risk.py [REQUESTS]

Prints milliseconds: the first request cold, the same again (cached), and the whole queue.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import review  # noqa: E402
from app.operations import PreviewRequest, SubmitRequest  # noqa: E402
from app.services import build_services  # noqa: E402
from app.settings import load_settings  # noqa: E402
from core.changes.model import Actor  # noqa: E402
from core.keys import generate_key_pair  # noqa: E402
from recipes import RECIPES  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    services = build_services(load_settings(Path(tempfile.mkdtemp()) / "workspace"))
    requester = Actor("requester", "Riley Requester", "", ("requester",))
    approver = Actor("approver", "Avery Approver", "", ("requester", "approver"))
    key = generate_key_pair().public_pem
    recipe = RECIPES["new-user"]
    made = []
    for i in range(count):
        raw = {"name": f"bench_user_{i}", "first_name": "Bench", "last_name": "User", "email": f"b{i}@x.example",
               "rsa_public_key": key, "business_roles": ["ANALYST"], "justification": "Benchmark."}
        preview = PreviewRequest(services, recipe, raw).execute()
        made.append(SubmitRequest(services, requester, recipe, raw, preview.base_sha).execute())
    start = time.perf_counter()
    flags = review.risks(services, made[0], approver)
    cold = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    review.risks(services, made[0], approver)
    warm = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    rows = review.queue(services, approver)
    whole = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    review.queue(services, approver)
    again = (time.perf_counter() - start) * 1000
    assert len(rows) == count and flags
    print(f"one request, cold: {cold:.0f} ms; cached: {warm:.2f} ms")
    print(f"queue of {count} (one cached): {whole:.0f} ms; again: {again:.0f} ms")


if __name__ == "__main__":
    main()
