"""Parsing: SnowDDL's parsers over a scanned config, each run recorded so that a re-validation after a
change reuses what did not change.

`_run_parser` runs one parser and records the files it read, the blueprints and policy references it
added and its errors (`_ParserRun`); `_parse_entities` does the same per entry of a name -> object file
(users). With a base load's `_Trace`, a parser whose files did not change is replayed (`_replay`) and one
run again has its unchanged blueprints replaced by the base's very objects (`_intern`); `_NotReusable`
asks for a full load. `_reusable_trace` says whether a base load's trace can serve an overlay.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snowddl.config import SnowDDLConfig
from snowddl.parser import ParsedFile, PermissionModelParser, PlaceholderParser, UserParser, default_parse_sequence

from core.snowddl.config_check import _Check
from core.snowddl.config_scan import _Scanner


# -- re-validation after a change, reusing the base load ------------------------------------------

@dataclass
class _ParserRun:
    """One parser's run: the files it read, the blueprints and policy references it added (in order),
    the errors it and the schema checks of its files reported."""
    cls: type | None
    parser: Any  # SnowDDL's parser (the setup run: a list of the placeholder and permission-model parsers)
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
    entities: dict[str, _Entity] = {}
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


def _run_parsers(config: SnowDDLConfig, scanner: _Scanner, trace: _Trace | None, collected, placeholder_values: dict | None,
                 changed: set[str]) -> tuple[list, _ParserRun, list[_ParserRun]]:
    """SnowDDL's parsers over the scan, in SnowDDL's order: (every parser object, the placeholder and
    permission-model parsers' run, each blueprint parser's run). With a base load's `trace`, a parser that
    read none of the `changed` files (absolute paths) is replayed; _NotReusable when one run again now
    makes policies."""
    parsers: list = []
    runs: list[_ParserRun] = []
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
        for run in trace.runs:
            if not run.paths & changed:
                runs.append(_replay(config, run, collected))
            else:
                runs.append(_intern(config, _run_parser(config, scanner, run.cls, collected, run.entities), trace))
                if runs[-1].initial_refs:
                    raise _NotReusable  # it now makes policies: other parsers' references to them change
    parsers.extend(run.parser for run in runs)
    return parsers, setup, runs
