"""Scanning: which files of a config folder SnowDDL reads, found by SnowDDL's own DirectoryScanner.

`_Scanner` is SnowDDL's scanner that sets aside the folders SnowDDL cannot take (with a reason: errors
in `rejected`, warnings in `unreadable`, each a list of (path, reason)) and applies an overlay (path
relative to the folder -> new text, None: removed) as if the files were written. `_reusable_scanner`
hands back a base load's scan when an overlay only rewrites files it found; `_custom_modules` lists
the programmatic-object modules (`__custom/*.py`). Paths in results are relative to the folder
(`_rel`, POSIX). Nothing here parses a file.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.platform == "win32":  # the class Path() makes, which a subclass must extend (Python 3.11)
    from pathlib import WindowsPath as _ConcretePath
else:
    from pathlib import PosixPath as _ConcretePath

from snowddl.blueprint import AccountObjectIdent
from snowddl.parser import DirectoryScanner


def _rel(root: Path, path: str | Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


class _Scanner(DirectoryScanner):
    """SnowDDL's scanner, except that a folder it cannot take (a name that is no identifier, such as
    `.backups`, a second folder whose name differs only in case, or one it may not read) is set
    aside with a reason instead of crashing the whole run; everything else is read as SnowDDL reads it."""

    def __init__(self, base_path: Path, overlay: dict[str, str | None] | None = None):
        self.rejected: list[tuple[Path, str]] = []  # errors: SnowDDL cannot use these folders
        self.unreadable: list[tuple[Path, str]] = []  # warnings: not readable at all
        scanner = self

        class ScanPath(_ConcretePath):
            """SnowDDL's scan lists folders with iterdir(): this path type (inherited by every child
            path) leaves out the folders SnowDDL cannot take, so its own loop never sees them. No
            global patching: other threads' paths are untouched."""

            def iterdir(self):
                try:
                    items = list(super().iterdir())
                except OSError as exc:
                    scanner.unreadable.append((self, exc.strerror or str(exc)))
                    return iter(())
                return iter(scanner._keep(items))

        super().__init__(ScanPath(base_path))
        for rel, text in sorted((overlay or {}).items()):
            self._overlay(Path(rel), text)
        self._forget_emptied_folders(overlay or {})

    def _forget_emptied_folders(self, overlay: dict[str, str | None]) -> None:
        """A database or schema folder whose every file the overlay removes is gone (git keeps no
        empty folders), as SnowDDL would see it after the change is committed."""
        removed = {rel for rel, text in overlay.items() if text is None}
        if not removed:
            return
        for rel in removed:
            parts = Path(rel).parts
            for depth in (2, 1):
                if len(parts) <= depth:
                    continue
                folder = Path(self.base_path).joinpath(*parts[:depth])
                left = [p for p in folder.rglob("*") if p.is_file()
                        and p.relative_to(self.base_path).as_posix() not in removed]
                added = [r for r, text in overlay.items() if text is not None and Path(r).parts[:depth] == parts[:depth]]
                if left or added:
                    continue
                db = self._normalise_key(parts[0])
                if depth == 2:
                    self.schema_dir_paths.get(db, {}).pop(self._normalise_key(parts[1]), None)
                else:
                    self.database_dir_paths.pop(db, None)
                    self.schema_dir_paths.pop(db, None)

    def _keep(self, items: list[Path]) -> list[Path]:
        keep = []
        for item in items:
            rel = item.relative_to(self.base_path)
            try:
                is_dir = item.is_dir() and len(rel.parts) <= 2 and not rel.parts[0].startswith("__")
            except OSError:
                is_dir = False
            if is_dir:
                try:
                    AccountObjectIdent("", item.name)
                except ValueError as exc:
                    what = "database" if len(rel.parts) == 1 else "schema"
                    self.rejected.append((item, f"SnowDDL cannot read folder {rel.as_posix()}/ as a {what}: {exc}"))
                    continue
                if not os.access(item, os.R_OK | os.X_OK):
                    self.unreadable.append((item, "permission denied"))
                    continue
            keep.append(item)
        return keep

    def _overlay(self, rel: Path, text: str | None) -> None:
        """Apply one changed file (None: removed) as if the scan had found it, without writing it."""
        if rel.suffix not in self.allowed_file_suffixes or rel.parts[0].startswith("__"):
            return
        key = self._normalise_key(rel.with_suffix("").as_posix())
        if text is None:
            self.all_file_paths.pop(key, None)
            for paths in self.schema_object_file_paths.values():
                paths.pop(key, None)
            return
        if len(rel.parts) not in self.allowed_file_levels:
            return
        path = self.base_path / rel
        for level, part in enumerate(rel.parts[:-1][:2], 1):
            try:
                AccountObjectIdent("", part)
            except ValueError as exc:
                self.rejected.append((self.base_path.joinpath(*rel.parts[:level]), f"SnowDDL cannot read folder "
                                      f"{'/'.join(rel.parts[:level])}/ as a {'database' if level == 1 else 'schema'}: {exc}"))
                return
        if len(rel.parts) >= 2:
            self.database_dir_paths.setdefault(self._normalise_key(rel.parts[0]), self.base_path / rel.parts[0])
        if len(rel.parts) >= 3:
            self.schema_dir_paths[self._normalise_key(rel.parts[0])].setdefault(
                self._normalise_key(rel.parts[1]), self.base_path / rel.parts[0] / rel.parts[1])
        if len(rel.parts) == 4:
            self.schema_object_file_paths[self._normalise_key(rel.parts[2])][key] = path
        self.all_file_paths[key] = path


def _reusable_scanner(base, root: Path, overlay: dict, env_prefix: str, placeholder_values):
    """The base load's scan, when the overlay only rewrites files the scan found (same folders, same files)."""
    trace = getattr(base, "trace", None)
    if trace is None or trace.root != root or trace.env_prefix != (env_prefix or "") or placeholder_values is not None:
        return None
    if not overlay:
        return None
    scanner = trace.scanner
    for rel, text in overlay.items():
        path = Path(rel)
        if text is None or path.suffix not in scanner.allowed_file_suffixes or path.is_absolute() or ".." in path.parts:
            return None
        key = scanner._normalise_key(path.with_suffix("").as_posix())
        found = scanner.all_file_paths.get(key)
        if found is None or str(found) != str(root / rel):
            return None
    return scanner


def _custom_modules(root: Path) -> list[str]:
    """The programmatic-object modules SnowDDL would run (snowddl.app.base: __custom/*.py, sorted)."""
    return [_rel(root, p) for p in sorted(root.glob("__custom/*.py"))]
