"""Load a SnowDDL config directory through SnowDDL's own scanner, parsers and validators.

The result carries every error SnowDDL reports (parsers and validators both run, so reference
errors are not hidden behind parse errors), each with the file, line and object it is about, plus
the names of the objects a form offers as choices. Nothing here imports Streamlit.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jsonschema
import yaml
from snowddl.blueprint import (
    AccountObjectIdent,
    BusinessRoleBlueprint,
    DatabaseBlueprint,
    ResourceMonitorBlueprint,
    SchemaBlueprint,
    TechnicalRoleBlueprint,
    UserBlueprint,
    WarehouseBlueprint,
)
from snowddl.config import SnowDDLConfig
from snowddl.parser import (
    DirectoryScanner,
    ParsedFile,
    PermissionModelParser,
    PlaceholderParser,
    UserParser,
    default_parse_sequence,
)
from snowddl.validator import default_validate_sequence

from core.snowddl import fast, read

_prepared = False


def _prepare_snowddl() -> None:
    """Once per process, by the loader itself (importing this module patches nothing): SnowDDL's
    parsing speed-ups (core.snowddl.fast), and SnowDDL's logger quietened (it logs a full traceback at
    WARNING for every error it collects; we report them ourselves). A later fast.uninstall() stays in
    force: the benchmark and tests compare both code paths."""
    global _prepared
    if not _prepared:
        fast.install()
        logging.getLogger("snowddl").setLevel(logging.CRITICAL)
        _prepared = True

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


@dataclass
class Validation:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "valid": self.valid,
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
        }


@dataclass
class LoadedConfig:
    path: Path
    validation: Validation
    users: list[str] = field(default_factory=list)
    business_roles: list[str] = field(default_factory=list)
    technical_roles: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    resource_monitors: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)
    snowddl: SnowDDLConfig | None = field(default=None, repr=False)  # SnowDDL's own reading (for plans)
    trace: "_Trace | None" = field(default=None, repr=False, compare=False)  # what each parser read and made
    custom: list[str] = field(default_factory=list)  # __custom/*.py modules (programmatic objects)
    custom_ran: bool = False  # whether they were run (load_config(run_custom_python=True))


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
                self._nodes[rel] = read.compose(text)
            except (OSError, read.ReadError, UnicodeDecodeError):
                self._nodes[rel] = None
        return self._nodes[rel]

    def has(self, rel: str, key: str) -> bool:
        node = self._node(rel)
        return isinstance(node, yaml.MappingNode) and any(str(k.value).upper() == key.upper() for k, _ in node.value)

    def mentioned(self, rel: str, keys: list, message: str) -> int | None:
        """The line of the first key under `keys` whose name the message mentions (a validator's
        "parameter owner_schema_read", "change_tracking"), else the line of `keys` itself."""
        node = self._node(rel)
        for key in keys:
            if not isinstance(node, yaml.MappingNode):
                break
            node = next((v for k, v in node.value if str(k.value).upper() == str(key).upper()), None)
        if isinstance(node, yaml.MappingNode):
            for k, _ in node.value:
                words = re.escape(str(k.value)).replace("_", "[ _]")  # depends_on: "depends on another view"
                if re.search(rf"(?<![A-Za-z0-9_]){words}(?![A-Za-z0-9_])", message, re.I):
                    return self.line(rel, [*keys, k.value])
        return self.line(rel, keys)

    def line(self, rel: str, keys: list) -> int | None:
        return read.node_line(self._node(rel), keys)


def _rel(root: Path, path: str | Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


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
            known = exc.schema.get("properties", {})
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


class _Scanner(DirectoryScanner):
    """SnowDDL's scanner, except that a folder it cannot take (a name that is no identifier, such as
    `.backups`, a second folder whose name differs only in case, or one it may not read) is set
    aside with a reason instead of crashing the whole run; everything else is read as SnowDDL reads it."""

    def __init__(self, base_path: Path, overlay: dict[str, str | None] | None = None):
        self.rejected: list[tuple[Path, str]] = []  # errors: SnowDDL cannot use these folders
        self.unreadable: list[tuple[Path, str]] = []  # warnings: not readable at all
        scanner = self

        class ScanPath(type(Path())):
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

# -- re-validation after a change, reusing the base load ------------------------------------------

@dataclass
class _ParserRun:
    """One parser's run: the files it read, the blueprints and policy references it added (in order),
    the errors it and the schema checks of its files reported."""
    cls: type | None
    parser: object
    paths: set[str]
    blueprints: list = field(default_factory=list)
    initial_refs: dict = field(default_factory=dict)  # id(policy blueprint) -> its references when added
    refs: list = field(default_factory=list)  # (policy class, policy name, reference)
    errors: list = field(default_factory=list)
    dropped: set = field(default_factory=set)
    entities: dict = field(default_factory=dict)  # name -> object file path -> (callback context, {entity name: _Entity})


@dataclass
class _Entity:
    """What one entry of a name -> object file became: the parser's callback on (name, params)."""
    params: object
    blueprints: list
    refs: list
    error: tuple | None  # (error key, exception)


