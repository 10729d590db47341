"""Error placement: a SnowDDL error or warning as a Problem with the file, line and object it is about.

`Problem` (file relative to the config folder, 1-based line, object name, kind, message) is what
validation reports. Lines come from `_LineIndex` (each file composed once by core.snowddl.yaml_reader);
`_parser_problem` places a parser's or schema check's error, `_object_place` a validator's error about
a blueprint (the file SnowDDL read it from and the line of its entry, of the key the message names or
of the value naming the other object it names),
`_mentions` / `_failed_kinds` tell knock-on errors, `_duplicate_warnings` finds keys written twice.
Messages carry no server paths (`_unrooted`).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import jsonschema
import yaml
from snowddl.blueprint.ident_builder import build_schema_object_ident

from core.snowddl import yaml_reader
from core.snowddl.config_scan import _rel, _Scanner

if TYPE_CHECKING:
    from snowddl.config import SnowDDLConfig

    from core.snowddl.config_check import _Check
    from core.snowddl.config_loader import LoadedConfig, Validation


@dataclass
class Problem:
    file: str | None
    line: int | None
    object: str | None
    kind: str  # yaml | schema | parse | reference | structure | expiry; warnings: expired | unused | unreadable | duplicate | programmatic
    message: str
    knock_on: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class _LineIndex:
    """Finds the line of a key path in a YAML file (1-based), composing each file once."""

    def __init__(self, root: Path, overlay: dict[str, str | None] | None = None):
        self.root = root
        self.overlay = overlay or {}
        self._nodes: dict[str, yaml.Node | None] = {}

    def _node(self, rel: str):
        if rel not in self._nodes:
            try:
                text = self.overlay[rel] if rel in self.overlay else (self.root / rel).read_bytes().decode("utf-8")
                self._nodes[rel] = yaml_reader.compose(text) if text is not None else None  # None: removed
            except (OSError, yaml_reader.ReadError, UnicodeDecodeError):
                self._nodes[rel] = None
        return self._nodes[rel]

    def has(self, rel: str, key: str) -> bool:
        node = self._node(rel)
        return isinstance(node, yaml.MappingNode) and any(str(k.value).upper() == key.upper() for k, _ in node.value)

    def mentioned(self, rel: str, keys: list, message: str, ident=None) -> int | None:
        """The line of what the validator's message is about, in the entry at `keys` (`[]`: the whole
        file) of the object `ident` (its SnowDDL identifier, or None):
        1. a key whose name the message mentions ("parameter owner_schema_read", "Property [first_name]");
           not a word that labels a bracketed name ("with type [SERVICE]"), nor SnowDDL's "in config";
        2. else a value naming another object the message names in brackets, resolved as SnowDDL's parser
           resolves it (a short name in the object's own schema, the env prefix): list items first (a
           task's `after:`), then single values (a stream's `object_name:`), never `comment`;
        3. else the line of `keys` itself."""
        node = self._node(rel)
        for key in keys:
            if not isinstance(node, yaml.MappingNode):
                break
            node = next((v for k, v in node.value if str(k.value).upper() == str(key).upper()), None)
        if not isinstance(node, yaml.MappingNode):
            return self.line(rel, keys)
        prose = re.sub(r"\bin config\b", " ", message)
        for k, _ in node.value:
            words = re.escape(str(k.value)).replace("_", "[ _]")  # depends_on: "depends on another view"
            if re.search(rf"(?<![A-Za-z0-9_]){words}(?![A-Za-z0-9_])(?!\s*\[)", prose, re.I):
                return self.line(rel, [*keys, k.value])
        named = [n.upper() for n in re.findall(r"\[([^\[\]]+)\]", message)]
        if named and ident is not None and named[0] == str(ident).upper():
            named = named[1:]  # the subject: "Task [DB.SC.CHILD] depends on another task [DB.SC.ROOT]"
        wanted = set(named)
        if not wanted:
            return self.line(rel, keys)
        values = [(k, item) for k, v in node.value if isinstance(v, yaml.SequenceNode) for item in v.value]
        values += [(k, v) for k, v in node.value if isinstance(v, yaml.ScalarNode) and str(k.value).lower() != "comment"]
        for k, item in values:
            if isinstance(item, yaml.ScalarNode) and _resolved(str(item.value), ident) & wanted:
                # an alias's node was written at its anchor, perhaps above this key: then the key's line
                return max(item.start_mark.line, k.start_mark.line) + 1
        return self.line(rel, keys)

    def line(self, rel: str, keys: list) -> int | None:
        return yaml_reader.node_line(self._node(rel), keys)


def _resolved(value: str, ident) -> set[str]:
    """The full names (upper case) a config value can stand for, as SnowDDL's parsers resolve it: in a
    schema object's file, `name`, `schema.name` and `db.schema.name` through SnowDDL's own
    build_schema_object_ident (env prefix and context database and schema); elsewhere the name itself and
    with the env prefix. Empty for a value that is no identifier."""
    value = value.strip()
    if not value or len(value) > 1000:
        return set()
    prefix = str(getattr(ident, "env_prefix", "") or "")
    database, schema = getattr(ident, "database", None), getattr(ident, "schema", None)
    if database and schema:
        try:
            return {str(build_schema_object_ident(prefix, value, database, schema)).upper()}
        except (ValueError, KeyError, IndexError):
            return set()
    return {value.upper(), f"{prefix}{value}".upper()}


def _strip_name(name: str, env_prefix: str, suffix: str = "") -> str:
    name = str(name)
    if env_prefix and name.startswith(env_prefix.upper()):
        name = name[len(env_prefix) :]
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    return name


def _parser_problem(root: Path, lines: _LineIndex, key: str, exc: Exception) -> Problem:
    path, _, entity = key.partition(".yaml:") if ".yaml:" in key else key.partition(".yml:")
    if entity:
        path += ".yaml" if ".yaml:" in key else ".yml"
    rel = _rel(root, path)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        detail = " ".join(x for x in (exc.context, exc.problem) if x)
        column = f", column {mark.column + 1}" if mark else ""
        return Problem(rel, mark.line + 1 if mark else None, None, "yaml", f"YAML syntax error{column}: {detail}")
    if isinstance(exc, jsonschema.ValidationError):
        keys = list(exc.absolute_path)
        if exc.validator == "additionalProperties" and isinstance(exc.instance, dict):
            known = exc.schema.get("properties", {}) if isinstance(exc.schema, Mapping) else {}
            extra = [k for k in exc.instance if k not in known]
            keys += extra[:1]  # the line of the first unexpected key
        obj = str(keys[0]).upper() if keys and rel.count("/") == 0 else None
        where = ".".join(str(k) for k in keys) or "(file)"
        return Problem(rel, lines.line(rel, keys), obj, "schema", f"{where}: {exc.message}")
    return Problem(rel, lines.line(rel, [entity] if entity else []), entity.upper() or None, "parse", _unrooted(root, str(exc)))


def _unrooted(root: Path, message: str) -> str:
    """SnowDDL's message with the config folder's own path left out ("File [view/v.sql] ..."): results
    are shown to requesters and written into change requests, which must not carry the server's paths."""
    return message.replace(f"{root}{os.sep}", "").replace(str(root), ".")


