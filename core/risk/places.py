"""Where things are written: the file, 1-based line and text of entries, keys and list items in one
snapshot's config files (`_Places`, over core.snowddl.yaml_reader.line_of), and the blueprint helpers every check
shares (SnowDDL's blueprints of one type, the added / changed / removed ones between two configs)."""
from __future__ import annotations

import fnmatch

from core.snowddl import yaml_reader


class _Places:
    """File, line and text of entries and keys in one snapshot's root files."""

    def __init__(self, snapshot):
        self.snapshot = snapshot
        self.prefix = snapshot.config.snowddl.env_prefix or "" if snapshot.config.snowddl else ""

    def name(self, ident) -> str:
        """An object's name as the config writes it: env prefix and role suffix (__B_ROLE ...) removed."""
        text = str(ident)
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix):]
        return text

    def role(self, role: str) -> str:
        """A role as people name it: "business role ANALYST", "user JDOE", "technical role X", "SYSADMIN"."""
        config = self.snapshot.config.snowddl
        for suffix, label in ((config.USER_ROLE_SUFFIX, "user"), (config.BUSINESS_ROLE_SUFFIX, "business role"),
                              (config.TECHNICAL_ROLE_SUFFIX, "technical role")):
            if role.endswith(f"__{suffix}"):
                return f"{label} {self.name(role).removesuffix(f'__{suffix}')}"
        owned = self.owner_of(role)
        if owned:
            return f"the owner role of {owned[0]} {'.'.join(owned[1])}"
        return self.name(role)

    def owner_of(self, role: str) -> tuple[str, list[str]] | None:
        """("schema", [DB, SCHEMA]) or ("database", [DB]) for the owner role SnowDDL makes for a schema
        (DB__SCHEMA__OWNER__S_ROLE) or a database (DB__OWNER__D_ROLE); None for any other role."""
        config = self.snapshot.config.snowddl
        for suffix, kind, size in ((config.SCHEMA_ACCESS_ROLE_SUFFIX, "schema", 2), (config.DATABASE_ACCESS_ROLE_SUFFIX, "database", 1)):
            parts = self.name(role).split("__")
            if len(parts) == size + 2 and parts[-2:] == ["OWNER", suffix]:
                return kind, parts[:size]
        return None

    def params(self, names: list[str]) -> str | None:
        """The params file of database `names[0]` (schema `names[1]`), `RAW/STRIPE/params.yaml` in any
        case and either suffix, relative to the config folder; None when there is none."""
        wanted = "/".join([*names, "params"]).lower()
        for path in self.snapshot.root.glob("/".join(["*"] * len(names) + ["params.*"])):
            rel = path.relative_to(self.snapshot.root).as_posix()
            if path.suffix in yaml_reader.SUFFIXES and yaml_reader.normalise(rel) == wanted:
                return rel
        return None

    def at(self, kind: str, entry: str, keys: list | tuple = ()) -> tuple[str | None, int | None, str]:
        rel = self.snapshot.file(kind)
        return self.file_at(rel, [entry, *keys])

    def file_at(self, rel: str | None, keys: list) -> tuple[str | None, int | None, str]:
        text = self.snapshot.text(rel) if rel else None
        if text is None:
            return rel, None, ""
        line = yaml_reader.line_of(text, keys) if keys else 1
        return rel, line, _line_text(text, line)

    def item(self, kind: str, entry: str, key: str, wanted: str, pattern: bool = False) -> tuple[str | None, int | None, str]:
        """The list item `wanted` (compared case-insensitively) under `entry`.`key` (or its alias);
        `pattern`: items are SnowDDL's name patterns (RAW.*), the first one `wanted` matches."""
        rel = self.snapshot.file(kind)
        text = self.snapshot.text(rel)
        found = yaml_reader.load_entry(text, entry) if text else None
        value = found[1] if found else None
        if isinstance(value, dict):
            for alias in yaml_reader.KEY_ALIASES.get(key, (key,)):
                items = value.get(alias)
                if isinstance(items, list):
                    for i, item in enumerate(items):
                        if str(item).upper() == wanted.upper() or (pattern and fnmatch.fnmatchcase(wanted.upper(), str(item).upper())):
                            return self.file_at(rel, [entry, alias, i])
                    return self.file_at(rel, [entry, alias])
        return self.file_at(rel, [entry])

    def schema_object(self, ident, folder: str) -> tuple[str | None, int | None, str]:
        """A schema object's own file, `<db>/<schema>/<folder>/<name>.yaml` in any case."""
        wanted = f"{self.name(ident.database_full_name)}/{ident.schema}/{folder}/{ident.name}".lower()
        root = self.snapshot.root
        for path in root.glob("*/*/*/*"):
            rel = path.relative_to(root).as_posix()
            if path.suffix in yaml_reader.SUFFIXES and yaml_reader.normalise(rel) == wanted:
                return self.file_at(rel, [])
        return None, None, ""


def _line_text(text: str, line: int | None) -> str:
    if not line:
        return ""
    lines = text.split("\n")
    return lines[line - 1].rstrip("\r") if line <= len(lines) else ""


def _blueprints(snapshot, cls) -> dict:
    config = snapshot.config.snowddl
    return config.get_blueprints_by_type(cls) if config is not None else {}


def _changed(base: dict, head: dict) -> tuple[list, list, list]:
    """(added, changed (old, new) pairs, removed) blueprints between two name -> blueprint maps."""
    added = [bp for name, bp in head.items() if name not in base]
    removed = [bp for name, bp in base.items() if name not in head]
    changed = [(base[name], bp) for name, bp in head.items() if name in base and base[name] is not bp and base[name] != bp]
    return added, changed, removed


def _list_item(text: str | None, key: str, wanted: str) -> list:
    """The key path of item `wanted` (case-insensitive) of the top-level list `key` in a params file's
    `text`: [key as written, index], [key] when the item is not found, [] when the key is not."""
    found = yaml_reader.load_entry(text, key) if text else None
    if not found:
        return []
    items = found[1] if isinstance(found[1], list) else []
    index = next((i for i, item in enumerate(items) if str(item).upper() == wanted.upper()), None)
    return [found[0], *([index] if index is not None else [])]