# Parsers whose entry callback depends only on the entry and on the arguments bound to the callback
# (for UserParser: the default warehouse map read from business_role.yaml): an entry whose params and
# callback arguments are equal to the base's gives the same blueprints, references and error.
_ENTITY_PARSERS = (UserParser,)


def _callback_context(callback):
    if isinstance(callback, functools.partial) and not callback.args:
        return getattr(callback.func, "__name__", None), dict(callback.keywords)
    return None


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


@dataclass
class _Trace:
    root: Path
    env_prefix: str
    scanner: _Scanner
    setup: _ParserRun  # the placeholder and permission-model parsers
    runs: list[_ParserRun]
    checks: list[_Check]
    placeholders: dict
    permission_models: dict


class _NotReusable(Exception):
    """The base load cannot be reused for this change: load in full."""


def _is_policy(bp) -> bool:
    return "references" in type(bp).model_fields


def _run_parser(config: SnowDDLConfig, scanner, parser_cls, collected, previous: dict | None = None) -> _ParserRun:
    """Runs one parser, recording what it read and made. `previous`: the entries of its name -> object
    files in the base run, reused where an entry's params are equal (only the entry file changed)."""
    parser = parser_cls(config, scanner)
    run = _ParserRun(parser_cls, parser, set())
    if parser_cls in _ENTITY_PARSERS:
        parser.parse_multi_entity_file = functools.partial(_parse_entities, parser, run, previous or {})
    errors0, read0, dropped0 = len(collected.errors), len(collected.read), set(collected.dropped)
    add_blueprint, add_reference = config.add_blueprint, config.add_policy_reference

    def traced_add_blueprint(bp):
        add_blueprint(bp)
        run.blueprints.append(bp)
        if _is_policy(bp):
            run.initial_refs[id(bp)] = list(bp.references)

    def traced_add_reference(cls, policy_name, ref):
        add_reference(cls, policy_name, ref)
        run.refs.append((cls, policy_name, ref))

    config.add_blueprint, config.add_policy_reference = traced_add_blueprint, traced_add_reference
    try:
        parser.load_blueprints()
    finally:
        del config.add_blueprint, config.add_policy_reference
    run.paths = set(collected.read[read0:])
    run.errors = collected.errors[errors0:]
    run.dropped = collected.dropped - dropped0
    return run


def _parse_entities(parser, run: _ParserRun, previous: dict, file_key: str, json_schema: dict, callback) -> None:
    """AbstractParser.parse_multi_entity_file (same errors, same order), recording each entry's
    blueprints, policy references and error, and replaying an entry whose params equal the base's."""
    path = parser.scanner.get_single_file_path(file_key)
    if not path:
        return
    try:
        file = ParsedFile(parser, path, json_schema)
    except Exception as e:
        parser.add_error(e, path)
        return
    context = _callback_context(callback)
    old_context, before = previous.get(str(path), (None, {}))
    if context is None or old_context != context:
        before = {}
    entities = {}
    run.entities[str(path)] = (context, entities)
    config = parser.config
    for entity_name, entity_params in file.params.items():
        old = before.get(entity_name)
        if old is not None and old.params == entity_params:
            for bp in old.blueprints:
                config.add_blueprint(bp)
            for cls, policy_name, ref in old.refs:
                config.add_policy_reference(cls, policy_name, ref)
            if old.error is not None:
                parser.errors[old.error[0]] = old.error[1]
            entities[entity_name] = old
            continue
        bps0, refs0, errors0 = len(run.blueprints), len(run.refs), len(parser.errors)
        error = None
        try:
            callback(entity_name, entity_params)
        except Exception as e:
            parser.add_error(e, path, entity_name)
            if len(parser.errors) > errors0:
                error = next(reversed(parser.errors.items()))
        entities[entity_name] = _Entity(entity_params, run.blueprints[bps0:], run.refs[refs0:], error)


