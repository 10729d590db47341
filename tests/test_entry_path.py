"""The entry script's fix of sys.path (the project's root first, portal/ off it) keeps every other entry while
other sessions' runs change the path at the same time, as Streamlit's runs do (each adds portal/ while it runs:
streamlit.runtime.scriptrunner.exec_code.modified_sys_path). A CI run's demo server lost the standard library's
folder that way, and every later import of a module not yet loaded failed: "No module named 'unittest'"."""
from __future__ import annotations

import ast
import sys
import threading
from pathlib import Path

from streamlit.runtime.scriptrunner.exec_code import modified_sys_path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "portal" / "app.py"


def path_fix():
    """The entry script's statement that assigns sys.path[:], compiled on its own."""
    tree = ast.parse(ENTRY.read_text(encoding="utf-8"))
    found = [node for node in tree.body if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "sys.path[:]"]
    assert len(found) == 1
    return compile(ast.Module(body=found, type_ignores=[]), str(ENTRY), "exec")


def test_concurrent_runs_keep_every_entry_of_the_path():
    code, saved = path_fix(), list(sys.path)
    others = [p for p in saved if Path(p or ".").resolve() not in (ROOT, ROOT / "portal")]
    # More entries to skip over, as a server's path has (site-packages, the editable install's, ...)
    extra = [f"/nonexistent/snowtower-path-test/{i}" for i in range(40)]
    sys.path[:] = saved + extra
    errors = []

    def session_runs():
        try:
            for _ in range(150):
                with modified_sys_path(str(ENTRY)):  # what Streamlit does around each run
                    exec(code, {"sys": sys, "Path": Path, "ROOT": ROOT})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can: the race shows at once
    try:
        threads = [threading.Thread(target=session_runs) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = list(sys.path)
    finally:
        sys.setswitchinterval(interval)
        sys.path[:] = saved
    assert not errors
    assert after[0] == str(ROOT)
    assert [p for p in after if p in others or p in extra] == others + extra  # none lost, none doubled, in order
    assert str(ROOT / "portal") not in after
