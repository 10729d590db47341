"""A config as of one commit: its folder, SnowDDL's reading of it, and its files' text.

Recipes take a Snapshot and return a change set, touching nothing else. Snapshots of a commit are
parsed once and cached (commits never change).
"""
from __future__ import annotations

import functools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.snowddl.load import LoadedConfig, load_config


@dataclass
class Snapshot:
    root: Path
    sha: str | None
    config: LoadedConfig
    _texts: dict[str, str | None] = field(default_factory=dict, repr=False)

    def text(self, rel: str) -> str | None:
        """The text of a config file (path relative to the config folder), or None if absent."""
        if rel not in self._texts:
            path = self.root / rel
            self._texts[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
        return self._texts[rel]


@functools.lru_cache(maxsize=16)
def snapshot_at(root: Path, sha: str, env_prefix: str = "") -> Snapshot:
    return Snapshot(root, sha, load_config(root, env_prefix))


def validate_with_changes(base: Snapshot, files: dict[str, str | None], env_prefix: str = "") -> LoadedConfig:
    """SnowDDL's verdict on the base config with `files` replaced (None removes a file)."""
    with tempfile.TemporaryDirectory(prefix="snowtower-head-") as tmp:
        head = Path(tmp) / "config"
        shutil.copytree(base.root, head)
        for rel, text in files.items():
            target = head / rel
            if text is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        loaded = load_config(head, env_prefix)
        loaded.path = base.root  # the temporary folder is gone after this call
        return loaded
