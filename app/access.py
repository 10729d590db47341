"""Effective access of a change: the one computation the preview, the review, the CLI and the pull request
body show (core.findings.access over SnowDDL's blueprints of the base and the head).

`between(base, head)`: a preview's (base: the base commit's Snapshot, head: the re-validated LoadedConfig),
cached per (base commit, head files) when the base is a commit.
`for_request(services, cr)`: a change request's, base commit -> head commit, cached per pair of commits
(commits never change).
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict

from core.findings.access import AccessChange, access_change

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 64


_LOCK = threading.Lock()  # sessions preview at once (one thread each): the cache is shared


def _cached(key, compute) -> AccessChange:
    if key is not None:
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                _CACHE.move_to_end(key)
                return hit
    value = compute()  # not under the lock: another session's preview need not wait for this one
    if key is not None and not value.error:  # an error may pass (a commit not readable now): not kept
        with _LOCK:
            _CACHE[key] = value
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return value


def _compute(base, head_config) -> AccessChange:
    """`base`: a Snapshot (its baseline is built once per commit); `head_config`: a LoadedConfig."""
    from core.snowddl.baseline import Baseline

    for label, loaded in (("the base", base.config), ("the head", head_config)):
        if loaded.snowddl is None or not loaded.validation.valid:
            return AccessChange(error=f"{label} configuration does not validate")
    try:
        before = base.baseline()
        # the head's roles derived from the base's baseline: only what changed is derived again, and
        # every unchanged role keeps the base's very rows
        after = Baseline.from_config(head_config.snowddl, previous=before)
        return access_change(before, after)
    except Exception as exc:  # never a traceback on a page: the preview says what could not be computed
        logging.getLogger(__name__).warning("effective access could not be computed", exc_info=True)
        return AccessChange(error=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")


def between(base, head, files: dict[str, str | None] | None = None) -> AccessChange:
    """The access change from `base` (Snapshot) to `head` (its LoadedConfig with `files` laid over it)."""
    key = None
    if base.sha and files is not None:
        digest = hashlib.blake2b(digest_size=16)
        for rel in sorted(files):
            text = files[rel]
            digest.update(rel.encode() + b"\0" + (b"-" if text is None else b"+" + text.encode()) + b"\0")
        key = ("preview", str(base.root), base.sha, getattr(head.snowddl, "env_prefix", ""), digest.hexdigest())
    return _cached(key, lambda: _compute(base, head))


def for_request(services, cr) -> AccessChange:
    """The access change of change request `cr` (its base commit -> its head commit)."""
    key = ("request", str(services.settings.workspace), services.settings.env_prefix, cr.base_sha, cr.head_sha)

    def compute() -> AccessChange:
        try:
            base, head = services.snapshot(cr.base_sha), services.snapshot(cr.head_sha).config
        except Exception as exc:  # a commit that cannot be read (GitHub unreachable ...): said, not raised
            logging.getLogger(__name__).warning("the request's commits could not be read", exc_info=True)
            return AccessChange(error=f"the request's commits could not be read ({type(exc).__name__})")
        return _compute(base, head)
    return _cached(key, compute)
