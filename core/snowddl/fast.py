"""Two drop-in speed-ups for SnowDDL's own parsing, with the same verdicts.

SnowDDL's ParsedFile calls `jsonschema.validate(params, schema)` for every file, which checks the
schema against its meta-schema and builds a new validator each time (about three quarters of a
`snowddl validate` run), and reads YAML with the pure-Python loader. Here the same schemas are
compiled once and reused, and YAML is read by libyaml (CSafeLoader) with SnowDDL's own !include,
!decrypt and !encrypt constructors. The parsers, schemas and validators stay SnowDDL's.
"""
from __future__ import annotations

import threading

import jsonschema
import yaml
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
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

    def __init__(self):
        self.errors: list[tuple[object, jsonschema.ValidationError]] = []
        self.dropped: set[tuple[str, str]] = set()  # (file path, entry key)

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


_Base = getattr(yaml, "CSafeLoader", None)

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


def install() -> None:
    _parsed_file.validate = validate
    _parsed_file.ParsedFile._validate_json_schema = validate_parsed_file
    SnowDDLConfig.get_blueprints_by_type_and_pattern = get_blueprints_by_type_and_pattern
    if _Base is not None:
        _parsed_file.SnowDDLLoader = FastSnowDDLLoader


def uninstall() -> None:
    """Back to SnowDDL's own code paths (the benchmark compares both)."""
    _parsed_file.validate = jsonschema.validate
    _parsed_file.ParsedFile._validate_json_schema = _original_validate_json_schema
    SnowDDLConfig.get_blueprints_by_type_and_pattern = _original_get_by_pattern
    _parsed_file.SnowDDLLoader = _yaml.SnowDDLLoader
