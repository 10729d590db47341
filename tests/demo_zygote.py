"""The browser tests' demo servers, forked from one interpreter per test worker that has the heavy
third-party modules loaded already (Streamlit, pandas, SnowDDL and the Snowflake connector, fakesnow,
DuckDB, sqlglot, Altair, PyGithub, pydantic, cryptography).

Why: a server started as a new process imported them twice (the `snowtower demo` process, then the
`python -m streamlit run` it execs, whose first script run imports SnowDDL and through it the connector and
pandas): about 4 CPU-seconds per server more than a fork, and the suite starts about twenty servers on a
2-core machine where the CPU is the limit (docs/performance.md). A forked child starts with them loaded.

What the child runs is the command the tests ran before: `python -m tests.bcrypt_cost demo ...`, that is
`snowtower demo` (portal.cli) with bcrypt's lowest cost, in the folder and environment asked for, its
output to the log file asked for. The one difference: `snowtower demo` ends by exec'ing
`python -m streamlit run portal/app.py ...`; here that exec runs the same module in the same process
(runpy, as `python -m` does), with the environment and arguments the exec was given. The portal's own
modules are not loaded in the parent. In the child they are not all fresh either: what `snowtower demo` imported
before its exec (about 110 of app, core and portal: `app`, portal.auth, portal.errors) stays loaded into the
server, with the preloaded standard library, so an entry script that could not import them itself (a lost
sys.path entry, `app` shadowed by portal/app.py) still works here; tests/browser/test_signin_browser.py's
server is started fresh for that (served_demo's `fresh`).

Protocol (stdin/stdout, one JSON object a line): {"argv": [...], "env": {...}, "cwd": "...", "log": "..."}
in, {"pid": N} out. The parent reaps its children. Run as `python -m tests.demo_zygote`.
"""
from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRELOAD = ("streamlit", "streamlit.web.cli", "streamlit.web.bootstrap", "pandas", "snowflake.connector", "snowddl",
           "fakesnow", "duckdb", "sqlglot", "altair", "github", "pydantic", "cryptography", "yaml", "bcrypt")


# ---- in the test worker ----

_lock = threading.Lock()
_zygote: subprocess.Popen | None = None


def _started() -> subprocess.Popen:
    global _zygote
    if _zygote is None or _zygote.poll() is not None:
        _zygote = subprocess.Popen([sys.executable, "-m", "tests.demo_zygote"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, cwd=ROOT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        atexit.register(_stop, _zygote)
    return _zygote


def _stop(zygote: subprocess.Popen) -> None:
    try:
        zygote.stdin.close()  # its loop ends at the end of its input
        zygote.wait(10)
    except Exception:
        zygote.kill()


class Server:
    """A forked demo server: terminate() and wait() as subprocess.Popen's. Held by a pidfd (Linux), so that no
    signal reaches another process that got its number after the zygote reaped it."""

    def __init__(self, pid: int):
        self.pid = pid
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already ended and reaped
            self._fd = None

    def poll(self) -> int | None:
        if self._fd is None:
            return 0
        readable, _, _ = select.select([self._fd], [], [], 0)  # a pidfd reads as ready once its process has ended
        return 0 if readable else None

    def _signal(self, number: int) -> None:
        if self._fd is not None:
            try:
                signal.pidfd_send_signal(self._fd, number)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        if self._fd is not None:
            readable, _, _ = select.select([self._fd], [], [], timeout)
            if not readable:
                self._signal(signal.SIGKILL)
                raise subprocess.TimeoutExpired(f"demo server {self.pid}", timeout)
            os.close(self._fd)
            self._fd = None
        return 0


def spawn(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Server:
    """Run `python ARGV` (argv without the interpreter: ["-m", "tests.bcrypt_cost", "demo", ...]) forked from
    this worker's zygote, in `cwd` with exactly `env`, its output appended to `log`."""
    with _lock:
        zygote = _started()
        zygote.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": str(cwd), "log": str(log)}) + "\n")
        zygote.stdin.flush()
        answer = zygote.stdout.readline()
    if not answer:
        raise RuntimeError(f"the demo zygote ended (exit {zygote.poll()})")
    return Server(json.loads(answer)["pid"])


# ---- in the zygote ----

def _reap(*_) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _run_then_exit(module: str, args: list[str], env: dict[str, str], prepare) -> None:
    """prepare(), then `python -m MODULE ARGS` run in this process with exactly `env`; then this process ends
    with its exit code (never returns)."""
    code = 1
    try:
        prepare()
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["-m", *args]  # runpy sets sys.argv[0] to the module's file, as `python -m` does
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _exec_here(file, args, env) -> None:
    """os.execvpe in a forked child: `python -m MODULE ARGS` run in this process (as exec would start it,
    with the modules already loaded); never returns."""
    def prepare() -> None:
        if list(args[1:2]) != ["-m"]:
            raise RuntimeError(f"the demo zygote runs `python -m ...` only, not {args!r}")
        # What ran before (snowtower demo) read Streamlit's config without flags; unread again, `streamlit run`
        # parses it with its flags as the new process of an exec does (not as a change to a running server's
        # options, which Streamlit warns about).
        from streamlit import config

        config._config_options = None

    _run_then_exit(args[2], list(args[3:]), env, prepare)


def _child(request: dict) -> None:
    def prepare() -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.execvpe = _exec_here  # snowtower demo's last step (portal.cli._serve)

    _run_then_exit(request["argv"][1], request["argv"][2:], request["env"], prepare)


def main() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()  # the children share these pages until they write to them
    signal.signal(signal.SIGCHLD, _reap)
    for line in sys.stdin:
        request = json.loads(line)
        if request["argv"][:1] != ["-m"]:
            raise SystemExit(f"the demo zygote runs `python -m ...` only, not {request['argv']!r}")
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    finally:  # fakesnow's stage folder, made when it was preloaded (the servers' own exit leaves it: os._exit)
        import shutil

        folder = getattr(sys.modules.get("fakesnow.transforms.stage"), "LOCAL_BUCKET_PATH", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
