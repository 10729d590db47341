"""Patches of SnowDDL's own parsing: two drop-in speed-ups, with the same verdicts.

`install()` patches SnowDDL's ParsedFile and SnowDDLConfig in place (core.snowddl.config_loader calls it
once, when it first loads; importing this module patches nothing); `uninstall()` restores SnowDDL's own
code (the benchmark and tests compare both paths). `Collector` gathers the files read, the schema errors
and the entries they dropped, for one load.

SnowDDL's ParsedFile calls `jsonschema.validate(params, schema)` for every file, which checks the
schema against its meta-schema and builds a new validator each time (about three quarters of a
`snowddl validate` run), and reads YAML with the pure-Python loader. Here the same schemas are
compiled once and reused, and YAML is read by libyaml (CSafeLoader) with SnowDDL's own !include,
!decrypt and !encrypt constructors. The parsers, schemas and validators stay SnowDDL's.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import re
import sys
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import jsonschema
import yaml
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
import snowddl.parser  # noqa: F401  (loads every parser module)
from snowddl.blueprint import IdentPattern
from snowddl.config import SnowDDLConfig
from snowddl.parser import _parsed_file, _yaml

_compiled: dict[int, tuple[dict, object]] = {}


def _validator(schema):
    entry = _compiled.get(id(schema))
    if entry is None or entry[0] is not schema:
        cls = validator_for(schema)
        cls.check_schema(schema)
        entry = (schema, cls(schema))
        _compiled[id(schema)] = entry
    return entry[1]


def validate(instance, schema) -> None:
    """jsonschema.validate(instance, schema), with the validator compiled once per schema object."""
    error = best_match(_validator(schema).iter_errors(instance))
    if error is not None:
        raise error


class Collector:
    """Every schema error of every file, and the entries dropped because of them, for one load."""

    def __init__(self, overlay: dict[str, str] | None = None):
        self.errors: list[tuple[object, jsonschema.ValidationError]] = []
        self.dropped: set[tuple[str, str]] = set()  # (file path, entry key)
        self.overlay = overlay or {}  # absolute path -> text that replaces the file's
        self.read: list[str] = []  # every file a ParsedFile was made of, in order (absolute paths)
        self.memo: dict = {}  # (path, schema, placeholders) -> parse results: a file read by several parsers is read once

    def __enter__(self):
        _local.collector = self
        return self

    def __exit__(self, *exc):
        _local.collector = None


_local = threading.local()


def _is_entry_map(schema: dict) -> bool:
    """user.yaml, warehouse.yaml, ...: a mapping of names to objects, each validated on its own."""
    return schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties")


def validate_parsed_file(self) -> None:
    """Replaces ParsedFile._validate_json_schema: all errors of the file (Draft7Validator.iter_errors with
    the parser's own schema); in name -> object files a bad entry is dropped alone, so the good entries
    still become blueprints and the bad one does not hide the others' errors."""
    errors = list(_validator(self.json_schema).iter_errors(self.params))
    if not errors:
        return
    collector = getattr(_local, "collector", None)
    if collector is None:
        raise best_match(errors)
    collector.errors.extend((self.path, e) for e in errors)
    if _is_entry_map(self.json_schema) and isinstance(self.params, dict) and all(e.absolute_path for e in errors):
        for key in {e.absolute_path[0] for e in errors}:
            self.params.pop(key, None)
            collector.dropped.add((str(self.path), str(key)))
        return
    raise best_match(errors)


if TYPE_CHECKING:
    from yaml import CSafeLoader as _Base
else:
    _Base = getattr(yaml, "CSafeLoader", None)  # None: PyYAML built without libyaml

if _Base is not None:

    class FastSnowDDLLoader(_Base):
        def __init__(self, stream):
            super().__init__(stream)
            # SnowDDL's !include resolves paths against `loader.name`, which the C loader lacks.
            self.name = getattr(stream, "name", "<unicode string>")

    for tag, constructor in (
        ("!include", _yaml.include_constructor),
        ("!encrypt", _yaml.encrypt_constructor),
        ("!decrypt", _yaml.decrypt_constructor),
    ):
        FastSnowDDLLoader.add_constructor(tag, constructor)


_original_validate_json_schema = _parsed_file.ParsedFile._validate_json_schema
_original_parsed_file_init = _parsed_file.ParsedFile.__init__


# -- caching keyed by content ---------------------------------------------------------------------
# A file (or, in name -> object files, each top-level entry) is read, placeholder-substituted and
# schema-checked once per distinct text: re-validating after a one-entry change re-reads one entry.

class _Parsed:
    __slots__ = ("params", "errors", "dropped", "fatal")

    def __init__(self, params: bytes, errors: list, dropped: list, fatal: BaseException | None):
        self.params, self.errors, self.dropped, self.fatal = params, errors, dropped, fatal


_CACHE_MAX = 200_000
_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()
_TAGS = ("!include", "!decrypt", "!encrypt")  # their value depends on more than this text: never cached
_KEY_LINE = re.compile(r"""(?:[A-Za-z0-9_$][^:#]*|"[^"]*"|'[^']*')\s*:(?:\s|$)""")
_ANCHOR = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s,\[\]{}]")


def cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def _cache_get(key):
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
        return hit


def _cache_put(key, value) -> None:
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)


class _Named(io.StringIO):
    def __init__(self, text: str, name: str):
        super().__init__(text)
        self.name = name


_TOP_LINE = re.compile(r"^[^ \t\n#].*", re.M)  # a line starting in column 0, no comment
_ODD_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # line breaks other than \n


def _split_entries(text: str) -> list[str] | None:
    """The text of each top-level entry of a block mapping, or None when the file needs a whole-file
    parse (anchors, documents, flow style, anything unusual). Same result as _split_entries_by_line,
    found by one regular expression over the text instead of a loop over its lines."""
    if _ODD_BREAKS.search(text):
        return _split_entries_by_line(text)
    if ("&" in text or "*" in text) and _ANCHOR.search(text):
        return None
    starts = []
    for m in _TOP_LINE.finditer(text):
        line = m.group()
        if not line.strip():
            continue  # whitespace only: part of the entry above, as a blank line is
        if line.startswith(("---", "...", "%")) or not _KEY_LINE.match(line + "\n"):
            return None
        starts.append(m.start())
    if _split_entries_by_line(text[: starts[0]] if starts else text) is None:
        return None  # an indented line before the first entry
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)], strict=False)]


def _split_entries_by_line(text: str) -> list[str] | None:
    """The text of each top-level entry of a block mapping, or None when the file needs a whole-file
    parse (anchors, documents, flow style, anything unusual)."""
    if ("&" in text or "*" in text) and _ANCHOR.search(text):
        return None
    chunks: list[list[str]] = []
    for line in text.splitlines(keepends=True):
        if not line.strip() or line.startswith("#") or line[0] in " \t":
            if chunks:
                chunks[-1].append(line)
            elif line[0] in " \t" and line.strip() and not line.lstrip().startswith("#"):
                return None
            continue
        if line.startswith(("---", "...", "%")) or not _KEY_LINE.match(line):
            return None
        chunks.append([line])
    return ["".join(c) for c in chunks]


def _entry_key(part: str) -> str:
    m = _KEY_LINE.match(part)
    key = m.group().rstrip()[:-1].strip() if m else part
    return key[1:-1] if len(key) > 1 and key[0] == key[-1] and key[0] in "\"'" else key


def _last_copies(parts: list[str]) -> list[str]:
    """The entries YAML keeps: of a key defined twice only the last copy (earlier copies are neither
    read nor checked, as in SnowDDL's whole-file load)."""
    last = {_entry_key(p): i for i, p in enumerate(parts)}
    if len(last) == len(parts):
        return parts
    return [p for i, p in enumerate(parts) if last[_entry_key(p)] == i]


