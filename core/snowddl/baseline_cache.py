"""A commit's baseline kept between processes: the roles SnowDDL's resolvers derived from its config.

One JSON file per commit and env prefix in the workspace cache (`<cache>/baselines/<sha>[-<env prefix>].json`),
written atomically. No pickle: only SnowDDL's own blueprint, grant, identifier and enum classes are
rebuilt, by class name, from plain values; anything else in a file makes it unusable. A file is used
only if its format, SnowDDL version, commit and env prefix match and every source blueprint it names
is in the commit's config; otherwise the baseline is built again (and the file rewritten).

A file read back is a `Baseline` whose `derived` roles are the commit's own: `Baseline.from_config(config,
previous=it)` then derives nothing again and only lays out the rows.
"""
from __future__ import annotations

import enum
import json
import os
import re
import tempfile
import threading
from pathlib import Path

import snowddl.blueprint as sb
from pydantic import BaseModel
from snowddl.blueprint.ident import AbstractIdent
from snowddl.config import SnowDDLConfig
from snowddl.version import __version__ as SNOWDDL_VERSION

from core.snowddl.fast import ident_pattern

FORMAT = 1
# The roles worth keeping: business and technical roles expand patterns over every schema (most of a
# baseline's time). Roles derived from one object (user, warehouse, database, schema roles) are derived
# again faster than they are read back.
KEPT = ("BusinessRoleResolver", "TechnicalRoleResolver")


class _Unusable(Exception):
    """A value that has no place in the file, or a file that does not match."""


class _Table:
    """Every identifier, grant, model, enum, tuple and set written once: values refer to earlier
    entries by number ({"$r": n}), so the thousands of grants naming the same role cost one entry."""

    def __init__(self):
        self.nodes: list = []
        self._index: dict = {}
        self._by_id: dict = {}

    def ref(self, node: dict, key) -> dict:
        n = self._index.get(key)
        if n is None:
            n = self._index[key] = len(self.nodes)
            self.nodes.append(node)
        return {"$r": n}

    def enc(self, value):
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, list):
            return [self.enc(x) for x in value]
        hit = self._by_id.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if isinstance(value, AbstractIdent):
            items = {k: self.enc(x) for k, x in vars(value).items()}
            node, tag = {"$i": type(value).__name__, "v": items}, "i"
        elif isinstance(value, enum.Enum):
            node, tag = {"$e": type(value).__name__, "v": value.name}, "e"
        elif isinstance(value, BaseModel):
            items = {k: self.enc(getattr(value, k)) for k in type(value).model_fields}
            node, tag = {"$m": type(value).__name__, "v": items}, "m"
        elif isinstance(value, tuple):
            node, tag = {"$t": [self.enc(x) for x in value]}, "t"
        elif isinstance(value, (set, frozenset)):
            node, tag = {"$s": [self.enc(x) for x in value]}, "s"
        elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
            node, tag = {"$d": {k: self.enc(x) for k, x in value.items()}}, "d"
        else:
            raise _Unusable(f"cannot keep a {type(value).__name__}")
        ref = self.ref(node, (tag, _key(node)))
        self._by_id[id(value)] = (value, ref)
        return ref


def _key(value):
    """A hashable stand-in for an encoded value (entries are equal when their keys are)."""
    if isinstance(value, dict):
        if len(value) == 1 and "$r" in value:
            return ("$r", value["$r"])
        return tuple((k, _key(x)) for k, x in value.items())
    if isinstance(value, list):
        return ("[",) + tuple(_key(x) for x in value)
    return value


