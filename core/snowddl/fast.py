"""Two drop-in speed-ups for SnowDDL's own parsing, with the same verdicts.

SnowDDL's ParsedFile calls `jsonschema.validate(params, schema)` for every file, which checks the
schema against its meta-schema and builds a new validator each time (about three quarters of a
`snowddl validate` run), and reads YAML with the pure-Python loader. Here the same schemas are
compiled once and reused, and YAML is read by libyaml (CSafeLoader) with SnowDDL's own !include,
!decrypt and !encrypt constructors. The parsers, schemas and validators stay SnowDDL's.
"""
from __future__ import annotations

import jsonschema
import yaml
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from snowddl.parser import _parsed_file, _yaml

_compiled: dict[int, tuple[dict, object]] = {}


def validate(instance, schema) -> None:
    """jsonschema.validate(instance, schema), with the validator compiled once per schema object."""
    entry = _compiled.get(id(schema))
    if entry is None or entry[0] is not schema:
        cls = validator_for(schema)
        cls.check_schema(schema)
        entry = (schema, cls(schema))
        _compiled[id(schema)] = entry
    error = best_match(entry[1].iter_errors(instance))
    if error is not None:
        raise error


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


def install() -> None:
    _parsed_file.validate = validate
    if _Base is not None:
        _parsed_file.SnowDDLLoader = FastSnowDDLLoader


def uninstall() -> None:
    """Back to SnowDDL's own code paths (the benchmark compares both)."""
    _parsed_file.validate = jsonschema.validate
    _parsed_file.SnowDDLLoader = _yaml.SnowDDLLoader
