"""Skipping unchanged objects: what a plan or a baseline need not compute again.

`changes_since(baseline, config)` gives blueprint type -> the blueprints that differ from the baseline's
config (None: nothing reusable). `_derivations(resolver)` wraps a role resolver so that a role derived
from an unchanged source blueprint, none of whose recorded look-ups (`Lookups`) would now find anything
else, is the memo's very object; `_skip_unchanged(resolver, base_blueprints)` sets aside the objects
whose blueprint equals the base's, so SnowDDL compares only the changed ones. Same plans, same
baselines as without them.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from snowddl.config import SnowDDLConfig
from snowddl.resolver.abc_resolver import ResolveResult

from core.snowddl.config_check import _changed_blueprints, _traced_lookups, _untrace, lookup_affected

if TYPE_CHECKING:
    from core.snowddl.baseline import Baseline

def changes_since(baseline: "Baseline | None", config: SnowDDLConfig) -> dict | None:
    """Blueprint type -> the blueprints that differ between the baseline's config and `config` (not
    the same object and not equal), or None when nothing of the baseline can be reused (no baseline,
    another env prefix, other permission models)."""
    before = baseline.config if baseline is not None else None
    if before is None and baseline is not None and baseline.kept is not None:
        return baseline.kept.changes(config)  # read back from the workspace cache: by fingerprint
    if before is None or before.env_prefix != config.env_prefix or before.permission_models != config.permission_models:
        return None
    return _changed_blueprints(config, before, equal=True)


class Lookups(tuple):
    """The look-ups one derivation made, (blueprint type, pattern or None for the whole type), and the
    set of their types (`types`), so a derivation that looked up no changed type is reused at once."""

    def __new__(cls, lookups):
        self = super().__new__(cls, lookups)
        self.types = frozenset(t for t, _ in self)
        return self


_DERIVATION = re.compile(r"(?:transform_blueprint|get_blueprint_\w+)\Z")
_DERIVERS: dict[type, list[str]] = {}


def _derivations(resolver):
    """SnowDDL's role resolvers derive each role from one config blueprint (`transform_blueprint`,
    `get_blueprint_read_role`, ...), looking other blueprints up through the config. With the engine's
    `derivations` (memo, changed, out), each derivation is recorded in `out` with the lookups it made
    (type, pattern); one whose source blueprint is the memo's (the same object, or equal) and none of
    whose lookups would now find anything else (`changed`: type -> changed blueprints, None: unknown)
    gives the memo's derived blueprint again, the very same object, without deriving it."""
    memo, changed, out = getattr(resolver.engine, "derivations", None) or ({}, None, None)
    if out is None:
        return resolver
    names = _DERIVERS.get(type(resolver))
    if names is None:
        names = _DERIVERS[type(resolver)] = [n for n in dir(type(resolver)) if _DERIVATION.match(n)]
    config, hit_cache = resolver.config, {}
    label = type(resolver).__name__
    engine = resolver.engine
    if getattr(engine, "derivations_fresh", None) is None:
        engine.derivations_fresh = {id(bp) for objs in (changed or {}).values() for bp in objs}
    fresh = engine.derivations_fresh

    def same_source(old, source, name) -> bool:
        # the memo's source was the previous config's blueprint of that name; the current one of that
        # name that changes_since did not list as changed is equal to it (no need to compare again)
        return old is source or (id(source) not in fresh and config.blueprints.get(type(source), {}).get(name) is source)

    for name in names:
        derive = getattr(resolver, name)

        def derived(source, *args, _name=name, _derive=derive):
            if args or not hasattr(source, "full_name"):
                return _derive(source, *args)
            key = (label, _name, str(source.full_name))
            hit = memo.get(key)
            if (hit is not None and changed is not None and same_source(hit[0], source, key[2])
                    and (hit[1].types.isdisjoint(changed)
                         or not any(lookup_affected(changed, hit_cache, lookup) for lookup in hit[1]))):
                out[key] = (source, hit[1], hit[2])
                return hit[2]
            seen: list = [[]]
            _traced_lookups(config, seen)
            try:
                result = _derive(source)
            finally:
                _untrace(config)
            out[key] = (source, Lookups(seen[0]), result)
            return result

        setattr(resolver, name, derived)
    return resolver


def _skip_unchanged(resolver, base_blueprints: dict) -> None:
    """An object whose blueprint equals the base's is compared against rows made from that very
    blueprint: SnowDDL finds nothing to do (the identical-config tests check exactly that), so the
    comparison is skipped. SnowDDL compares role grants pairwise, which dominates large plans."""
    compare = resolver.compare_object
    blueprints, existing_objects = resolver.get_blueprints, resolver.get_existing_objects
    unchanged: set[str] = set()

    def same(name, bp) -> bool:
        old = base_blueprints.get(name)
        return old is bp or (old is not None and old == bp)

    def get_blueprints():
        # Unchanged objects are set aside before SnowDDL walks them: a change to one user of 40,000
        # compares one user (their rows are set aside too, so nothing is dropped for them).
        bps = blueprints()
        unchanged.clear()
        unchanged.update(name for name, bp in bps.items() if same(name, bp))
        return {name: bp for name, bp in bps.items() if name not in unchanged}

    def get_existing_objects():
        # the baseline answers SHOW ... LIKE without the unchanged objects' rows (nothing to read for them)
        resolver.engine.set_aside = unchanged
        try:
            return {name: row for name, row in existing_objects().items() if name not in unchanged}
        finally:
            resolver.engine.set_aside = None

    def compare_object(bp, row):
        if same(str(bp.full_name), bp):
            return ResolveResult.NOCHANGE
        return compare(bp, row)

    skipped = resolver._is_skipped

    def is_skipped():
        # SnowDDL skips a resolver with no blueprints at all (nothing dropped either): asked of every
        # blueprint, not of the changed ones only
        resolver.get_blueprints = blueprints
        try:
            return skipped()
        finally:
            resolver.get_blueprints = get_blueprints

    resolver.compare_object, resolver._is_skipped = compare_object, is_skipped
    resolver.get_blueprints, resolver.get_existing_objects = get_blueprints, get_existing_objects

    if hasattr(resolver, "get_existing_role_grants"):
        fetch = resolver.get_existing_role_grants

        def get_existing_role_grants(role_name):
            # Grants are read only to be compared; unchanged roles are not compared, and roles that
            # are no longer in the config are dropped whole.
            bp = resolver.blueprints.get(role_name)
            if bp is None or base_blueprints.get(role_name) == bp:
                return role_name, [], [], []
            return fetch(role_name)

        resolver.get_existing_role_grants = get_existing_role_grants