def _replay(config: SnowDDLConfig, run: _ParserRun, collected) -> _ParserRun:
    """A parser whose files did not change: its blueprints again (policies as fresh copies, since the
    references other parsers add are added again), its errors again."""
    for bp in run.blueprints:
        if id(bp) in run.initial_refs:
            bp = bp.model_copy(update={"references": list(run.initial_refs[id(bp)])})
        config.add_blueprint(bp)
    for cls, policy_name, ref in run.refs:
        config.add_policy_reference(cls, policy_name, ref)
    collected.errors.extend(run.errors)
    collected.dropped |= run.dropped
    return run


def _intern(config: SnowDDLConfig, run: _ParserRun, trace: _Trace) -> _ParserRun:
    """A parser run again makes new blueprints: each one equal to the base's of the same type and name
    is replaced by the base's very object, so validators see it unchanged (policies excepted: their
    references are made again)."""
    before = trace.runs[0].parser.config.blueprints
    for i, bp in enumerate(run.blueprints):
        name = str(bp.full_name)
        old = before.get(type(bp), {}).get(name)
        if old is None or old is bp or id(bp) in run.initial_refs or old != bp:
            continue
        run.blueprints[i] = old
        if config.blueprints[type(bp)].get(name) is bp:
            config.blueprints[type(bp)][name] = old
    return run


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


def _reusable_trace(base, root: Path, overlay: dict, env_prefix: str, placeholder_values, scanner):
    trace = getattr(base, "trace", None)
    if trace is None or scanner is not trace.scanner:
        return None
    changed = {str(root / rel) for rel in overlay}
    if trace.setup.paths & changed:
        return None  # placeholders or permission models changed: every file may read differently
    for run in trace.runs:
        if run.paths & changed and run.initial_refs:
            return None  # a policy file changed: the references to it are re-made by other parsers
    return trace


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
        if len(now) == len(then) and all(a == b and x is y for (a, x), (b, y) in zip(now.items(), then.items())):
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


def _duplicate_warnings(root: Path, read_paths, overlay: dict, base: "LoadedConfig | None") -> list[Problem]:
    """A warning for every key written twice in one mapping, at any depth: YAML (and so SnowDDL) keeps
    the last copy and ignores the others without a word. With `base` (a re-validation): the base's
    warnings of unchanged files, and the changed files scanned again."""
    out: list[Problem] = []
    done: set[str] = set()
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
        dups = read.duplicate_keys(text)
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
        present = [stem for stem in read.ROOT_FILES.get(kind, (kind,)) if stem in files]
        for stem in present:
            rel = _rel(root, files[stem])
            if lines.has(rel, obj):
                return rel, lines.mentioned(rel, [obj], message), obj
        return (_rel(root, files[present[0]]), None, obj) if present else (None, None, obj)
    path = files.get(key.lower())
    if path is None:
        return None, None, obj
    rel = _rel(root, path)
    return rel, lines.mentioned(rel, [], message), obj


def _mentions(message: str, names: set[str]) -> bool:
    return any(f"[{n}]" in message or f"[{n}__" in message or f"[{n}." in message for n in names)


def _failed_kinds(problems: list[Problem]) -> set[str]:
    """Kinds of root file that failed as a whole (a YAML error in warehouse.yaml: no warehouse exists)."""
    out = set()
    for p in problems:
        if p.object is None and p.file and "/" not in p.file:
            kind = read.normalise(p.file)
            out.add("technical_role" if kind == "tech_role" else kind)
    return out


def _custom_modules(root: Path) -> list[str]:
    """The programmatic-object modules SnowDDL would run (snowddl.app.base: __custom/*.py, sorted)."""
    return [_rel(root, p) for p in sorted(root.glob("__custom/*.py"))]