def _cls(name, base: type) -> type:
    cls = getattr(sb, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise _Unusable(f"not a SnowDDL {base.__name__}: {name!r}")
    return cls


def _decoder(nodes: list):
    """Decodes values of a file whose table is `nodes` (each entry refers only to earlier ones)."""
    done: list = []

    def dec(value):
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, list):
            return [dec(x) for x in value]
        if isinstance(value, dict) and set(value) == {"$r"} and isinstance(value["$r"], int) and 0 <= value["$r"] < len(done):
            return done[value["$r"]]
        raise _Unusable("unexpected value")

    def node(value):
        if not isinstance(value, dict) or len(value) > 2:
            raise _Unusable("unexpected entry")
        if "$i" in value:
            obj = object.__new__(_cls(value["$i"], AbstractIdent))
            obj.__dict__.update({k: dec(x) for k, x in dict(value["v"]).items()})
            return obj
        if "$e" in value:
            return _cls(value["$e"], enum.Enum)[value["v"]]
        if "$m" in value:
            return _cls(value["$m"], BaseModel).model_construct(**{k: dec(x) for k, x in dict(value["v"]).items()})
        if "$t" in value:
            return tuple(dec(x) for x in value["$t"])
        if "$s" in value:
            return {dec(x) for x in value["$s"]}
        if "$d" in value:
            return {str(k): dec(x) for k, x in dict(value["$d"]).items()}
        raise _Unusable("unexpected entry")

    for entry in nodes:
        done.append(node(entry))
    return dec


def path_for(cache: Path, sha: str, env_prefix: str) -> Path:
    """Where the baseline of commit `sha` is kept (`sha` must be a hex commit id)."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", sha or ""):
        raise ValueError(f"not a commit id: {sha!r}")
    if not re.fullmatch(r"[A-Za-z0-9_$]*", env_prefix or ""):
        raise ValueError(f"not an env prefix: {env_prefix!r}")
    tag = f"-{env_prefix}" if env_prefix else ""
    return Path(cache) / "baselines" / f"{sha}{tag}.json"


def write(cache: Path, sha: str, baseline) -> Path | None:
    """Keep `baseline` (built from commit `sha`'s config) for later processes; None if it cannot be
    kept (a value this format does not know). Written to a temporary file and renamed: a crash leaves
    the old file or none, never half a file."""
    config = baseline.config
    table = _Table()
    try:
        entries = [[resolver, method, name, type(source).__name__, [[cls.__name__, None if p is None else p.pattern]
                                                                    for cls, p in lookups], table.enc(result)]
                   for (resolver, method, name), (source, lookups, result) in baseline.derived.items()
                   if resolver in KEPT]
        path = path_for(cache, sha, config.env_prefix)
    except (_Unusable, ValueError):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": FORMAT, "snowddl": SNOWDDL_VERSION, "commit": sha, "env_prefix": config.env_prefix,
            "table": table.nodes, "derived": entries}
    fd, tmp = tempfile.mkstemp(prefix=".baseline-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(body, separators=(",", ":")))  # one string: the C encoder
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_later(cache: Path, sha: str, baseline) -> threading.Thread:
    """`write` in a background thread (a preview does not wait for it; the file appears whole or not)."""
    thread = threading.Thread(target=write, args=(cache, sha, baseline), name="snowtower-baseline-cache", daemon=True)
    thread.start()
    return thread


def read(cache: Path, sha: str, config: SnowDDLConfig):
    """The baseline kept for commit `sha` (whose config is `config`), or None if there is none or it
    does not match (format, SnowDDL version, commit, env prefix, a source blueprint missing)."""
    from core.snowddl.plan import Baseline, Lookups

    try:
        path = path_for(cache, sha, config.env_prefix)
        with open(path, encoding="utf-8") as fh:
            body = json.load(fh)
        if (not isinstance(body, dict) or body.get("format") != FORMAT or body.get("snowddl") != SNOWDDL_VERSION
                or body.get("commit") != sha or body.get("env_prefix") != config.env_prefix):
            return None
        dec, derived = _decoder(body["table"]), {}
        for resolver, method, name, source_type, lookups, result in body["derived"]:
            source = config.blueprints.get(_cls(source_type, BaseModel), {}).get(name)
            if source is None:
                raise _Unusable(f"{source_type} {name} is not in the config")
            looked = Lookups((_cls(cls, BaseModel), None if p is None else ident_pattern(str(p))) for cls, p in lookups)
            derived[(str(resolver), str(method), str(name))] = (source, looked, dec(result))
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError, _Unusable):
        return None  # no file, or not one this version wrote for this commit: built again
    return Baseline(derived=derived, config=config)
