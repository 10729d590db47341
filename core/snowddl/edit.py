"""Minimal-diff edits of SnowDDL's one-object-per-key files (user.yaml, warehouse.yaml, ...).

Edits splice text: the lines of the entry being added, replaced or removed change, and every other
byte of the file (comments, key order, quoting, blank lines, anchors) stays as it was. Positions come
from PyYAML's composer, so anything YAML accepts is located correctly; new entries are rendered with
PyYAML's safe dumper, so any value is quoted as YAML requires.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import yaml


class EditError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    key: str
    start: int  # index of the entry's first line (the key line)
    end: int  # index one past the entry's last content line


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Composes any tag (SnowDDL's !include / !decrypt) without constructing it."""


class _IndentedDumper(yaml.SafeDumper):
    """Dumps block lists indented under their key ("key:\n  - a"), the style of SnowDDL's samples."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def entries(text: str) -> list[Entry]:
    """The top-level entries of a mapping file, in file order."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise EditError(f"the file is not valid YAML: {exc}") from None
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode):
        raise EditError("the file's top level is not a mapping of names to objects")
    lines = text.splitlines(keepends=True)
    result: list[Entry] = []
    for i, (key_node, value_node) in enumerate(node.value):
        start = key_node.start_mark.line
        end = value_node.end_mark.line
        # The composer's end mark sits at the start of the next token: step back over blank lines
        # and unindented comments, which belong to whatever follows (indented ones are the entry's).
        if value_node.end_mark.column == 0 or end >= len(lines):
            end = min(end, len(lines))
        else:
            end += 1
        while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1
        result.append(Entry(str(key_node.value), start, end))
    return result


def _find(text: str, key: str) -> Entry | None:
    for entry in entries(text):
        if entry.key.upper() == key.upper():
            return entry
    return None


def _indentless_lists(text: str) -> bool:
    """True when the file writes lists at their key's indentation ("key:\n- a")."""
    lines = text.splitlines()
    for prev, line in zip(lines, lines[1:]):
        m = re.match(r"(\s*)\S[^#]*:\s*$", prev)
        if m and line.startswith(m.group(1) + "- "):
            return True
        if m and re.match(re.escape(m.group(1)) + r"\s+- ", line):
            return False
    return False


def render_entry(key: str, value: dict, like: str = "") -> str:
    dumper = yaml.SafeDumper if _indentless_lists(like) else _IndentedDumper
    return yaml.dump(
        {key: value}, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=math.inf, indent=2
    )


def _blank_between(text: str, found: list[Entry]) -> bool:
    lines = text.splitlines()
    if len(found) < 2:
        return True
    prev, last = found[-2], found[-1]
    return any(not line.strip() for line in lines[prev.end : last.start])


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _checked(before: str, after: str, key: str) -> str:
    """The edited text, if it is still YAML: an entry whose anchor another entry uses cannot go."""
    try:
        yaml.compose(after, Loader=_Loader)
    except yaml.YAMLError as exc:
        if "alias" in str(exc):
            raise EditError(f"{key} defines an anchor that another entry uses (an alias): edit that entry too, by hand") from None
        raise EditError(f"the edit would make the file invalid YAML: {exc}") from None
    return after


def add_entry(text: str, key: str, value: dict) -> str:
    found = entries(text)
    if any(e.key.upper() == key.upper() for e in found):
        raise EditError(f"{key} already exists")
    nl = _newline(text)
    rendered = render_entry(key, value, like=text).replace("\n", nl)
    if not text.strip() or text.strip() in ("{}",):
        return rendered if not text.strip() else text.replace("{}", "").rstrip("\r\n") + nl + rendered
    out = text if text.endswith("\n") else text + nl
    if _blank_between(text, found) and not out.endswith(nl + nl):
        out += nl
    return out + rendered


def replace_entry(text: str, key: str, value: dict) -> str:
    entry = _find(text, key)
    if entry is None:
        raise EditError(f"{key} does not exist")
    lines = text.splitlines(keepends=True)
    rendered = render_entry(entry.key, value, like=text).replace("\n", _newline(text))
    tail = lines[entry.end :]
    return _checked(text, "".join(lines[: entry.start]) + rendered + "".join(tail), key)


def remove_entry(text: str, key: str) -> str:
    entry = _find(text, key)
    if entry is None:
        raise EditError(f"{key} does not exist")
    lines = text.splitlines(keepends=True)
    start, end = entry.start, entry.end
    # Take one separating blank line with the entry so the spacing of the rest stays even.
    if end < len(lines) and not lines[end].strip():
        end += 1
    elif start > 0 and not lines[start - 1].strip():
        start -= 1
    return _checked(text, "".join(lines[:start] + lines[end:]), key)