def _run_custom(module_path: Path, config: SnowDDLConfig) -> str | None:
    """Runs one __custom module's handler(config) as SnowDDL does; the error text if it fails."""
    from importlib.util import module_from_spec, spec_from_file_location

    try:
        spec = spec_from_file_location(module_path.name, module_path)
        module = module_from_spec(spec)
        spec.loader.exec_module(module)
        module.handler(config)
    except Exception as exc:
        return f"programmatic config failed: {type(exc).__name__}: {exc}"
    return None


_ENV_PREFIX_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def env_prefix_of(value: str | None) -> str:
    """The env prefix SnowDDL's CLI makes of --env-prefix (and --env-prefix-separator, written at the end:
    "DEV" or "DEV__" -> "DEV__", "DEV_" -> "DEV_" with separator "_", "DEV$"); "" for none.
    ValueError, with SnowDDL's own words (snowddl.app.base.init_env_prefix), for a prefix it refuses."""
    if not value:
        return ""
    text = str(value).upper()
    separator = next((sep for sep in ("__", "$", "_") if text.endswith(sep)), "__")
    prefix = text[: -len(separator)] if text.endswith(separator) else text
    for char in prefix:
        if char not in _ENV_PREFIX_CHARS:
            raise ValueError(f"Character [{char}] is not allowed in env prefix [{prefix}], only ASCII letters, "
                             "digits and single underscores are accepted")
    if not prefix:
        raise ValueError(f"Env prefix [{text}] is empty")
    if separator in prefix:
        raise ValueError(f"Env prefix [{prefix}] cannot contain env prefix separator [{separator}]")
    if prefix.endswith("_"):
        raise ValueError(f"Env prefix [{prefix}] cannot end with [_] underscore")
    return prefix + separator


