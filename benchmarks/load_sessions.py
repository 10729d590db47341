"""A team's load on one portal: N concurrent sessions against one `snowtower demo` server, each a client of
Streamlit's own websocket protocol (/_stcore/stream, the BackMsg and ForwardMsg protobufs the browser
exchanges with the server), so the figures are the server's, not a browser's rendering on the same cores.

    .venv/bin/python benchmarks/load_sessions.py [--sessions 20] [--rounds 3] [--url http://HOST:PORT]

Without --url it starts `snowtower demo` on a free port with a fresh workspace (its stand-in generated
first, outside the timings). One session goes first alone (the server's cold start: imports, backends,
the base config's baseline), timed apart. Then each session, all at once:
  sign-in    the sign-in form submitted (approver or admin, password demo) until the signed-in run ends
  home       Home opened from another page
  open page  the Grant roles page opened (its form drawn from the config)
  preview    a grant-role request previewed: parse, build, SnowDDL validation and the offline plan
  review     the review queue opened
then `--rounds` more rounds of home, open page, preview, review. An action's time runs from the message
the browser would send (a click) to the server's "script finished" for that run (a rerun that the page
asks for itself, st.rerun, is waited for too). Then the non-blocking check: half of the sessions preview
over and over while the other half load Home, against Home loaded by the same half with nobody previewing.
The server's resident memory (VmRSS of its process, /proc) is sampled every 0.2 s: idle, and the peak.

Prints p50 / p95 / max per action in milliseconds, the RSS, and the Home loads with and without previews.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import websockets
import yaml
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 300.0  # seconds: a run slower than this is a failure, not a figure
DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


class Session:
    """One browser tab, as the server sees it: a websocket, the page it is on, its widgets' values."""

    def __init__(self, url: str, login: str):
        self.ws_url = url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"
        self.login = login
        self.ws = None
        self.pages: dict[str, str] = {}  # url path ("" for the default) -> page_script_hash
        self.page_hash = ""
        self.elements: dict[str, object] = {}  # label -> widget proto of the last run
        self.texts: list[str] = []  # markdown, alerts, headings of the last run
        self.exception = ""

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                           ping_interval=None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def run(self, widgets: list | None = None, page: str | None = None) -> float:
        """Ask for a run (a click: `widgets` are the WidgetState values sent, `page` a url path to go to)
        and wait for its end, and for the end of any run it asks for itself. Returns seconds."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = self.pages.get(page, self.page_hash) if page is not None else self.page_hash
        for w in widgets or []:
            state.widget_states.widgets.append(w)
        started = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        self.elements, self.texts = {}, []
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), RUN_TIMEOUT)
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in fm.navigation.app_pages}
                self.page_hash = fm.navigation.page_script_hash
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                self._element(fm.delta.new_element)
            elif kind == "script_finished" and fm.script_finished in DONE:
                return time.perf_counter() - started
            elif kind == "script_finished":  # ended early for a rerun the page asked for: its next run counts
                self.elements, self.texts = {}, []

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        sub = getattr(element, kind)
        if kind == "exception":
            self.exception = f"{sub.type}: {sub.message}"
        label = getattr(sub, "label", "")
        if getattr(sub, "id", "") and label:
            self.elements[label] = sub
        for field in ("body",):
            if isinstance(getattr(sub, field, None), str):
                self.texts.append(getattr(sub, field))

    def widget(self, label: str):
        if label not in self.elements:
            raise RuntimeError(f"{self.login}: no widget {label!r} on the page; has {sorted(self.elements)}"
                               + (f"; exception {self.exception}" if self.exception else ""))
        return self.elements[label]


def state(widget, **value):
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    w = WidgetState(id=widget.id)
    for key, v in value.items():
        if key == "string_array_value":
            w.string_array_value.data.extend(v)
        else:
            setattr(w, key, v)
    return w


# -- the actions -------------------------------------------------------------------------------------------

async def sign_in_form(s: Session) -> float:
    """A new tab: the websocket opened and the first run (the sign-in form) drawn."""
    started = time.perf_counter()
    await s.connect()
    await s.run()
    return time.perf_counter() - started


async def sign_in(s: Session) -> float:
    """Sign in pressed (the password checked against its bcrypt hash) until the signed-in Home is drawn."""
    took = await s.run([state(s.widget("Username"), string_value=s.login), state(s.widget("Password"), string_value="demo"),
                        state(s.widget("Sign in"), trigger_value=True)])
    if not any("Signed in as" in t for t in s.texts):
        raise RuntimeError(f"{s.login} is not signed in: {s.texts[:3]} {s.exception}")
    return took


def grant(config: Path, i: int) -> tuple[str, list[str]]:
    """A user and a business role they do not hold, different per session (every preview validates)."""
    users = yaml.safe_load((config / "user.yaml").read_text())
    roles = sorted(yaml.safe_load((config / "business_role.yaml").read_text()))
    names = sorted(users)
    user = names[i % len(names)]
    held = {str(r).upper() for r in users[user].get("business_roles") or []}
    return user, [next(r for r in roles if r.upper() not in held)]


async def open_grant_page(s: Session) -> float:
    return await s.run(page="grant-role")


async def preview(s: Session, user: str, roles: list[str]) -> float:
    """Choose the user (its run draws the roles it may get), then Preview: the timed part."""
    await s.run([state(s.widget("User"), string_value=user)])
    widgets = [state(s.widget("User"), string_value=user),
               state(s.widget("Business roles"), string_array_value=roles),
               state(s.widget("Justification"), string_value="Needed for the quarterly pricing review."),
               state(s.widget("Preview"), trigger_value=True)]
    took = await s.run(widgets)
    if not any("SnowDDL validation passed" in t for t in s.texts):
        raise RuntimeError(f"{s.login}: the preview did not pass: {s.texts[:6]} {s.exception}")
    return took


async def home(s: Session) -> float:
    return await s.run(page="")


async def review(s: Session) -> float:
    took = await s.run(page="review")
    if s.exception:
        raise RuntimeError(f"{s.login}: the review queue failed: {s.exception}")
    return took


# -- the server ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo(workspace: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = open(workspace.parent / "server.log", "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWTOWER_")}
    proc = subprocess.Popen([sys.executable, "-m", "portal.cli", "demo", "--workspace", str(workspace), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("the demo server did not start: " + (workspace.parent / "server.log").read_text())


class RssSampler(threading.Thread):
    """VmRSS of a process every `every` seconds (kB from /proc/PID/status): the largest seen."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak, self.stop = pid, every, 0, threading.Event()

    def now(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.now())
            except OSError:
                return
            time.sleep(self.every)


