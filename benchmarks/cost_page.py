"""How long the cost page takes to render in a real browser, by QUERY_HISTORY size, plus how long the
demo account takes to generate: what an admin waits for.

    .venv/bin/python benchmarks/cost_page.py [ROWS ...]      (default: 100000 1000000 10000000)

For each size: a fresh workspace, `snowtower demo --query-rows ROWS` (its generation time is timed
separately, before the server starts), then Chromium (/usr/bin/chromium) signs in as admin and opens
Cost. Cold: the first visit after the server started (every question runs on the stand-in). Warm: the
next visits (answers from the portal's cache). A render ends when the five metrics, the first chart's
drawing and the first table are on screen and Streamlit has finished the run. Prints milliseconds.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from test_demo_flow import ARGS, CHROMIUM, _free_port, go, idle, sign_in  # noqa: E402

WARM_VISITS = 5


def generate(workspace: Path, rows: int) -> float:
    """Seconds to create the workspace and its demo account of `rows` QUERY_HISTORY rows."""
    from app.services import build_services
    from app.settings import load_settings

    started = time.perf_counter()
    build_services(load_settings(workspace)).sync_demo_account(generate=True, query_rows=rows)
    return time.perf_counter() - started


def serve(workspace: Path):
    port = _free_port()
    log = open(workspace / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "portal.cli", "demo", "--workspace", str(workspace), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the demo server did not start: " + (workspace / "server.log").read_text())


def render(page) -> float:
    """Milliseconds from clicking Cost until its metrics, first chart and first table are drawn."""
    started = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Cost").click()
    page.get_by_test_id("stMetric").nth(4).wait_for()  # the fifth metric: the page has five
    page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first.wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for()
    idle(page, timeout=120)
    return (time.perf_counter() - started) * 1000 - 300  # idle() waits 300 ms before it looks


def measure(rows: int, browser, render=render) -> dict:
    """Generation, file size and the cold and warm times of `render` (a page's timing) at `rows`."""
    with tempfile.TemporaryDirectory(prefix="snowtower-bench-") as tmp:
        workspace = Path(tmp) / "workspace"
        seconds = generate(workspace, rows)
        size = (workspace / "snowflake" / "SNOWFLAKE.db").stat().st_size
        proc, url = serve(workspace)
        try:
            page = sign_in(browser, url, "admin")
            cold = render(page)
            warm = []
            for _ in range(WARM_VISITS):
                go(page, "Home")
                warm.append(render(page))
        finally:
            proc.terminate()
            proc.wait(10)
    return {"rows": rows, "generate_s": seconds, "file_mb": size / 1e6, "cold_ms": cold,
            "warm_median_ms": statistics.median(warm), "warm_max_ms": max(warm)}


def main(argv: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    sizes = [int(a) for a in argv] or [100_000, 1_000_000, 10_000_000]
    print(f"{'rows':>12} {'generate s':>11} {'file MB':>8} {'cold ms':>8} {'warm median ms':>15} {'warm max ms':>12}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for rows in sizes:
                r = measure(rows, browser)
                print(f"{r['rows']:>12,} {r['generate_s']:>11.1f} {r['file_mb']:>8.0f} {r['cold_ms']:>8.0f} "
                      f"{r['warm_median_ms']:>15.0f} {r['warm_max_ms']:>12.0f}", flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
