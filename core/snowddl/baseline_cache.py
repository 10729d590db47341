"""A commit's baseline kept between processes: rows and names, never SnowDDL's blueprints.

One JSON file per commit and env prefix in the workspace cache (`<cache>/baselines/<sha>[-<env prefix>].json`),
written to a temporary file and renamed into place: a crash leaves the old file or none, and two processes
writing the same commit each rename a whole file (the last one stays). What a file holds (format 2):

- the rows of every role the baseline answers SHOW ROLES / SHOW GRANTS / SHOW FUTURE GRANTS with (plain
  strings: SnowDDL's roles are not rebuilt, which was most of the former format's reading time);
- each role resolver's derivations: (resolver, method, source name), the look-ups it made (blueprint type,
  pattern) and the name of the role it gave;
- per blueprint of the commit's config, its fingerprint (BLAKE2b of a by-value pickle that is written and
  hashed, never read back) and its identifier, and a fingerprint of the permission models.

Reading is JSON only (plain values; classes are looked up by name among SnowDDL's blueprint classes), so a
file that someone else wrote cannot run code; one that is cut short, of another format, SnowDDL version,
version of SnowTower's plan code (`code_version`), commit or env prefix, or whose parts do not fit together is not used (the baseline is built again).

A file read back is a `Baseline` without a config: its derived roles are `KeptRole`s (names standing for
the roles whose rows it has) and `kept` holds the fingerprints. `Baseline.from_config(config, previous=it)`,
for this commit's config or any other (the next base commit's after a restart), compares the config's
blueprints with the fingerprints (`Sources.changes`): a derivation whose source and look-ups did not change
gives its KeptRole again and the role keeps its rows; every other role is derived by SnowDDL again.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import pickle
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import snowddl.blueprint as sb
from pydantic import BaseModel
from snowddl.blueprint.ident import AbstractIdent
from snowddl.blueprint.ident_pattern import IdentPattern
from snowddl.config import SnowDDLConfig
from snowddl.version import __version__ as SNOWDDL_VERSION

from core.snowddl.snowddl_patches import ident_pattern

FORMAT = 2
# The modules whose code derives a baseline's rows: a file kept by other code (an upgrade that changed how
# a row is derived) is not used, or its rows would be carried on to every later base commit.
CODE_MODULES = tuple(str(Path(__file__).with_name(n)) for n in (
    "plan.py", "offline_engine.py", "baseline.py", "skip_unchanged.py", "baseline_cache.py", "snowddl_patches.py",
    "config_loader.py", "config_scan.py", "config_parse.py", "config_check.py", "problem_places.py"))
# Files kept per env prefix (15 MB each on the 5,000-users tree); older ones are removed when one is written.
KEEP_FILES = 8


class _Unusable(Exception):
    """A value that has no place in the file, or a file that does not match."""


class KeptRole:
    """A role derived in an earlier process, known by its name (`full_name`, a str); the kept baseline's
    rows say what it grants. It is equal only to itself: a plan sets it aside as the baseline's own role
    when its derivation is reused, and compares a role derived again against the rows instead."""

    __slots__ = ("full_name",)

    def __init__(self, name: str):
        self.full_name = name

    def __repr__(self):
        return f"KeptRole({self.full_name!r})"


class _ByValue(pickle.Pickler):
    """Pickles a blueprint by value, for its fingerprint only (never unpickled): pydantic models as their
    class and field values (not the set of fields given, a set whose order differs between processes),
    and no memo, so a shared value and two equal ones give the same bytes."""

    _kinds: dict = {}  # type -> how it is pickled (0: as pickle does, 1: pattern, 2: model, 3: set)

    def reducer_override(self, obj):
        kind = self._kinds.get(type(obj))
        if kind is None:
            kind = self._kinds[type(obj)] = (1 if type(obj) is IdentPattern else 2 if isinstance(obj, BaseModel)
                                             else 3 if isinstance(obj, (set, frozenset)) else 0)
        if kind == 0:
            return NotImplemented
        if kind == 1:  # made from its text alone (core.snowddl.snowddl_patches.ident_pattern relies on it)
            return IdentPattern, (obj.pattern, obj.is_complex_pattern)
        if kind == 2:
            return type(obj), (tuple(obj.__dict__.items()), obj.__pydantic_extra__, obj.__pydantic_private__)
        return type(obj), (sorted(obj, key=repr),)  # a set subclass (exact sets are pickled in their own order)


class _Fingerprints:
    def __init__(self):
        self._buffer = io.BytesIO()
        self._pickler = _ByValue(self._buffer, protocol=5)
        self._pickler.fast = True

    def __call__(self, value) -> str | None:
        """A 32-hex-digit digest: equal for equal values (as pickled), different for different ones; None
        for a value pickle cannot take (then it counts as changed)."""
        self._buffer.seek(0)
        self._buffer.truncate()
        try:
            self._pickler.dump(value)
        except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
            return None
        return hashlib.blake2b(self._buffer.getbuffer(), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A 32-hex-digit digest of CODE_MODULES' source (read once per process); kept files name it."""
    digest = hashlib.blake2b(digest_size=16)
    for module in CODE_MODULES:
        try:
            digest.update(Path(module).read_bytes())
        except OSError:
            digest.update(b"?" + module.encode())
    return digest.hexdigest()