def load_config(path: str | Path, env_prefix: str = "", placeholder_values: dict | None = None,
                overlay: dict[str, str | None] | None = None, base: LoadedConfig | None = None,
                run_custom_python: bool = False) -> LoadedConfig:
    """Parse and validate a SnowDDL config directory; never raises for a bad config.

    `run_custom_python`: run the config's programmatic objects (`__custom/*.py`, each module's
    handler(config), as SnowDDL does). That is running the repository's own Python code, so it is off
    unless a trusted caller asks (docs/snowddl-core.md); when off, such configs get a warning and the
    objects those modules would make are neither validated nor previewed.

    `overlay` maps paths relative to the folder to new texts (None removes the file): the config is
    validated as if they were written, and nothing is written.

    `base`: the same folder loaded without overlay. When the overlay only rewrites files that already
    exist (no placeholder or permission-model file), the parsers that read none of them are not run
    again: their blueprints and errors are taken from `base`, as are the results of validators whose
    blueprint types did not change (validators of a changed type re-check only the changed objects when
    a check reads no other object of its own type). Anything else is a full load."""
    _prepare_snowddl()
    root = Path(path).resolve()
    validation = Validation()
    loaded = LoadedConfig(root, validation)
    if run_custom_python:
        base = None  # programmatic objects can change anything: a full load
    if not root.is_dir():
        validation.errors.append(Problem(None, None, None, "structure", f"config folder {path} does not exist"))
        return loaded
    overlay = {Path(rel).as_posix(): text for rel, text in (overlay or {}).items()}
    lines = _LineIndex(root, overlay)
    try:
        env_prefix = env_prefix_of(env_prefix)
    except ValueError as exc:
        validation.errors.append(Problem(None, None, None, "structure", f"SnowDDL refuses this env prefix: {exc}"))
        return loaded
    try:
        config = SnowDDLConfig(env_prefix or None)
        env_prefix = config.env_prefix
        loaded.snowddl = config
        scanner = _reusable_scanner(base, root, overlay, env_prefix, placeholder_values)
        trace = _reusable_trace(base, root, overlay, env_prefix, placeholder_values, scanner)
        if trace is None:
            scanner = _Scanner(root, overlay)
    except Exception as exc:  # e.g. two folders whose names differ only in case
        validation.errors.append(Problem(None, None, None, "structure", f"SnowDDL cannot read this folder: {_unrooted(root, str(exc))}"))
        loaded.snowddl = None
        return loaded
    for folder, message in scanner.rejected:
        validation.errors.append(Problem(_rel(root, folder) + "/", None, None, "structure", message))
    for folder, reason in scanner.unreadable:
        validation.warnings.append(
            Problem(_rel(root, folder) + "/", None, None, "unreadable", f"cannot read this folder ({reason}): it was not validated")
        )

    overlay_abs = {str(root / rel): text for rel, text in overlay.items() if text is not None}
    parsers = []
    runs: list[_ParserRun] = []
    with fast.Collector(overlay_abs) as collected:
        try:
            if trace is None:
                setup_start = len(collected.errors), len(collected.read)
                placeholder_parser = PlaceholderParser(config, scanner)
                placeholder_parser.load_placeholders(placeholder_values=placeholder_values)
                parsers.append(placeholder_parser)
                permission_parser = PermissionModelParser(config, scanner)
                permission_parser.load_permission_models()
                parsers.append(permission_parser)
                setup = _ParserRun(None, list(parsers), set(collected.read[setup_start[1]:]),
                                   errors=collected.errors[setup_start[0]:], dropped=set(collected.dropped))
                for parser_cls in default_parse_sequence:
                    runs.append(_run_parser(config, scanner, parser_cls, collected))
            else:
                setup = trace.setup
                config.placeholders = dict(trace.placeholders)
                config.permission_models = dict(trace.permission_models)
                parsers.extend(setup.parser)
                collected.errors.extend(setup.errors)
                collected.dropped |= setup.dropped
                changed = set(overlay_abs)
                for run in trace.runs:
                    if not run.paths & changed:
                        runs.append(_replay(config, run, collected))
                    else:
                        runs.append(_intern(config, _run_parser(config, scanner, run.cls, collected, run.entities), trace))
                        if runs[-1].initial_refs:
                            raise _NotReusable  # it now makes policies: other parsers' references to them change
            parsers.extend(run.parser for run in runs)
            loaded.custom = _custom_modules(root)
            if run_custom_python:
                for rel in loaded.custom:
                    error = _run_custom(root / rel, config)
                    if error is not None:
                        validation.errors.append(Problem(rel, None, None, "programmatic", _unrooted(root, error)))
                loaded.custom_ran = True
        except _NotReusable:
            return load_config(path, env_prefix, placeholder_values, overlay)
        except Exception as exc:
            validation.errors.append(Problem(None, None, None, "structure", f"SnowDDL stopped reading this folder: {_unrooted(root, str(exc))}"))
            loaded.snowddl = None
            return loaded

    seen: set[tuple] = set()

    def add(problem: Problem) -> None:
        ident = (problem.file, problem.line, problem.message)
        if ident not in seen:  # one bad file read by several parsers is one error
            seen.add(ident)
            validation.errors.append(problem)

    for file_path, exc in collected.errors:
        add(_parser_problem(root, lines, str(file_path), exc))
    for parser in parsers:
        for key, exc in parser.errors.items():
            add(_parser_problem(root, lines, key, exc))
    # Objects that never became blueprints: reference errors about them are knock-on errors.
    dropped = {key.upper() for _, key in collected.dropped} | {p.object for p in validation.errors if p.object}
    # A database or schema whose params.yaml failed is missing too.
    dropped |= {".".join(Path(p.file).parts[:-1]).upper() for p in validation.errors
                if p.file and p.file.count("/") in (1, 2) and read.normalise(p.file).endswith("/params")}
    dropped |= {env_prefix + name for name in dropped}
    failed_kinds = _failed_kinds(validation.errors)

    checks = _validate(config, trace)
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

    if loaded.custom and not loaded.custom_ran:
        for rel in loaded.custom:
            validation.warnings.append(Problem(
                rel, None, None, "programmatic",
                "programmatic objects: SnowDDL runs this Python module, SnowTower does not (it would run the "
                "repository's code); the objects it makes or changes are not validated and not previewed "
                "(run_custom_python / --run-custom-python, for trusted CI only)"))
    validation.warnings.extend(_duplicate_warnings(root, collected.read, overlay, base if trace is not None else None))

    for file_key, file_path in sorted(scanner.get_unused_file_paths().items()):
        validation.warnings.append(
            Problem(_rel(root, file_path), None, None, "unused", "SnowDDL does not read this file: its content has no effect")
        )

    def names(cls, suffix=""):
        return sorted(_strip_name(bp.full_name, env_prefix, suffix) for bp in config.get_blueprints_by_type(cls).values())

    loaded.users = names(UserBlueprint)
    loaded.business_roles = names(BusinessRoleBlueprint, "__" + config.BUSINESS_ROLE_SUFFIX)
    loaded.technical_roles = names(TechnicalRoleBlueprint, "__" + config.TECHNICAL_ROLE_SUFFIX)
    loaded.warehouses = names(WarehouseBlueprint)
    loaded.resource_monitors = names(ResourceMonitorBlueprint)
    loaded.databases = names(DatabaseBlueprint)
    loaded.schemas = names(SchemaBlueprint)
    if trace is None and overlay == {} and not run_custom_python:
        loaded.trace = _Trace(root, env_prefix, scanner, setup, runs, checks, dict(config.placeholders),
                              dict(config.permission_models))
    _check_expiry(root, overlay, loaded)
    return loaded