# -- the load --------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def line(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"{name:<28} n={len(ms):<4} p50 {pct(ms, 0.5):>8.0f}  p95 {pct(ms, 0.95):>8.0f}  "
            f"max {max(ms):>8.0f}  mean {statistics.mean(ms):>8.0f}")


async def warm_up(url: str, config: Path) -> dict[str, list[float]]:
    """The server's first session after its start (imports, the backends, the base config's baseline
    built once): what the first person of the day waits for, timed apart from the team's load."""
    first = Session(url, "admin")
    out = {"first sign-in form": [await sign_in_form(first)], "first sign-in": [await sign_in(first)],
           "first home": [await home(first)],
           "first open page": [await open_grant_page(first)]}
    out["first preview"] = [await preview(first, *grant(config, 0))]
    out["first review"] = [await review(first)]
    await first.close()
    return out


async def load(url: str, config: Path, sessions: int, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in ("sign-in form", "sign-in", "home", "open page", "preview", "review")}
    people = [Session(url, "approver" if i % 2 else "admin") for i in range(sessions)]
    grants = [grant(config, i) for i in range(sessions)]

    async def one(i: int, s: Session) -> None:
        times["sign-in form"].append(await sign_in_form(s))
        times["sign-in"].append(await sign_in(s))
        for _ in range(1 + rounds):
            times["home"].append(await home(s))
            times["open page"].append(await open_grant_page(s))
            times["preview"].append(await preview(s, *grants[i]))
            times["review"].append(await review(s))

    await asyncio.gather(*(one(i, s) for i, s in enumerate(people)))

    # Non-blocking: half load Home alone, then while the other half preview without a pause.
    loaders, previewers = people[: sessions // 2], people[sessions // 2:]

    home_spans: list[tuple[float, float]] = []
    preview_spans: list[tuple[float, float]] = []

    async def homes(n: int) -> list[float]:
        out: list[float] = []

        async def loop(s: Session) -> None:
            for _ in range(n):
                started = time.perf_counter()
                out.append(await home(s))
                home_spans.append((started, time.perf_counter()))
        await asyncio.gather(*(loop(s) for s in loaders))
        return out

    times["home, nobody previewing"] = await homes(3)
    home_spans.clear()
    for s in previewers:
        await open_grant_page(s)
    busy = asyncio.Event()
    previews: list[float] = []

    async def keep_previewing(i: int, s: Session) -> None:
        while not busy.is_set():
            started = time.perf_counter()
            previews.append(await preview(s, *grants[i]))
            preview_spans.append((started, time.perf_counter()))

    running = [asyncio.create_task(keep_previewing(i, s)) for i, s in enumerate(previewers, start=len(loaders))]
    await asyncio.sleep(0.5)  # the previews are under way
    times["home, while others preview"] = await homes(3)
    busy.set()
    await asyncio.gather(*running)
    times["preview, under home loads"] = previews
    # A Home load that began after some preview began and ended before that preview ended was served
    # while the preview ran: previews would block other pages if there were none.
    inside = sum(any(p0 <= h0 and h1 <= p1 for p0, p1 in preview_spans) for h0, h1 in home_spans)
    times["_inside"] = [inside, len(home_spans)]
    await asyncio.gather(*(s.close() for s in people))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="a running demo portal (default: start one)")
    args = parser.parse_args()
    proc = None
    tmp = tempfile.TemporaryDirectory(prefix="snowtower-load-")
    if args.url:
        url, pid = args.url, None
    else:
        proc, url = start_demo(Path(tmp.name) / "ws")
        pid = proc.pid
    sampler = RssSampler(pid) if pid else None
    idle = warm = after = 0
    if sampler:
        idle = sampler.now()
        sampler.start()
    try:
        first = asyncio.run(warm_up(url, ROOT / "snowddl"))
        warm = sampler.now() if sampler else 0
        started = time.perf_counter()
        times = asyncio.run(load(url, ROOT / "snowddl", args.sessions, args.rounds))
        wall = time.perf_counter() - started
        after = sampler.now() if sampler else 0
    finally:
        if sampler:
            sampler.stop.set()
            sampler.join()
        if proc:
            proc.terminate()
            proc.wait(30)
        tmp.cleanup()
    for name, values in first.items():
        print(line(name, values))
    print(f"{args.sessions} concurrent sessions, {args.rounds + 1} rounds each, {wall:.0f} s in all; "
          f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    inside, loads = times.pop("_inside")
    for name, values in times.items():
        print(line(name, values))
    print(f"home loads that began and ended while one preview ran: {inside} of {loads}")
    if sampler:
        print(f"server RSS: {idle / 1024:.0f} MB just started, {warm / 1024:.0f} MB after the first session, "
              f"{sampler.peak / 1024:.0f} MB peak, {after / 1024:.0f} MB at the end (the sessions just closed)")


if __name__ == "__main__":
    main()
