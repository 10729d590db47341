"""The one reader of a config's YAML text, and where SnowDDL finds each file.

Everything SnowTower reads out of a config (recipes, edits, pickers, line numbers of errors) goes
through here, so it accepts what SnowDDL's own loader accepts: its tags (`!decrypt`, `!include`,
`!encrypt`: read as their text, never decrypted or followed), anchors, aliases and merge keys
(`<<: *x`), duplicate keys (the LAST copy wins, as in PyYAML and so in SnowDDL), CRLF line ends.

File names are found the way SnowDDL's DirectoryScanner finds them: `.yml` or `.yaml`, any case of the
name (`User.yaml`), and the old names SnowDDL still reads (`tech_role` for `technical_role`).
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SUFFIXES = (".yml", ".yaml")  # snowddl.parser._scanner.DirectoryScanner.allowed_file_suffixes

# The root files SnowDDL reads, by the key recipes use; more than one name: every name SnowDDL reads,
# the current one first (snowddl.parser.technical_role reads both technical_role and tech_role).
ROOT_FILES: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "business_role": ("business_role",),
    "technical_role": ("technical_role", "tech_role"),
    "warehouse": ("warehouse",),
    "resource_monitor": ("resource_monitor",),
    "network_policy": ("network_policy",),
}

# Keys SnowDDL accepts under two spellings (snowddl.parser.business_role: technical_roles / tech_roles).
KEY_ALIASES: dict[str, tuple[str, ...]] = {"technical_roles": ("technical_roles", "tech_roles")}


class ReadError(ValueError):
    """The text is not YAML (message with line and column), or its top level is no mapping."""


class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's safe loader (libyaml when present) that reads any tag as its plain value:
    `password: !decrypt gAAAA...` reads as the token text, `!include x.sql` as "x.sql"."""


def _any_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


Loader.add_multi_constructor("!", _any_tag)


def compose(text: str) -> yaml.Node | None:
    """The node tree of `text` (None for an empty or comment-only file); ReadError if it is no YAML."""
    try:
        return yaml.compose(text, Loader=Loader)
    except yaml.YAMLError as exc:
        raise ReadError(f"the file is not valid YAML: {exc}") from None


@functools.lru_cache(maxsize=64)
def load(text: str) -> dict:
    """The file's top-level mapping as SnowDDL reads it (the last copy of a duplicated key wins);
    {} for an empty file or a top level that is no mapping. Read-only: callers must not mutate it."""
    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        raise ReadError(f"the file is not valid YAML: {exc}") from None
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Duplicate:
    key: str  # the key path, e.g. "ALEX" or "ALEX.business_roles"
    lines: tuple[int, ...]  # 1-based line of every copy; SnowDDL uses the last one


def duplicate_keys(node: yaml.Node | None, max_depth: int = 3) -> list[Duplicate]:
    """Keys defined more than once in one mapping (top level and nested up to `max_depth`)."""
    found: list[Duplicate] = []

    def walk(n, path: str, depth: int):
        if depth > max_depth or not isinstance(n, yaml.MappingNode):
            return
        lines: dict[str, list[int]] = {}
        for k, v in n.value:
            if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                lines.setdefault(str(k.value), []).append(k.start_mark.line + 1)
            walk(v, f"{path}.{k.value}" if path else str(k.value), depth + 1)
        found.extend(Duplicate(f"{path}.{k}" if path else k, tuple(ls)) for k, ls in lines.items() if len(ls) > 1)

    walk(node, "", 1)
    return found


_TOP_KEY = re.compile(r"""^("[^"\n]*"|'[^'\n]*'|[^\s#\-\[{&*!|>'"%@`][^:#\n]*?)[ \t]*:(?:[ \t]|$)""", re.M)
_dup_cache: dict[bytes, tuple[Duplicate, ...]] = {}


