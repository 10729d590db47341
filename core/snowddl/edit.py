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


# -- edits inside one entry (a user's business_roles, a warehouse's size): only those lines change --

def _entry_mapping(text: str, key: str) -> tuple[Entry, yaml.MappingNode | None]:
    """The entry and its value node when that value is a block mapping (None for flow style)."""
    entry = _find(text, key)
    if entry is None:
        raise EditError(f"{key} does not exist")
    node = yaml.compose(text, Loader=_Loader)
    for k, v in node.value:
        if str(k.value).upper() == key.upper():
            if isinstance(v, yaml.MappingNode) and not v.flow_style:
                return entry, v
            return entry, None
    return entry, None  # not reached: _find found it


def _value_end(lines: list[str], start: int, value: yaml.Node) -> int:
    """One past the last line of a value that starts on line `start` (trailing blanks/comments excluded)."""
    line, col = value.end_mark.line, value.end_mark.column
    end = line if line >= len(lines) or not lines[line][:col].strip() else line + 1
    end = min(end, len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return max(end, start + 1)


def _render_field(subkey: str, value, indent: int, like: str) -> str:
    body = render_entry(subkey, value, like=like) if isinstance(value, (dict, list)) else yaml.dump(
        {subkey: value}, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True, width=math.inf
    )
    return "".join(" " * indent + line if line.strip() else line for line in body.splitlines(keepends=True))


def set_fields(text: str, key: str, values: dict) -> str:
    """Set (or with None, remove) keys of one entry; the other lines of the file stay byte-identical."""
    import copy

    entry, mapping = _entry_mapping(text, key)
    if mapping is None:  # a flow-style entry ({...}): re-render that entry only
        current = _current(text, entry.key)
        merged = copy.deepcopy(dict(current or {}))
        for k, v in values.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return replace_entry(text, entry.key, merged)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    indent = mapping.value[0][0].start_mark.column if mapping.value else 2
    spans: dict[str, tuple[int, int]] = {}
    for k, v in mapping.value:
        spans[str(k.value)] = (k.start_mark.line, _value_end(lines, k.start_mark.line, v))
    # Apply from the bottom up so earlier line numbers stay valid.
    edits: list[tuple[int, int, str]] = []
    appended = ""
    for subkey, value in values.items():
        if subkey in spans:
            start, end = spans[subkey]
            edits.append((start, end, "" if value is None else _render_field(subkey, value, indent, text)))
        elif value is not None:
            appended += _render_field(subkey, value, indent, text)
    if appended:
        edits.append((entry.end, entry.end, appended))
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[start:end] = [new] if new else []
    return "".join(lines)


def _block_sequence(text: str, key: str, subkey: str):
    entry, mapping = _entry_mapping(text, key)
    if mapping is None:
        return entry, None
    for k, v in mapping.value:
        if str(k.value) == subkey:
            return entry, v if isinstance(v, yaml.SequenceNode) and not v.flow_style and v.value else None
    return entry, None


def _current(text: str, key: str) -> dict:
    data = yaml.safe_load(text) or {}
    for k, v in data.items():
        if str(k).upper() == key.upper():
            return dict(v or {})
    raise EditError(f"{key} does not exist")


def _scalar(item: str) -> str:
    return yaml.dump(item, Dumper=yaml.SafeDumper, allow_unicode=True, width=math.inf).removesuffix("...\n").strip()


def add_list_items(text: str, key: str, subkey: str, items: list[str], comments: dict[str, str] | None = None) -> str:
    """Append items to a list of one entry, one line each (with an optional trailing comment)."""
    comments = comments or {}
    _, seq = _block_sequence(text, key, subkey)
    if seq is None:  # absent, empty or flow style: write the whole list
        current = _current(text, key).get(subkey) or []
        new = text if not current else set_fields(text, key, {subkey: None})
        new = set_fields(new, key, {subkey: list(current) + list(items)})
        if comments:  # now a block list: add the comments on the new items' lines
            return _comment_items(new, key, subkey, comments)
        return new
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    last = seq.value[-1]
    first_line = lines[seq.value[0].start_mark.line]
    dash = first_line[: first_line.index("-")]
    insert_at = _value_end(lines, last.start_mark.line, last)
    new = [f"{dash}- {_scalar(item)}" + (f"  # {comments[item]}" if item in comments else "") + "\n" for item in items]
    lines[insert_at:insert_at] = new
    return "".join(lines)


def _comment_items(text: str, key: str, subkey: str, comments: dict[str, str]) -> str:
    _, seq = _block_sequence(text, key, subkey)
    lines = text.splitlines(keepends=True)
    for node in seq.value:
        if str(node.value) in comments and "#" not in lines[node.start_mark.line]:
            line = lines[node.start_mark.line].rstrip("\n")
            lines[node.start_mark.line] = f"{line}  # {comments[str(node.value)]}\n"
    return "".join(lines)


def remove_list_items(text: str, key: str, subkey: str, items: list[str], drop_empty: bool = True) -> str:
    """Remove items (compared case-insensitively) from a list of one entry; the key goes when it empties."""
    wanted = {i.upper() for i in items}
    _, seq = _block_sequence(text, key, subkey)
    current = _current(text, key).get(subkey) or []
    remaining = [i for i in current if str(i).upper() not in wanted]
    if seq is None or (drop_empty and not remaining):
        return set_fields(text, key, {subkey: remaining or (None if drop_empty else [])})
    lines = text.splitlines(keepends=True)
    for node in reversed(seq.value):
        if str(node.value).upper() in wanted:
            start = node.start_mark.line
            del lines[start:_value_end(lines, start, node)]
    return "".join(lines)