def _ident(value) -> list | None:
    """An identifier as [class name, attributes], or None if one of its attributes is not a plain value
    (a function's argument types): a removed blueprint with such a name makes the file not reusable."""
    if not isinstance(value, AbstractIdent) or not all(v is None or type(v) in (str, int, bool) for v in vars(value).values()):
        return None
    return [type(value).__name__, dict(vars(value))]


def _cls(name, base: type) -> type:
    cls = getattr(sb, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise _Unusable(f"not a SnowDDL {base.__name__}: {name!r}")
    return cls


class _Gone:
    """A blueprint of the kept config that the new config no longer has: only its identifier is known."""

    __slots__ = ("full_name",)

    def __init__(self, full_name):
        self.full_name = full_name


class Sources:
    """The blueprints of the config a kept baseline was built from: type name -> name -> (fingerprint,
    identifier as [class name, attributes]); and its env prefix and permission models' fingerprint."""

    def __init__(self, env_prefix: str, models: str | None, by_type: dict):
        self.env_prefix, self.models, self.by_type = env_prefix, models, by_type

    @classmethod
    def of(cls, config: SnowDDLConfig) -> "Sources":
        fingerprint = _Fingerprints()
        by_type = {bp_cls.__name__: {name: [fingerprint(bp), _ident(bp.full_name)] for name, bp in bps.items()}
                   for bp_cls, bps in config.blueprints.items() if bps}
        return cls(config.env_prefix, fingerprint(config.permission_models), by_type)

    def changes(self, config: SnowDDLConfig) -> dict | None:
        """What `plan.changes_since` gives for a live config: blueprint type -> the blueprints that differ
        (the config's new or changed ones, and stand-ins with the identifier of removed ones); None when
        nothing can be reused (another env prefix, other permission models)."""
        fingerprint = _Fingerprints()
        models = fingerprint(config.permission_models)
        if config.env_prefix != self.env_prefix or models is None or models != self.models:
            return None
        changed: dict = {}
        names = {bp_cls.__name__: bp_cls for bp_cls in config.blueprints}
        for type_name in set(self.by_type) | {n for n, c in names.items() if config.blueprints[c]}:
            bp_cls = names.get(type_name) or _cls(type_name, BaseModel)
            now, then = config.blueprints.get(bp_cls, {}), self.by_type.get(type_name, {})
            objs = [bp for name, bp in now.items() if name not in then or then[name][0] != fingerprint(bp) or then[name][0] is None]
            for name, (_, kept_ident) in then.items():
                if name not in now:
                    if kept_ident is None:
                        return None  # which patterns it matched is not known: nothing is reused
                    ident: Any = object.__new__(_cls(kept_ident[0], AbstractIdent))
                    ident.__dict__.update(kept_ident[1])
                    objs.append(_Gone(ident))
            if objs:
                changed[bp_cls] = objs
        return changed


def path_for(cache: Path, sha: str, env_prefix: str) -> Path:
    """Where the baseline of commit `sha` is kept (`sha` must be a hex commit id)."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", sha or ""):
        raise ValueError(f"not a commit id: {sha!r}")
    if not re.fullmatch(r"[A-Za-z0-9_$]*", env_prefix or ""):
        raise ValueError(f"not an env prefix: {env_prefix!r}")
    tag = f"-{env_prefix}" if env_prefix else ""
    return Path(cache) / "baselines" / f"{sha}{tag}.json"


def _role_resolvers() -> dict[str, type]:
    from core.snowddl.offline_engine import _ROLE_RESOLVERS

    return {r.__name__: r for r in _ROLE_RESOLVERS}


def write(cache: Path, sha: str, baseline) -> Path | None:
    """Keep `baseline` (built from commit `sha`'s config, `baseline.config`) for later processes; the file's
    path, or None if it cannot be kept (no config, a commit id or env prefix that cannot name a file, a
    row value JSON cannot hold). Raises OSError if the cache folder cannot be written."""
    config = baseline.config
    if config is None:
        return None
    try:
        path = path_for(cache, sha, config.env_prefix)
    except ValueError:
        return None
    roles = _role_resolvers()
    owner: dict[int, tuple] = {}  # id(role) -> (resolver, key): roles kept under their own name, with rows
    for resolver in roles:
        for key, bp in baseline.blueprints.get(resolver, {}).items():
            if key == str(bp.full_name) and key in baseline.role_grants:
                owner.setdefault(id(bp), (resolver, key))
    derived: list = []
    blueprints: dict[str, list] = {r: [] for r in roles}
    lookups: dict = {}
    lookup_sets: dict = {}
    for (resolver, method, name), (_source, looked, result) in baseline.derived.items():
        place = owner.pop(id(result), None)
        if place is None or place[0] != resolver:
            continue  # not a role a role resolver gave (or given twice): derived again when needed
        refs = tuple(lookups.setdefault((cls.__name__, None if p is None else str(p.pattern)), len(lookups))
                     for cls, p in looked)
        blueprints[resolver].append([place[1], len(derived)])
        derived.append([resolver, method, name, lookup_sets.setdefault(refs, len(lookup_sets))])
    sources = Sources.of(config)
    body = {"format": FORMAT, "snowddl": SNOWDDL_VERSION, "code": code_version(), "commit": sha, "env_prefix": config.env_prefix,
            "models": sources.models, "sources": sources.by_type,
            "lookups": [list(k) for k in lookups], "lookup_sets": [list(s) for s in lookup_sets],
            "derived": derived, "blueprints": blueprints,
            "roles": baseline.roles, "role_grants": baseline.role_grants,
            "role_future_grants": baseline.role_future_grants}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = json.dumps(body, separators=(",", ":"))  # one string: the C encoder
    except (TypeError, ValueError):
        return None  # a row value JSON has no form for: not kept (the baseline is built again next time)
    fd, tmp = tempfile.mkstemp(prefix=".baseline-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for _, old in _kept_files(cache, config.env_prefix)[KEEP_FILES:]:
        old.unlink(missing_ok=True)  # older bases: derived from a newer file when asked for again
    _remove_leftovers(path.parent)
    return path


LEFTOVER_AGE = 600  # seconds: a temporary file older than this was left by a writer that was killed


def _remove_leftovers(folder: Path) -> None:
    """Remove temporary files that writers killed mid-write (kill -9, a crash) left behind; a recent one
    may be another process's write in progress and stays."""
    import time

    limit = time.time() - LEFTOVER_AGE
    try:
        for tmp in folder.glob(".baseline-*"):
            try:
                if tmp.stat().st_mtime < limit:
                    tmp.unlink(missing_ok=True)
            except OSError:
                continue  # renamed or removed meanwhile
    except OSError:
        return


def _write_or_warn(cache: Path, sha: str, baseline) -> None:
    try:
        write(cache, sha, baseline)
    except OSError as exc:  # disk full, read-only: the plans go on, built again in the next process
        logging.getLogger("snowtower.baseline").warning("baseline of %s not kept in %s: %s", sha[:12], cache, exc)


def write_later(cache: Path, sha: str, baseline) -> threading.Thread:
    """`write` in a background thread (a preview does not wait for it; the file appears whole or not). Not a
    daemon: a command that ends meanwhile (`snowtower request`, `snowtower expire`) waits for the file at
    exit, rather than being stopped mid-write with nothing kept and a temporary file left behind."""
    thread = threading.Thread(target=_write_or_warn, args=(cache, sha, baseline), name="snowtower-baseline-cache",
                              daemon=False)
    thread.start()
    return thread


def _rows(value) -> list:
    """A list of rows, each a dict with a name, else the file is unusable."""
    if type(value) is not list or not all(type(r) is dict and type(r.get("name")) is str for r in value):
        raise _Unusable("not rows")
    return value


def _at(i, items: list) -> bool:
    if not (isinstance(i, int) and 0 <= i < len(items)):
        raise _Unusable("a reference out of bounds")
    return True


def _decode(body, sha: str, config: SnowDDLConfig):
    from core.snowddl.baseline import Baseline
    from core.snowddl.skip_unchanged import Lookups

    if (not isinstance(body, dict) or body.get("format") != FORMAT or body.get("snowddl") != SNOWDDL_VERSION
            or body.get("code") != code_version() or body.get("commit") != sha or body.get("env_prefix") != config.env_prefix):
        return None
    by_type = body["sources"]
    if not isinstance(by_type, dict) or not isinstance(body["models"], str):
        raise _Unusable("no sources")
    idents: dict = {}
    for type_name, entries in by_type.items():  # name -> [fingerprint, [identifier class, {attribute: value}]]
        _cls(type_name, BaseModel)
        if type(entries) is not dict or not all(type(e) is list and len(e) == 2 and type(e[0]) in (str, type(None)) and (
                e[1] is None or type(e[1]) is list and len(e[1]) == 2 and type(e[1][1]) is dict) for e in entries.values()):
            raise _Unusable("a source")
        for e in entries.values():
            if e[1] is not None:
                if e[1][0] not in idents:
                    idents[e[1][0]] = _cls(e[1][0], AbstractIdent)
                if not all(v is None or type(v) in (str, int, bool) for v in e[1][1].values()):
                    raise _Unusable("an identifier")
    classes: dict = {}

    def cls_of(name):
        if name not in classes:
            classes[name] = _cls(name, BaseModel)
        return classes[name]

    looked = [(cls_of(c), None if p is None else ident_pattern(str(p))) for c, p in body["lookups"]]
    sets = [Lookups(looked[i] for i in refs) for refs in body["lookup_sets"] if not refs or min(refs) >= 0]
    if len(sets) != len(body["lookup_sets"]):
        raise _Unusable("a reference out of bounds")
    roles = _role_resolvers()
    role_rows = _rows(body["roles"])
    grants, future = body["role_grants"], body["role_future_grants"]
    if not isinstance(grants, dict) or not isinstance(future, dict):
        raise _Unusable("grants")
    names = {row["name"] for row in role_rows}
    entries = body["derived"]
    kept: list = [None] * len(entries)
    blueprints: dict = {}
    for resolver, pairs in body["blueprints"].items():
        if resolver not in roles:
            raise _Unusable(f"not a role resolver: {resolver!r}")
        own = blueprints[resolver] = {}
        for key, n in pairs:
            if not (isinstance(n, int) and 0 <= n < len(entries)) or not isinstance(key, str) or key not in names or entries[n][0] != resolver or kept[n] is not None:
                raise _Unusable(f"no rows for {key!r}")
            if type(grants[key]) is not list or type(future[key]) is not list:
                raise _Unusable(f"no grants for {key!r}")
            own[key] = kept[n] = KeptRole(key)
    derived = {}
    for n, (resolver, method, name, refs) in enumerate(entries):
        if kept[n] is None or not isinstance(method, str) or not isinstance(name, str):
            raise _Unusable("a derivation without its role")
        derived[(resolver, method, name)] = (None, sets[refs] if _at(refs, sets) else (), kept[n])
    return Baseline(roles=role_rows, role_grants=grants, role_future_grants=future, blueprints=blueprints,
                    derived=derived, kept=Sources(config.env_prefix, body["models"], by_type))


def read(cache: Path, sha: str, config: SnowDDLConfig):
    """The baseline kept for commit `sha`, to derive `config`'s baseline from (`config` may be that commit's
    or another's); None if there is none or it does not match (format, SnowDDL version, plan code, commit, env prefix)
    or is not whole."""
    try:
        path = path_for(cache, sha, config.env_prefix)
        with open(path, encoding="utf-8") as fh:
            body = json.load(fh)
        return _decode(body, sha, config)
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, _Unusable):
        return None  # no file, or not one this version wrote for this commit: built again


def _kept_files(cache: Path, env_prefix: str) -> list[tuple[str, Path]]:
    """The baselines kept in the cache for `env_prefix`, newest first: (commit, path)."""
    tag = f"-{env_prefix}" if env_prefix else ""
    pattern = re.compile(r"([0-9a-f]{7,64})" + re.escape(tag) + r"\.json")
    found = []
    try:
        for path in (Path(cache) / "baselines").iterdir():
            m = pattern.fullmatch(path.name)
            if m:
                try:
                    found.append((path.stat().st_mtime_ns, m.group(1), path))
                except OSError:
                    continue  # removed meanwhile by another process
    except OSError:
        return []
    return [(sha, path) for _, sha, path in sorted(found, reverse=True)]


def read_newest(cache: Path, config: SnowDDLConfig, tries: int = 2):
    """The most recently written baseline in the cache for `config`'s env prefix (another commit's: the
    last base before a restart, usually one merge behind), or None. Any kept baseline gives the same
    result, the nearest one the least work."""
    for sha, _ in _kept_files(cache, config.env_prefix)[:tries]:
        baseline = read(cache, sha, config)
        if baseline is not None:
            return baseline
    return None
