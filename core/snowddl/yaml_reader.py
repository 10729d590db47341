"""The one reader of a config's YAML text, and where SnowDDL finds each file.

Everything SnowTower reads out of a config (recipes, edits, pickers, line numbers of errors) goes
through here, so it accepts what SnowDDL's own loader accepts: its tags (`!decrypt`, `!include`,
`!encrypt`: read as their text, never decrypted or followed), anchors, aliases and merge keys
(`<<: *x`), duplicate keys (the LAST copy wins, as in PyYAML and so in SnowDDL), CRLF line ends.

File names are found the way SnowDDL's DirectoryScanner finds them: `.yml` or `.yaml`, any case of the
name (`User.yaml`), and the old names SnowDDL still reads (`tech_role` for `technical_role`).

Use it for the values or lines of one file's text; a whole folder through SnowDDL's parsers and
validators is core.snowddl.config_loader, a config as of one commit core.snowddl.commit_snapshot.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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


if TYPE_CHECKING:
    from yaml import CSafeLoader as _SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when PyYAML has it


class Loader(_SafeLoader):
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


@functools.lru_cache(maxsize=16)
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


_TOP_KEY = re.compile(r"""^("[^"\n]*"|'[^'\n]*'|[^\s#\-\[{&*!|>'"%@`][^:#\n]*?)[ \t]*:(?:[ \t]|$)""", re.M)
_KEY_AT = re.compile(r"""("[^"\n]*"|'[^'\n]*'|[^\s#\-\[{&*!|>'"%@`?][^:#\n]*?)[ \t]*:(?:[ \t]+|$)""")
_dup_cache: dict[bytes, tuple[Duplicate, ...]] = {}


def _unquote(key: str) -> str:
    key = key.strip().lstrip("\ufeff")
    return key[1:-1] if len(key) > 1 and key[0] == key[-1] and key[0] in "\"'" else key


def duplicate_keys(text: str) -> tuple[Duplicate, ...]:
    """Keys written more than once in one block mapping, at any depth (top-level names compared
    case-insensitively, as SnowDDL upper-cases them), with each copy's 1-based line. A line scan
    (linear, fit for 10 MB user files) that follows indentation, list items and block scalars;
    flow collections are not looked into."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    hit = _dup_cache.get(digest)
    if hit is not None:
        return hit
    # Each open mapping: [indent, path, {key: [key as written, lines]}, last key]
    stack: list[list] = [[0, "", {}, ""]]
    found: list[Duplicate] = []
    scalar_indent = None  # inside a block scalar (| or >) opened at this key indent

    def close(frame):
        found.extend(Duplicate(f"{frame[1]}.{k}" if frame[1] else k, tuple(ls)) for k, ls in frame[2].values() if len(ls) > 1)

    for number, line in enumerate(text.split("\n"), 1):
        body = line.rstrip("\r")
        stripped = body.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(body) - len(stripped)
        if scalar_indent is not None:
            if indent > scalar_indent:
                continue
            scalar_indent = None
        if indent == 0 and stripped.startswith(("---", "...", "%")):
            continue
        column = indent
        if stripped.startswith("- ") or stripped == "-":  # a list item: a new mapping may start inside it
            while len(stack) > 1 and stack[-1][0] > indent:
                close(stack.pop())
            rest = stripped[1:].lstrip(" ")
            column = indent + len(stripped) - len(rest)
            stripped = rest
            m = _KEY_AT.match(stripped)
            if not m:
                continue
            parent = stack[-1]
            stack.append([column, f"{parent[1]}.{parent[3]}" if parent[1] else parent[3], {}, ""])
        else:
            m = _KEY_AT.match(stripped)
            if not m:
                continue
            while len(stack) > 1 and stack[-1][0] > indent:
                close(stack.pop())
            if stack[-1][0] < indent:  # a nested mapping under the last key
                parent = stack[-1]
                stack.append([indent, f"{parent[1]}.{parent[3]}" if parent[1] else parent[3], {}, ""])
        frame = stack[-1]
        key = _unquote(m.group(1))
        if key != "<<":
            ident = key.upper() if len(stack) == 1 else key
            copies = frame[2].setdefault(ident, [key, []])
            copies[0] = key  # reported as the last copy writes it
            copies[1].append(number)
            frame[3] = key
        value = stripped[m.end():].split(" #")[0].strip()
        if value[:1] in ("|", ">"):
            scalar_indent = column
    while stack:
        close(stack.pop())
    result = tuple(sorted(found, key=lambda d: d.lines))
    if len(_dup_cache) > 10_000:
        _dup_cache.clear()
    _dup_cache[digest] = result
    return result


_ALIAS = re.compile(r"(?:^|[\s\[{,:-])[&*][^\s,\[\]{}]")
_COLUMN0 = re.compile(r"^[^\s#].*$", re.M)


@dataclass(frozen=True)
class Span:
    key: str  # the key as written (quotes removed)
    start: int  # offset of the key line
    end: int  # offset where the next top-level key (or the end of the text) starts


@functools.lru_cache(maxsize=4)  # texts can be 10 MB: only the few being edited are kept
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
        key = _unquote(keys[start].group(1))
        spans.append(Span(key, start, starts[i + 1] if i + 1 < len(starts) else len(text)))
    return tuple(spans)


def find_span(text: str, key: str) -> Span | None | Literal[False]:
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


@functools.lru_cache(maxsize=64)
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


def node_line(node: yaml.Node | None, keys: list) -> int | None:
    """The 1-based line of the key path `keys` in a composed tree (mapping keys compared
    case-insensitively, list items by int index): the line of the deepest key found; None for no tree."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value).upper() == str(key).upper():
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def line_of(text: str, keys: list) -> int | None:
    """The 1-based line of the key path `keys` (e.g. ["JDOE", "business_roles", 1]) in `text`, as
    node_line finds it; only the entry of `keys[0]` is parsed when the file allows (find_span). None
    when the text is no YAML or has no entry `keys[0]`."""
    offset, chunk = 0, text
    span = find_span(text, str(keys[0])) if keys else False
    if span is None:
        return None
    if span:
        offset, chunk = text.count("\n", 0, span.start), text[span.start:span.end]
    try:
        node = compose(chunk)
    except ReadError:
        return None
    if keys and not (isinstance(node, yaml.MappingNode) and any(str(k.value).upper() == str(keys[0]).upper() for k, _ in node.value)):
        return None
    line = node_line(node, keys)
    return None if line is None else line + offset


def top_keys(text: str) -> list[str]:
    """The top-level keys as written, in file order (a line scan when the file allows)."""
    spans = top_spans(text)
    return [s.key for s in spans] if spans is not None else [str(k) for k in load(text)]


def normalise(rel: str) -> str:
    """The key SnowDDL's scanner files a path under: lower-case, no suffix ("User.yml" -> "user")."""
    path = Path(rel)
    return path.with_suffix("").as_posix().lower() if path.suffix in SUFFIXES else path.as_posix().lower()


def suffix_of(root: Path) -> str:
    """The suffix the config's own root files use (".yml" when most do), for files a recipe creates."""
    try:
        names = os.listdir(root)
    except OSError:
        return ".yaml"
    yml = sum(1 for n in names if n.endswith(".yml"))
    return ".yml" if yml > sum(1 for n in names if n.endswith(".yaml")) else ".yaml"


def root_file(root: Path, kind: str, overlay: dict[str, str | None] | None = None) -> str:
    """The file (relative to the config folder) SnowDDL reads for a root file kind ("user", ...):
    the one present in any case and either suffix, or `<kind>` with the config's usual suffix
    (suffix_of) when there is none yet."""
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
    return wanted[0] + suffix_of(root)
