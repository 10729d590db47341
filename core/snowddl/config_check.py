"""Validation: SnowDDL's validators over the parsed config, each run recorded (`_Check`: its errors by
blueprint name, the blueprint types it read and the look-ups each blueprint's check made), so that after
a change only the blueprints that changed, or whose checks looked up something that changed, are
checked again (`_validate`, `_recheck`). `_traced_lookups` / `_untrace` record the look-ups a thread
makes on a config (also used by core.snowddl.skip_unchanged), `_changed_blueprints` and
`lookup_affected` tell what changed between two configs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snowddl.config import SnowDDLConfig
from snowddl.validator import default_validate_sequence

if TYPE_CHECKING:
    from core.snowddl.config_parse import _Trace


@dataclass
class _Check:
    """One validator's run: its errors, the blueprint types it read (`own`: in get_blueprints, `inner`:
    while checking single blueprints) and, per blueprint checked, the lookups its check made."""
    cls: type
    errors: dict
    failure: Exception | None = None
    own: set = field(default_factory=set)
    inner: set = field(default_factory=set)
    deps: dict = field(default_factory=dict)  # id(blueprint) -> [(type, pattern or None)]


def _validate(config: SnowDDLConfig, trace: _Trace | None) -> list[_Check]:
    """SnowDDL's validators, in order. With a trace: a validator that read no changed type gives its
    base errors again; otherwise only the blueprints that changed, or whose checks looked up a changed
    blueprint (a whole changed type, or a name or pattern that a changed blueprint matches), are
    checked again."""
    before = trace.runs[0].parser.config if trace is not None and trace.runs else None
    changed = _changed_blueprints(config, before) if before is not None else None
    checks = []
    for i, validator_cls in enumerate(default_validate_sequence):
        old = trace.checks[i] if trace is not None and i < len(trace.checks) and trace.checks[i].cls is validator_cls else None
        if old is not None and old.failure is None and changed is not None:
            if not ((old.own | old.inner) & changed.keys()):
                checks.append(old)
            else:
                checks.append(_recheck(config, before, validator_cls, old, changed))
            continue
        checks.append(_check(config, validator_cls))
    return checks


def _changed_blueprints(config: SnowDDLConfig, before: SnowDDLConfig, equal: bool = False) -> dict:
    """Type -> the blueprints (old and new) that are not the very same object under the same name
    (equal=True: not the same object and not equal, for configs loaded apart)."""
    changed = {}
    for cls in set(config.blueprints) | set(before.blueprints):
        now, then = config.blueprints.get(cls, {}), before.blueprints.get(cls, {})
        if len(now) == len(then) and all(a == b and x is y for (a, x), (b, y) in zip(now.items(), then.items(), strict=True)):
            continue

        def differs(bp, other) -> bool:
            return other is not bp and (not equal or other is None or other != bp)

        objs = [bp for name, bp in now.items() if differs(bp, then.get(name))]
        objs += [bp for name, bp in then.items() if differs(bp, now.get(name))]
        changed[cls] = objs
    return changed


def lookup_affected(changed: dict, hit: dict, lookup) -> bool:
    """Whether a recorded lookup (type, pattern or None for the whole type) would now find something
    else: its type changed (whole), or a changed blueprint matches its pattern. `hit` caches patterns."""
    cls, pattern = lookup
    if cls not in changed:
        return False
    if pattern is None:
        return True
    key = (cls, id(pattern))
    if key not in hit:
        hit[key] = any(pattern.is_match_ident(bp.full_name) for bp in changed[cls])
    return hit[key]


_TRACE_LOCK = threading.Lock()


def _traced_lookups(config: SnowDDLConfig, seen: list):
    """Records each blueprint lookup this thread makes, as (type, pattern or None for the whole type), in
    seen[-1] (and in that of any trace this thread already runs on `config`), until _untrace(config).

    The lookups are wrapped once per config, and each thread keeps its own traces: the portal serves every
    session from one process, and two sessions' previews derive from the same base config at once (one
    thread's trace, set and removed on the shared object, lost the other's lookups or failed outright)."""
    with _TRACE_LOCK:
        traces = config.__dict__.get("_snowtower_traces")
        if traces is None:
            traces = {}  # thread id -> the `seen` lists of the traces it runs, outermost first
            by_type, by_pattern = config.get_blueprints_by_type, config.get_blueprints_by_type_and_pattern

            def get_by_type(cls):
                for lists in traces.get(threading.get_ident(), ()):
                    lists[-1].append((cls, None))
                return by_type(cls)

            def get_by_pattern(cls, pattern):
                for lists in traces.get(threading.get_ident(), ()):
                    lists[-1].append((cls, pattern))
                return by_pattern(cls, pattern)

            config.get_blueprints_by_type, config.get_blueprints_by_type_and_pattern = get_by_type, get_by_pattern
            config._snowtower_traces = traces
        traces.setdefault(threading.get_ident(), []).append(seen)


def _untrace(config: SnowDDLConfig) -> None:
    """Ends this thread's innermost trace of `config` (the lookups stay wrapped: a dictionary lookup each)."""
    with _TRACE_LOCK:
        traces = config.__dict__["_snowtower_traces"]
        mine = traces[threading.get_ident()]
        mine.pop()
        if not mine:
            del traces[threading.get_ident()]


def _check(config: SnowDDLConfig, validator_cls) -> _Check:
    validator = validator_cls(config)
    check = _Check(validator_cls, validator.errors)
    outer: list = []
    seen = [outer]
    validate_blueprint = validator.validate_blueprint

    def traced_validate_blueprint(bp):
        lookups = check.deps[id(bp)] = []
        seen.append(lookups)
        try:
            return validate_blueprint(bp)
        finally:
            seen.pop()

    validator.validate_blueprint = traced_validate_blueprint
    _traced_lookups(config, seen)
    try:
        validator.validate()
    except Exception as exc:
        check.failure = exc
    finally:
        _untrace(config)
        del validator.validate_blueprint
    check.own = {cls for cls, _ in outer}
    check.inner = {cls for lookups in check.deps.values() for cls, _ in lookups}
    return check


def _recheck(config: SnowDDLConfig, before: SnowDDLConfig, validator_cls, old: _Check, changed: dict) -> _Check:
    """Checks again the blueprints that are not the base's very objects or whose base check looked up
    something that changed; the others keep their base verdict (in SnowDDL's order, so the errors come
    in the order a full run gives them)."""
    validator, previous = validator_cls(config), validator_cls(before).get_blueprints()
    check = _Check(validator_cls, {}, own=old.own, inner=old.inner)
    hit: dict = {}

    def affected(lookup) -> bool:
        return lookup_affected(changed, hit, lookup)

    try:
        for full_name, bp in validator.get_blueprints().items():
            deps = old.deps.get(id(bp)) if previous.get(full_name) is bp else None
            if deps is not None and not any(affected(lookup) for lookup in deps):
                if full_name in old.errors:
                    check.errors[full_name] = old.errors[full_name]
                continue
            try:
                validator.validate_blueprint(bp)
            except Exception as exc:
                check.errors[full_name] = exc
    except Exception as exc:
        check.failure = exc
    return check