def duplicate_top_keys(text: str) -> tuple[Duplicate, ...]:
    """Top-level keys written more than once in a block-mapping file, found line by line (no YAML
    parse: linear in the text, fit for 10 MB user files), with each copy's 1-based line."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    hit = _dup_cache.get(digest)
    if hit is not None:
        return hit
    lines: dict[str, list[int]] = {}
    line_no, pos = 1, 0
    for m in _TOP_KEY.finditer(text):
        line_no += text.count("\n", pos, m.start())
        pos = m.start()
        key = m.group(1).strip()
        if len(key) > 1 and key[0] == key[-1] and key[0] in "\"'":
            key = key[1:-1]
        if key != "<<":
            lines.setdefault(key, []).append(line_no)
    found = tuple(Duplicate(k, tuple(ls)) for k, ls in lines.items() if len(ls) > 1)
    if len(_dup_cache) > 10_000:
        _dup_cache.clear()
    _dup_cache[digest] = found
    return found


_ALIAS = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s,\[\]{}]")
_COLUMN0 = re.compile(r"^[^\s#].*$", re.M)


@dataclass(frozen=True)
class Span:
    key: str  # the key as written (quotes removed)
    start: int  # offset of the key line
    end: int  # offset where the next top-level key (or the end of the text) starts


@functools.lru_cache(maxsize=16)
def top_spans(text: str) -> tuple[Span, ...] | None:
    """Each top-level entry of a block-mapping file by offsets, found line by line (linear, no YAML
    parse), or None when the file needs a real parse: anchors or aliases (an entry's value may live
    elsewhere), documents, flow style or anything else at column 0 that is no `key:` line."""
    if ("&" in text or "*" in text) and _ALIAS.search(text):
        return None
    keys = {m.start(): m for m in _TOP_KEY.finditer(text)}
    starts = []
    for m in _COLUMN0.finditer(text):
        if m.start() not in keys:
            return None  # "---", "[...]", a plain scalar: not a plain block mapping
        starts.append(m.start())
    spans = []
    for i, start in enumerate(starts):
        key = keys[start].group(1).strip()
        if len(key) > 1 and key[0] == key[-1] and key[0] in "\"'":
            key = key[1:-1]
        spans.append(Span(key, start, starts[i + 1] if i + 1 < len(starts) else len(text)))
    return tuple(spans)


def find_span(text: str, key: str) -> Span | None | bool:
    """The span of the entry SnowDDL deploys for `key` (the last copy; names compared case-insensitively);
    None when there is none, False when the file needs a real parse (see top_spans)."""
    spans = top_spans(text)
    if spans is None:
        return False
    found = None
    for span in spans:
        if span.key.upper() == key.upper():
            found = span
    return found


@functools.lru_cache(maxsize=256)
def load_entry(text: str, key: str) -> tuple[str, object] | None:
    """(key as written, value) of one entry as SnowDDL reads it, parsing only that entry's lines when
    the file allows (a 10 MB user.yaml costs what one user costs); None when there is no such entry."""
    span = find_span(text, key)
    if span is False:
        found = None
        for k, v in load(text).items():
            if str(k).upper() == key.upper():
                found = (str(k), v)
        return found
    if span is None:
        return None
    for k, v in load(text[span.start:span.end]).items():
        return str(k), v
    return None


def top_keys(text: str) -> list[str]:
    """The top-level keys as written, in file order (a line scan when the file allows)."""
    spans = top_spans(text)
    return [s.key for s in spans] if spans is not None else [str(k) for k in load(text)]


def normalise(rel: str) -> str:
    """The key SnowDDL's scanner files a path under: lower-case, no suffix ("User.yml" -> "user")."""
    path = Path(rel)
    return path.with_suffix("").as_posix().lower() if path.suffix in SUFFIXES else path.as_posix().lower()


def root_file(root: Path, kind: str, overlay: dict[str, str | None] | None = None) -> str:
    """The file (relative to the config folder) SnowDDL reads for a root file kind ("user", ...):
    the one present in any case and either suffix, or `<kind>.yaml` when there is none yet."""
    wanted = ROOT_FILES.get(kind, (kind,))
    present: dict[str, str] = {}
    try:
        names = os.listdir(root)
    except OSError:
        names = []
    for name in [*names, *(overlay or {})]:
        if "/" in name or Path(name).suffix not in SUFFIXES:
            continue
        if overlay and name in overlay and overlay[name] is None:
            continue
        if (Path(root) / name).is_file() or (overlay and overlay.get(name) is not None):
            present.setdefault(normalise(name), name)
    for stem in wanted:
        if stem in present:
            return present[stem]
    return f"{wanted[0]}.yaml"
