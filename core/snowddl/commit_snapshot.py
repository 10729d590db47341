"""A config as of one commit: its folder, SnowDDL's reading of it, and its files' text.

Recipes take a Snapshot and return a change set, touching nothing else. Snapshots of a commit are
parsed once and cached (commits never change). Use this for anything tied to a commit (recipes,
previews of a change: `validate_with_changes`, plans between commits); core.snowddl.config_loader
loads a folder as it is, core.snowddl.yaml_reader reads one file's text.
"""
from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field
from pathlib import Path

from core.snowddl import yaml_reader
from core.snowddl.config_loader import LoadedConfig, load_config


@dataclass
class Snapshot:
    root: Path
    sha: str | None
    config: LoadedConfig
    _texts: dict[str, str | None] = field(default_factory=dict, repr=False)
    _files: dict[str, str] = field(default_factory=dict, repr=False)

    _baseline: object = field(default=None, repr=False)
    # The workspace cache folder where the commit's baseline is kept between processes (None: not kept).
    cache: Path | None = field(default=None, repr=False)

    def baseline(self):
        """The deployed state this config describes, for offline plans (built once per snapshot).

        Derived from the baseline kept for this commit in the workspace cache if there is one, else
        from the last baseline this process built (the previous base commit's, say), else from the
        baseline written last to the workspace cache (after a restart): only the roles whose blueprints
        or lookups differ are derived again. Then kept for later processes."""
        if self._baseline is None and self.config.snowddl is not None and self.config.validation.valid:
            from core.snowddl import baseline_cache
            from core.snowddl.baseline import Baseline

            config, kept = self.config.snowddl, self.cache is not None and self.sha is not None
            # No automatic collection while it is built (a million new containers, no cycle among them:
            # the collector would walk the whole heap, the loaded config too, several times meanwhile,
            # a third of reading a kept baseline); one full collection follows.
            collecting = gc.isenabled()
            gc.disable()
            try:
                previous = baseline_cache.read(self.cache, self.sha, config) if kept else None
                stored = previous is not None
                if previous is None and _last_baseline:
                    previous = _last_baseline[0]
                if previous is None and kept:  # a new process: the baseline kept last (the previous base's, say)
                    previous = baseline_cache.read_newest(self.cache, config)
                self._baseline = Baseline.from_config(config, previous=previous)
            finally:
                if collecting:
                    gc.enable()
            _last_baseline[:] = [self._baseline]
            # The base config and its baseline stay while the commit is the base: on the 5,000-users tree
            # millions of objects that Python's cyclic collector would walk again at every full collection
            # (0.3-0.5 s pauses in the middle of a preview). Collected once, then left out of later
            # collections (freed as usual when no longer referenced; only reference cycles among them
            # would stay).
            gc.collect()
            gc.freeze()
            if kept and not stored:
                baseline_cache.write_later(self.cache, self.sha, self._baseline)
        return self._baseline

    def text(self, rel: str) -> str | None:
        """The text of a config file (path relative to the config folder), or None if absent.
        Line ends are kept as in the file (CRLF stays CRLF), so an edit changes only its own lines."""
        if rel not in self._texts:
            path = self.root / rel
            self._texts[rel] = path.read_bytes().decode("utf-8") if path.is_file() else None
        return self._texts[rel]

    def file(self, kind: str) -> str:
        """The file SnowDDL reads for a root file kind ("user", "business_role", "technical_role",
        "warehouse", ...): `user.yml`, `User.yaml`, `tech_role.yaml` as the config names it;
        `<kind>` with the config's usual suffix when it has none yet."""
        if kind not in self._files:
            self._files[kind] = yaml_reader.root_file(self.root, kind)
        return self._files[kind]

    @property
    def suffix(self) -> str:
        """".yml" or ".yaml": the one the config's own files use, for files a recipe creates."""
        if ".suffix" not in self._files:
            self._files[".suffix"] = yaml_reader.suffix_of(self.root)
        return self._files[".suffix"]


# The baseline this process built last: the next one (another base commit's) is derived from it.
_last_baseline: list = []


# A snapshot keeps SnowDDL's blueprints (and, once planned against, a baseline): on a 5,000-users config
# that is 100-200 MB each, so only a few commits stay parsed (the base head and the requests in review).
@functools.lru_cache(maxsize=6)
def snapshot_at(root: Path, sha: str, env_prefix: str = "", cache: Path | None = None) -> Snapshot:
    """The config at commit `sha` (exported to `root`); `cache`: the workspace cache folder, where its
    offline-plan baseline is kept between processes."""
    return Snapshot(root, sha, load_config(root, env_prefix), cache=cache)


def plan_changes(base: Snapshot, head: LoadedConfig):
    """The offline plan from `base` to `head` (base's baseline is built once per snapshot)."""
    from core.snowddl.plan import plan_between

    return plan_between(base.config, head, base.baseline())


@functools.lru_cache(maxsize=64)
def plan_between_commits(base_root: Path, base_sha: str, head_root: Path, head_sha: str, env_prefix: str = "",
                         cache: Path | None = None):
    """The offline plan between two commits' configs; commits never change, so it is cached."""
    return plan_changes(snapshot_at(base_root, base_sha, env_prefix, cache),
                        snapshot_at(head_root, head_sha, env_prefix, cache).config)


def validate_with_changes(base: Snapshot, files: dict[str, str | None], env_prefix: str = "") -> LoadedConfig:
    """SnowDDL's verdict on the base config with `files` replaced (None removes a file).

    Nothing is copied or written: the changed texts are laid over the base folder, and every unchanged
    file (every unchanged entry of user.yaml, ...) comes from the parse cache keyed by content."""
    return load_config(base.root, env_prefix, overlay=files, base=base.config)
