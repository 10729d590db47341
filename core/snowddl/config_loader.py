"""Load a SnowDDL config directory through SnowDDL's own scanner, parsers and validators.

The result carries every error SnowDDL reports (parsers and validators both run, so reference
errors are not hidden behind parse errors), each with the file, line and object it is about, plus
the names of the objects a form offers as choices. Nothing here imports Streamlit.

Use `load_config` for a whole config folder as SnowDDL reads it (validation, SnowDDL's blueprints for
plans, names for pickers); core.snowddl.yaml_reader reads one file's YAML text, core.snowddl.commit_snapshot
is a config as of one commit. `load_config` runs in named steps: the folder opened and scanned
(core.snowddl.config_scan), SnowDDL's parsers (core.snowddl.config_parse) and validators
(core.snowddl.config_check), each error placed at its file and line (core.snowddl.problem_places), the
warnings, the names, SnowTower's expiry file.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from snowddl.blueprint import (
    BusinessRoleBlueprint,
    DatabaseBlueprint,
    ResourceMonitorBlueprint,
    SchemaBlueprint,
    TechnicalRoleBlueprint,
    UserBlueprint,
    WarehouseBlueprint,
)
from snowddl.config import SnowDDLConfig

from core.snowddl import snowddl_patches, yaml_reader
from core.snowddl.config_check import _Check, _validate
from core.snowddl.config_parse import _NotReusable, _reusable_trace, _run_parsers, _Trace
from core.snowddl.config_scan import _custom_modules, _rel, _reusable_scanner, _Scanner
from core.snowddl.problem_places import (
    Problem,
    _duplicate_warnings,
    _knock_on_sources,
    _LineIndex,
    _place_check_errors,
    _place_parse_errors,
    _scan_problems,
    _strip_name,
    _unrooted,
)

_prepared = False


def _prepare_snowddl() -> None:
    """Once per process, by the loader itself (importing this module patches nothing): SnowDDL's
    parsing speed-ups (core.snowddl.snowddl_patches), and SnowDDL's logger quietened (it logs a full traceback at
    WARNING for every error it collects; we report them ourselves). A later snowddl_patches.uninstall() stays in
    force: the benchmark and tests compare both code paths."""
    global _prepared
    if not _prepared:
        snowddl_patches.install()
        logging.getLogger("snowddl").setLevel(logging.CRITICAL)
        _prepared = True

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


def _run_custom(module_path: Path, config: SnowDDLConfig) -> str | None:
    """Runs one __custom module's handler(config) as SnowDDL does; the error text if it fails."""
    from importlib.util import module_from_spec, spec_from_file_location

    try:
        spec = spec_from_file_location(module_path.name, module_path)
        if spec is None or spec.loader is None:
            raise ImportError(f"not a Python module: {module_path.name}")
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
    opened = _open_folder(loaded, env_prefix, overlay, base, placeholder_values)
    if opened is None:
        return loaded
    config, scanner, trace = opened
    env_prefix = config.env_prefix
    _scan_problems(root, scanner, validation)

    overlay_abs = {str(root / rel): text for rel, text in overlay.items() if text is not None}
    with snowddl_patches.Collector(overlay_abs) as collected:
        try:
            parsers, setup, runs = _run_parsers(config, scanner, trace, collected, placeholder_values, set(overlay_abs))
            _run_programmatic(loaded, config, run_custom_python)
        except _NotReusable:
            return load_config(path, env_prefix, placeholder_values, overlay)
        except Exception as exc:
            validation.errors.append(Problem(None, None, None, "structure", f"SnowDDL stopped reading this folder: {_unrooted(root, str(exc))}"))
            loaded.snowddl = None
            return loaded

    checks = _place_errors(loaded, config, scanner, trace, lines, collected, parsers)
    _add_warnings(loaded, scanner, collected.read, overlay, base if trace is not None else None)
    _fill_names(loaded, config, env_prefix)
    if trace is None and overlay == {} and not run_custom_python:
        loaded.trace = _Trace(root, env_prefix, scanner, setup, runs, checks, dict(config.placeholders),
                              dict(config.permission_models))
    _check_expiry(root, overlay, loaded)
    return loaded


def _open_folder(loaded: LoadedConfig, env_prefix: str, overlay: dict[str, str | None], base: LoadedConfig | None,
                 placeholder_values: dict | None) -> tuple[SnowDDLConfig, _Scanner, _Trace | None] | None:
    """load_config's first step: SnowDDL's config object (in `loaded.snowddl`) and the folder's scan, the
    base load's scan and trace when they can serve this overlay (trace None: a full load). None, with the
    error in `loaded`, when SnowDDL refuses the env prefix or cannot read the folder."""
    root, validation = loaded.path, loaded.validation
    try:
        env_prefix = env_prefix_of(env_prefix)
    except ValueError as exc:
        validation.errors.append(Problem(None, None, None, "structure", f"SnowDDL refuses this env prefix: {exc}"))
        return None
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
        return None
    return config, scanner, trace