def _duplicate_warnings(root: Path, read_paths, overlay: dict, base: "LoadedConfig | None") -> list[Problem]:
    """A warning for every key written twice in one mapping, at any depth: YAML (and so SnowDDL) keeps
    the last copy and ignores the others without a word. With `base` (a re-validation): the base's
    warnings of unchanged files, and the changed files scanned again."""
    out: list[Problem] = []
    done: set[str | None] = set()
    if base is not None:
        out = [p for p in base.validation.warnings if p.kind == "duplicate" and p.file not in overlay]
        done = {p.file for p in out}
    for path in dict.fromkeys(read_paths):
        rel = _rel(root, path)
        if rel in done or (base is not None and rel not in overlay):
            continue
        done.add(rel)
        try:
            text = overlay[rel] if rel in overlay else Path(path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text is None:
            continue
        dups = yaml_reader.duplicate_keys(text)
        for dup in dups:
            lines = ", ".join(str(n) for n in dup.lines)
            out.append(Problem(rel, dup.lines[-1], dup.key.split(".")[0].upper() if rel.count("/") == 0 else None, "duplicate",
                               f"{dup.key} is defined {len(dup.lines)} times (lines {lines}): SnowDDL uses the last copy "
                               "and ignores the others"))
    return out


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _object_place(scanner, root: Path, lines: _LineIndex, bp, env_prefix: str, message: str):
    """(file, line, object) of a blueprint a validator rejected: the file SnowDDL read it from (the root
    file of its kind, e.g. tech_role.yaml; a database's or schema's params.yaml; a schema object's own
    file) and the line of the entry, or of the key the message names."""
    kind = _snake(type(bp).__name__.removesuffix("Blueprint"))
    ident = bp.full_name
    database, schema = getattr(ident, "database", None), getattr(ident, "schema", None)
    name = getattr(ident, "name", None)
    files = scanner.all_file_paths
    if kind == "database":
        key, obj = f"{database}/params", str(database)
    elif kind == "schema":
        key, obj = f"{database}/{schema}/params", f"{database}.{schema}"
    elif database and schema and name:
        key, obj = f"{database}/{schema}/{kind}/{name}", f"{database}.{schema}.{name}"
        if key.lower() not in files:  # names with arguments: double_it(number)
            key = next((k for k in scanner.schema_object_file_paths.get(kind, {}) if k.startswith(key.lower())), key)
    else:
        obj = _strip_name(str(ident), env_prefix)
        if kind.endswith("role") and "__" in obj:
            obj = obj.rsplit("__", 1)[0]
        present = [stem for stem in yaml_reader.ROOT_FILES.get(kind, (kind,)) if stem in files]
        for stem in present:
            rel = _rel(root, files[stem])
            if lines.has(rel, obj):
                return rel, lines.mentioned(rel, [obj], message, ident), obj
        return (_rel(root, files[present[0]]), None, obj) if present else (None, None, obj)
    path = files.get(key.lower())
    if path is None:
        return None, None, obj
    rel = _rel(root, path)
    return rel, lines.mentioned(rel, [], message, ident), obj


def _mentions(message: str, names: set[str]) -> bool:
    return any(f"[{n}]" in message or f"[{n}__" in message or f"[{n}." in message for n in names)


def _failed_kinds(problems: list[Problem]) -> set[str]:
    """Kinds of root file that failed as a whole (a YAML error in warehouse.yaml: no warehouse exists)."""
    out = set()
    for p in problems:
        if p.object is None and p.file and "/" not in p.file:
            kind = yaml_reader.normalise(p.file)
            out.add("technical_role" if kind == "tech_role" else kind)
    return out


def _scan_problems(root: Path, scanner: _Scanner, validation: Validation) -> None:
    """The folders the scan set aside: errors for those SnowDDL cannot take, warnings for unreadable ones."""
    for folder, message in scanner.rejected:
        validation.errors.append(Problem(_rel(root, folder) + "/", None, None, "structure", message))
    for folder, reason in scanner.unreadable:
        validation.warnings.append(
            Problem(_rel(root, folder) + "/", None, None, "unreadable", f"cannot read this folder ({reason}): it was not validated")
        )


def _place_parse_errors(root: Path, lines: _LineIndex, collected, parsers: list, add: Callable[[Problem], None]) -> None:
    """The errors of the schema checks (`collected`) and of the parsers, each placed at its file and line."""
    for file_path, exc in collected.errors:
        add(_parser_problem(root, lines, str(file_path), exc))
    for parser in parsers:
        for key, exc in parser.errors.items():
            add(_parser_problem(root, lines, key, exc))


def _knock_on_sources(collected, errors: list[Problem], env_prefix: str) -> tuple[set[str], set[str]]:
    """(names of objects that never became blueprints, kinds of root file that failed whole), from the
    parse errors: a validator's error that follows from one of them is a knock-on error."""
    # Objects that never became blueprints: reference errors about them are knock-on errors.
    dropped = {key.upper() for _, key in collected.dropped} | {p.object for p in errors if p.object}
    # A database or schema whose params.yaml failed is missing too.
    dropped |= {".".join(Path(p.file).parts[:-1]).upper() for p in errors
                if p.file and p.file.count("/") in (1, 2) and yaml_reader.normalise(p.file).endswith("/params")}
    dropped |= {env_prefix + name for name in dropped}
    return dropped, _failed_kinds(errors)


def _place_check_errors(root: Path, config: SnowDDLConfig, scanner: _Scanner, lines: _LineIndex, env_prefix: str,
                        checks: list[_Check], knock_on_sources: tuple[set[str], set[str]],
                        add: Callable[[Problem], None]) -> None:
    """The validators' errors (kind "reference"), each placed at the blueprint's file and line, and marked
    knock-on when it follows from an object or a root file that failed to parse."""
    dropped, failed_kinds = knock_on_sources
    for check in checks:
        validator_cls = check.cls
        if check.failure is not None:
            add(Problem(None, None, None, "reference", f"{validator_cls.__name__}: {check.failure}"))
            continue
        blueprints = validator_cls(config).get_blueprints() if check.errors else {}
        for name, exc in check.errors.items():
            message = _unrooted(root, str(exc))
            bp = blueprints.get(name)
            if bp is not None:
                rel, line, obj = _object_place(scanner, root, lines, bp, env_prefix, message)
            else:
                rel, line, obj = None, None, _strip_name(name, env_prefix)
            # Knock-on only when it follows from an object that failed: one the message names, or a whole
            # root file of a kind the message is about.
            knock_on = _mentions(message, dropped) or any(
                re.search(rf"\b{k.replace('_', '[ _]')}", message, re.I) for k in failed_kinds)
            add(Problem(rel, line, obj, "reference", message, knock_on=knock_on))
