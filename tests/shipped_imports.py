"""What the app can import in Streamlit in Snowflake, enforced in this test process.

The container runtime installs only deploy/requirements.txt (from PyPI) beside the files snowflake.yml
ships (https://docs.snowflake.com/en/developer-guide/streamlit/app-development/dependency-management:
"the container runtime ... installs the packages listed in requirements.txt"); nothing else is there.
`ShippedImports` makes the same true here for the app's own code (the folders snowflake.yml ships):
such code may import the standard library, the shipped folders, and the top-level modules of the
distributions in the closure of deploy/requirements.txt (each requirement and, recursively, what its
metadata requires for this platform). Anything else (duckdb, fakesnow, pytest, streamlit_authenticator,
the repository's tests ...) raises ModuleNotFoundError, as it would in Snowflake.

Two hooks, one rule, because a meta-path finder alone is consulted only for modules not loaded yet
(and the test harness has loaded duckdb for fakesnow): the finder refuses first-time imports (also
importlib.import_module), and a wrapper of builtins.__import__ refuses every import statement, loaded
module or not. Only the importer's own code is judged: a permitted distribution (streamlit, the
connector) imports what it likes, as its own dependencies are in the closure; the harness too.
"""
from __future__ import annotations

import builtins
import importlib.metadata as metadata
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def shipped_folders(root: Path = ROOT) -> list[Path]:
    """The folders of code snowflake.yml deploys (its artifacts that are folders), e.g. portal/, app/."""
    project = yaml.safe_load((root / "snowflake.yml").read_text())
    [app] = [e for e in project["entities"].values() if e.get("type") == "streamlit"]
    names = [a if isinstance(a, str) else a.get("src", "") for a in app["artifacts"]]
    return [root / n.rstrip("/") for n in names if n.endswith("/") and (root / n).is_dir()]


def requirement_closure(requirements: Path) -> set[str]:
    """Canonical names of the distributions that `pip install -r requirements` installs on this
    platform: each line and, recursively, every requirement of theirs whose marker holds (with the
    extras asked for). A requirement that is not installed here is left out (the caller's test fails
    on a missing import then, which is the point)."""
    todo = [Requirement(line.split("#")[0].strip()) for line in requirements.read_text().splitlines()
            if line.split("#")[0].strip()]
    extras: dict[str, set[str]] = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in extras and set(req.extras) <= extras[name]:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        asked = extras.setdefault(name, set())
        asked.update(req.extras)
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (asked or {""})):
                todo.append(sub)
    return set(extras)


def _modules_of(dist: metadata.Distribution) -> set[str]:
    """Dotted names of the modules a distribution's files hold at their first two levels (six,
    snowflake, snowflake.connector ...)."""
    out = set()
    for f in dist.files or []:
        parts = f.parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info", ".egg-info", ".data", ".pth")):
            continue
        top = parts[0].split(".")[0] if len(parts) == 1 else parts[0]
        out.add(top)
        if len(parts) >= 2:
            second = parts[1] if len(parts) > 2 else parts[1].split(".")[0]
            if second not in ("__pycache__", "__init__"):
                out.add(f"{top}.{second}")
    return out


class ShippedImports:
    """The rule and its two hooks. `allowed_top`: top-level names the app may import; `refused`:
    dotted names refused inside a namespace shared with a permitted distribution (snowflake.cli beside
    snowflake.connector). `refusals` lists what was refused (name, importer file)."""

    def __init__(self, root: Path = ROOT, requirements: Path | None = None):
        self.folders = [f.resolve() for f in shipped_folders(root)]
        closure = requirement_closure(requirements or root / "deploy" / "requirements.txt")
        self.closure = closure
        permitted, others = set(), set()
        for dist in metadata.distributions():
            name = canonicalize_name(dist.metadata["Name"] or "")
            (permitted if name in closure else others).update(_modules_of(dist))
        permitted_top = {m.split(".")[0] for m in permitted}
        self.allowed_top = set(sys.stdlib_module_names) | permitted_top | {f.name for f in self.folders}
        # a namespace package both sides use: refuse only the other side's own subpackages
        self.refused = {m for m in others if "." in m and m.split(".")[0] in permitted_top and m not in permitted}
        self.refusals: list[tuple[str, str]] = []
        self._import = None

    def is_app_code(self, globals_: dict | None) -> bool:
        file = (globals_ or {}).get("__file__")
        if not file:
            return False
        try:
            path = Path(file).resolve()
        except (OSError, ValueError):
            return False
        return any(path.is_relative_to(f) for f in self.folders)

    def allows(self, name: str) -> bool:
        top = name.split(".")[0]
        if top not in self.allowed_top:
            return False
        return not any(name == r or name.startswith(r + ".") for r in self.refused)

    def _refuse(self, name: str, globals_: dict | None):
        self.refusals.append((name, str((globals_ or {}).get("__file__"))))
        raise ModuleNotFoundError(f"No module named {name!r} (not installed by deploy/requirements.txt: "
                                  "Streamlit in Snowflake does not have it)", name=name)

    # the builtins.__import__ wrapper: every import statement, module loaded or not
    def _guarded_import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and self.is_app_code(globals):
            if not self.allows(name):
                self._refuse(name, globals)
            for item in fromlist or ():  # `from snowflake import cli` names the refused module in fromlist
                if item != "*" and not self.allows(f"{name}.{item}") and f"{name}.{item}" in self.refused:
                    self._refuse(f"{name}.{item}", globals)
        return self._import(name, globals, locals, fromlist, level)

    # the meta-path finder: first-time imports, also through importlib.import_module
    def find_spec(self, fullname, path=None, target=None):
        frame = sys._getframe(1)
        while frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                     or frame.f_code.co_filename in (__file__, getattr(builtins, "__file__", ""))
                                     or "/importlib/" in frame.f_code.co_filename):
            frame = frame.f_back
        if frame is not None and self.is_app_code(frame.f_globals) and not self.allows(fullname):
            self._refuse(fullname, frame.f_globals)
        return None  # not ours to load: the next finder does

    def install(self) -> None:
        self._import = builtins.__import__
        builtins.__import__ = self._guarded_import
        sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if self._import is not None:
            builtins.__import__ = self._import
            self._import = None