def _run_programmatic(loaded: LoadedConfig, config: SnowDDLConfig, run_custom_python: bool) -> None:
    """The config's programmatic-object modules, listed in `loaded.custom` and run only when asked."""
    root = loaded.path
    loaded.custom = _custom_modules(root)
    if run_custom_python:
        for rel in loaded.custom:
            error = _run_custom(root / rel, config)
            if error is not None:
                loaded.validation.errors.append(Problem(rel, None, None, "programmatic", _unrooted(root, error)))
        loaded.custom_ran = True


def _place_errors(loaded: LoadedConfig, config: SnowDDLConfig, scanner: _Scanner, trace: _Trace | None,
                  lines: _LineIndex, collected, parsers: list) -> list[_Check]:
    """The parse errors, then SnowDDL's validators run and their errors, each placed at its file and line
    in `loaded.validation` (one copy of each); returns the validators' runs (kept in the trace)."""
    root, env_prefix = loaded.path, config.env_prefix
    add = _adder(loaded.validation)
    _place_parse_errors(root, lines, collected, parsers, add)
    knock_on_sources = _knock_on_sources(collected, loaded.validation.errors, env_prefix)
    checks = _validate(config, trace)
    _place_check_errors(root, config, scanner, lines, env_prefix, checks, knock_on_sources, add)
    return checks


def _adder(validation: Validation) -> Callable[[Problem], None]:
    """A function that adds an error to `validation` unless the same (file, line, message) is there."""
    seen: set[tuple] = set()

    def add(problem: Problem) -> None:
        ident = (problem.file, problem.line, problem.message)
        if ident not in seen:  # one bad file read by several parsers is one error
            seen.add(ident)
            validation.errors.append(problem)

    return add


def _add_warnings(loaded: LoadedConfig, scanner: _Scanner, read_paths: list, overlay: dict[str, str | None],
                  base: LoadedConfig | None) -> None:
    """The warnings of a load: programmatic objects not run, keys written twice, files SnowDDL does not read."""
    root, validation = loaded.path, loaded.validation
    if loaded.custom and not loaded.custom_ran:
        for rel in loaded.custom:
            validation.warnings.append(Problem(
                rel, None, None, "programmatic",
                "programmatic objects: SnowDDL runs this Python module, SnowTower does not (it would run the "
                "repository's code); the objects it makes or changes are not validated and not previewed "
                "(run_custom_python / --run-custom-python, for trusted CI only)"))
    validation.warnings.extend(_duplicate_warnings(root, read_paths, overlay, base))

    for _file_key, file_path in sorted(scanner.get_unused_file_paths().items()):
        validation.warnings.append(
            Problem(_rel(root, file_path), None, None, "unused", "SnowDDL does not read this file: its content has no effect")
        )


def _fill_names(loaded: LoadedConfig, config: SnowDDLConfig, env_prefix: str) -> None:
    """The names of the objects a form offers as choices, without env prefix or role suffix."""
    def names(cls, suffix=""):
        return sorted(_strip_name(bp.full_name, env_prefix, suffix) for bp in config.get_blueprints_by_type(cls).values())

    loaded.users = names(UserBlueprint)
    loaded.business_roles = names(BusinessRoleBlueprint, "__" + config.BUSINESS_ROLE_SUFFIX)
    loaded.technical_roles = names(TechnicalRoleBlueprint, "__" + config.TECHNICAL_ROLE_SUFFIX)
    loaded.warehouses = names(WarehouseBlueprint)
    loaded.resource_monitors = names(ResourceMonitorBlueprint)
    loaded.databases = names(DatabaseBlueprint)
    loaded.schemas = names(SchemaBlueprint)


def expired_warnings(path: str | Path, today) -> list[Problem]:
    """Warnings (kind "expired") for the time-bound grants of the config folder at `path` whose end date
    (`until`) is before `today` (a date): each waits for its revoke request (`snowtower expire --submit`).
    [] when the expiry file cannot be read (load_config reports that as an error)."""
    from core import expiry

    root = Path(path).resolve()
    texts = []
    for rel in (expiry.EXPIRY_FILE, yaml_reader.root_file(root, "user")):
        try:
            texts.append((root / rel).read_bytes().decode("utf-8") if (root / rel).is_file() else None)
        except (OSError, UnicodeDecodeError):
            texts.append(None)
    try:
        grants, _ = expiry.all_grants(*texts)
    except expiry.ExpiryError:
        return []
    user_rel = yaml_reader.root_file(root, "user")
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

    user_rel = yaml_reader.root_file(root, "user", overlay)
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
        found = yaml_reader.load_entry(user_text or "", user) if user_text else None
        roles = found[1].get("business_roles") if found and isinstance(found[1], dict) else None
        held[user] = {str(r).upper() for r in roles} if isinstance(roles, list) else set()
    for p in problems:
        errors.append(Problem(expiry.EXPIRY_FILE, p.line, p.object, "expiry", p.message))
    for g, found_problems in zip(grants, [expiry.check([g], held, set(loaded.business_roles)) for g in grants], strict=True):
        for problem in found_problems:
            errors.append(Problem(user_rel if g.legacy else expiry.EXPIRY_FILE, problem.line, problem.object,
                                  "expiry", problem.message))


def validate_dir(path: str | Path, env_prefix: str = "") -> Validation:
    return load_config(path, env_prefix).validation