def _placeholder_key(parsed_file) -> str:
    return repr(sorted(parsed_file.parser.config.placeholders.items()))


MAX_EXPANDED_VALUES = 1_000_000  # values a file may hold once its aliases are expanded


def expanded_values(text: str) -> int:
    """How many values (scalars, lists and mappings) `text` holds once every alias is expanded, counted on
    the node tree without expanding it (an alias is the node it names, counted once per use). Nine lines of
    nested aliases ("billion laughs") hold billions; SnowDDL would walk them all. YAMLError if no YAML."""
    sizes: dict[int, int] = {}

    def size(node) -> int:
        known = sizes.get(id(node))
        if known is None:
            if isinstance(node, yaml.SequenceNode):
                known = 1 + sum(size(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                known = 1 + sum(size(k) + size(v) for k, v in node.value)
            else:
                known = 1
            sizes[id(node)] = known
        return known

    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return 0 if root is None else size(root)


def _parse(parsed_file, text: str, offset_name: str) -> _Parsed:
    """Load, substitute placeholders and schema-check one text, the way SnowDDL's ParsedFile does."""
    try:
        # Why: anchors and aliases can make a few lines expand to billions of values; refuse before any walk.
        if _ANCHOR.search(text) and expanded_values(text) > MAX_EXPANDED_VALUES:
            return _Parsed(b"", [], [], ValueError(
                f"its anchors and aliases expand to more than {MAX_EXPANDED_VALUES:,} values: not read"))
        params = yaml.load(_Named(text, offset_name), Loader=_parsed_file.SnowDDLLoader) or {}
        parsed_file._apply_placeholders(params) if isinstance(params, dict) else None
    except yaml.YAMLError:
        raise
    except Exception as exc:  # unknown placeholder, bad tag value: the whole file fails, as in SnowDDL
        return _Parsed(b"", [], [], exc)
    errors = list(_validator(parsed_file.json_schema).iter_errors(params))
    dropped: list[str] = []
    fatal = None
    if errors:
        if _is_entry_map(parsed_file.json_schema) and isinstance(params, dict) and all(e.absolute_path for e in errors):
            for key in {e.absolute_path[0] for e in errors}:
                params.pop(key, None)
                dropped.append(str(key))
        else:
            fatal = best_match(errors)
    return _Parsed(pickle.dumps(params, protocol=pickle.HIGHEST_PROTOCOL), errors, dropped, fatal)


def _cached_parse(parsed_file, text: str) -> _Parsed:
    if any(tag in text for tag in _TAGS):
        return _parse(parsed_file, text, str(parsed_file.path))
    key = (hashlib.blake2b(text.encode("utf-8"), digest_size=20).digest(), id(parsed_file.json_schema),
           _placeholder_key(parsed_file))
    hit = _cache_get(key)
    if hit is None:
        hit = _parse(parsed_file, text, str(parsed_file.path))
        _cache_put(key, hit)
    return hit


_places: dict = {}  # (config folder, file path) -> (database, schema) the path names


def _parse_file(parsed_file, path, json_schema, collector) -> list:
    text = collector.overlay.get(str(path))
    if text is None:
        with path.open("r", encoding="utf-8") as f:
            text = f.read()
    key = None
    if not any(tag in text for tag in _TAGS):
        key = ("file", hashlib.blake2b(text.encode("utf-8"), digest_size=20).digest(), id(json_schema),
               _placeholder_key(parsed_file))
        hit = _cache_get(key)
        if hit is not None:
            return hit
    parts = _split_entries(text) if _is_entry_map(json_schema) else None
    if parts is not None:
        parts = _last_copies(parts)
    results = []
    try:
        for part in parts if parts is not None else [text]:
            results.append(_cached_parse(parsed_file, part))
    except yaml.YAMLError:
        if parts is None:
            raise
        results = [_cached_parse(parsed_file, text)]  # a syntax error: parse whole, for SnowDDL's line and column
    if key is not None:
        _cache_put(key, results)
    return results


def parsed_file_init(self, parser, path, json_schema) -> None:
    """ParsedFile.__init__ with content caching (per entry in name -> object files); same results."""
    self.parser = parser
    self.path = path
    self.name = path.stem.upper()
    self.json_schema = json_schema
    self.database = None
    self.schema = None
    collector = getattr(_local, "collector", None)
    if collector is None:  # outside load_config: SnowDDL's own behaviour
        return _original_parsed_file_init(self, parser, path, json_schema)
    str_path = str(path)
    collector.read.append(str_path)
    place = (str(parser.scanner.base_path), str_path)
    where = _places.get(place)
    if where is None:
        self._guess_database_schema_from_path()
        if len(_places) > 200_000:
            _places.clear()
        where = _places[place] = (self.database, self.schema)
    self.database, self.schema = where
    memo_key = (str_path, id(json_schema), _placeholder_key(self))
    results = collector.memo.get(memo_key)
    if results is None:
        results = collector.memo[memo_key] = _parse_file(self, path, json_schema, collector)
    params: dict = {}
    for r in results:
        if r.fatal is not None:
            collector.errors.extend((path, e) for e in r.errors)
            raise r.fatal
    for r in results:
        value = pickle.loads(r.params)
        if isinstance(value, dict):
            params.update(value)
        else:
            params = value
        collector.errors.extend((path, e) for e in r.errors)
        collector.dropped.update((str(path), key) for key in r.dropped)
    self.params = params
_original_get_by_pattern = SnowDDLConfig.get_blueprints_by_type_and_pattern


def get_blueprints_by_type_and_pattern(self, cls, pattern):
    """SnowDDLConfig's lookup with exact names answered from the dict SnowDDL keeps by full name.

    SnowDDL matches every pattern against every object (millions of matches on a large config);
    a pattern without wildcards can only match the object of that name. The hit is still checked with
    SnowDDL's own matcher, and a miss falls back to SnowDDL's full scan, so results are identical."""
    if not pattern.is_complex_pattern:
        bps = self.blueprints.get(cls, {})
        bp = bps.get(self.env_prefix + pattern.pattern)
        if bp is not None and pattern.is_match_ident(bp.full_name):
            return {self.env_prefix + pattern.pattern: bp}
    return _original_get_by_pattern(self, cls, pattern)


_patterns: dict[str, IdentPattern] = {}


def ident_pattern(pattern) -> IdentPattern:
    """IdentPattern(pattern), built once per pattern text (instances are never changed after init)."""
    key = str(pattern)
    found = _patterns.get(key)
    if found is None:
        found = _patterns[key] = IdentPattern(pattern)
    return found


def _parser_modules():
    import snowddl.parser as package

    return [m for name, m in sorted(sys.modules.items())
            if name.startswith(package.__name__ + ".") and getattr(m, "IdentPattern", None) in (IdentPattern, ident_pattern)]


def install() -> None:
    for module in _parser_modules():
        module.IdentPattern = ident_pattern
    _parsed_file.validate = validate
    _parsed_file.ParsedFile._validate_json_schema = validate_parsed_file
    _parsed_file.ParsedFile.__init__ = parsed_file_init
    SnowDDLConfig.get_blueprints_by_type_and_pattern = get_blueprints_by_type_and_pattern
    if _Base is not None:
        _parsed_file.SnowDDLLoader = FastSnowDDLLoader


def uninstall() -> None:
    """Back to SnowDDL's own code paths (the benchmark compares both)."""
    for module in _parser_modules():
        module.IdentPattern = IdentPattern
    _parsed_file.validate = jsonschema.validate
    _parsed_file.ParsedFile._validate_json_schema = _original_validate_json_schema
    _parsed_file.ParsedFile.__init__ = _original_parsed_file_init
    SnowDDLConfig.get_blueprints_by_type_and_pattern = _original_get_by_pattern
    _parsed_file.SnowDDLLoader = _yaml.SnowDDLLoader