def expired_warnings(path: str | Path, today) -> list[Problem]:
    """Warnings (kind "expired") for the time-bound grants of the config folder at `path` whose end date
    (`until`) is before `today` (a date): each waits for its revoke request (`snowtower expire --submit`).
    [] when the expiry file cannot be read (load_config reports that as an error)."""
    from core import expiry

    root = Path(path).resolve()
    texts = []
    for rel in (expiry.EXPIRY_FILE, read.root_file(root, "user")):
        try:
            texts.append((root / rel).read_bytes().decode("utf-8") if (root / rel).is_file() else None)
        except (OSError, UnicodeDecodeError):
            texts.append(None)
    try:
        grants, _ = expiry.all_grants(*texts)
    except expiry.ExpiryError:
        return []
    user_rel = read.root_file(root, "user")
    return [Problem(user_rel if g.legacy else expiry.EXPIRY_FILE, g.line, f"{g.user} {g.role}", "expired",
                    f"{g.user}'s business role {g.role} ended on {g.until.isoformat()} "
                    f"({-g.days_left(today) - 1} day(s) ago); `snowtower expire --submit` opens its revoke request")
            for g in expiry.due(grants, today, -1)]


def _check_expiry(root: Path, overlay: dict[str, str | None], loaded: LoadedConfig) -> None:
    """SnowTower's expiry file (core.expiry, which SnowDDL skips) against this config: errors (kind
    "expiry") for an unreadable file, bad entries, unknown users or roles and grants the config does not
    hold. Past end dates depend on the day, not the commit: `snowtower validate` adds those."""
    from core import expiry

    def text(rel: str) -> str | None:
        if rel in overlay:
            return overlay[rel]
        try:
            path = root / rel
            return path.read_bytes().decode("utf-8") if path.is_file() else None
        except (OSError, UnicodeDecodeError):
            return None

    user_rel = read.root_file(root, "user", overlay)
    expiry_text, user_text = text(expiry.EXPIRY_FILE), text(user_rel)
    if expiry_text is None and "SnowTower:" not in (user_text or ""):
        return
    errors = loaded.validation.errors
    try:
        grants, problems = expiry.all_grants(expiry_text, user_text)
    except expiry.ExpiryError as exc:
        errors.append(Problem(expiry.EXPIRY_FILE, None, None, "expiry", str(exc)))
        return
    held: dict[str, set[str]] = {}
    known = {u.upper() for u in loaded.users}
    for user in {g.user for g in grants} & known:
        found = read.load_entry(user_text or "", user) if user_text else None
        roles = found[1].get("business_roles") if found and isinstance(found[1], dict) else None
        held[user] = {str(r).upper() for r in roles} if isinstance(roles, list) else set()
    for p in problems:
        errors.append(Problem(expiry.EXPIRY_FILE, p.line, p.object, "expiry", p.message))
    for g, p in zip(grants, [expiry.check([g], held, set(loaded.business_roles)) for g in grants]):
        for problem in p:
            errors.append(Problem(user_rel if g.legacy else expiry.EXPIRY_FILE, problem.line, problem.object,
                                  "expiry", problem.message))


def validate_dir(path: str | Path, env_prefix: str = "") -> Validation:
    return load_config(path, env_prefix).validation
