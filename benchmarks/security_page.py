"""How long the security page takes to render in a real browser, by QUERY_HISTORY size, and how long
"who can reach X" takes on the 5,000-user generated config.

    .venv/bin/python benchmarks/security_page.py [ROWS ...]     (default: 1000000)
    .venv/bin/python benchmarks/security_page.py --reach         (the 5,000-user config, benchmarks/generate.py)

Browser: as benchmarks/cost_page.py (fresh workspace per size, `snowtower demo`, Chromium signs in as
admin); a render ends when the five metrics, the first finding's Fix button and the first table are on
screen and Streamlit has finished the run. Cold: the first visit after the server started; warm: the 5
visits after it. Reach: building the graph from SnowDDL's derived roles once, then each object's
who_can_reach and each of 200 users' what_can_reach. Prints milliseconds.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from benchmarks import cost_page  # noqa: E402
from test_demo_flow import ARGS, CHROMIUM, idle  # noqa: E402


def render(page) -> float:
    """Milliseconds from clicking Security until its metrics, a Fix button and a table are drawn."""
    started = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Security").click()
    page.get_by_test_id("stMetric").nth(4).wait_for()
    page.get_by_role("button", name="Fix").first.wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for(state="attached")
    idle(page, timeout=120)
    return (time.perf_counter() - started) * 1000 - 300  # idle() waits 300 ms before it looks


def reach() -> None:
    from benchmarks.generate import generate
    from core.findings.reach import ReachGraph
    from core.snowddl.config_loader import load_config
    from core.snowddl.baseline import Baseline

    with tempfile.TemporaryDirectory(prefix="snowtower-reach-") as tmp:
        generate(Path(tmp) / "config")
        started = time.perf_counter()
        loaded = load_config(Path(tmp) / "config")
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        graph = ReachGraph.from_baseline(Baseline.from_config(loaded.snowddl))
        build_s = time.perf_counter() - started
    print(f"config: {len(loaded.users):,} users, {len(loaded.business_roles):,} business roles, "
          f"{len(loaded.schemas):,} schemas; load {load_s:.2f} s, graph {build_s:.2f} s (once per commit)")
    for kind in ("WAREHOUSE", "DATABASE", "SCHEMA"):
        times, most = [], 0
        for name in graph.objects(kind):
            t = time.perf_counter()
            most = max(most, len(graph.who_can_reach(kind, name)))
            times.append((time.perf_counter() - t) * 1000)
        print(f"who_can_reach {kind:<9} {len(times):>5} objects: median {statistics.median(times):7.1f} ms, "
              f"max {max(times):7.1f} ms (up to {most:,} users)")
    times = []
    for user in loaded.users[:200]:
        t = time.perf_counter()
        graph.what_can_reach(user)
        times.append((time.perf_counter() - t) * 1000)
    print(f"what_can_reach {len(times)} users: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms")


def main(argv: list[str]) -> None:
    if argv == ["--reach"]:
        reach()
        return
    from playwright.sync_api import sync_playwright

    sizes = [int(a) for a in argv] or [1_000_000]
    print(f"{'rows':>12} {'generate s':>11} {'file MB':>8} {'cold ms':>8} {'warm median ms':>15} {'warm max ms':>12}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for rows in sizes:
                r = cost_page.measure(rows, browser, render)
                print(f"{r['rows']:>12,} {r['generate_s']:>11.1f} {r['file_mb']:>8.0f} {r['cold_ms']:>8.0f} "
                      f"{r['warm_median_ms']:>15.0f} {r['warm_max_ms']:>12.0f}", flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
