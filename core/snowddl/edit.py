"""Minimal-diff edits of SnowDDL's one-object-per-key files (user.yaml, warehouse.yaml, ...).

Edits splice text: the lines of the entry being added, replaced or removed change, and every other
byte of the file (comments, key order, quoting, blank lines, anchors) stays as it was. Positions come
from PyYAML's composer, so anything YAML accepts is located correctly; new entries are rendered with
PyYAML's safe dumper, so any value is quoted as YAML requires.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import yaml

from core.snowddl import yaml_reader


class EditError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    key: str
    start: int  # index of the entry's first line (the key line)
    end: int  # index one past the entry's last content line


_Loader = yaml_reader.Loader  # the one reader: SnowDDL's tags, anchors, merge keys, duplicate keys

class _IndentedDumper(yaml.SafeDumper):
    """Dumps block lists indented under their key ("key:\n  - a"), the style of SnowDDL's samples."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


_SCAN_ABOVE = 64_000  # characters


def _scanned_entries(spans: tuple[yaml_reader.Span, ...], text: str) -> list[Entry]:
    out: list[Entry] = []
    line, pos = 0, 0
    for span in spans:
        line += text.count("\n", pos, span.start)
        pos = span.start
        seg = text[span.start:span.end].split("\n")
        end = len(seg) - (1 if seg[-1] == "" else 0)
        while end > 1 and (not seg[end - 1].strip() or seg[end - 1].startswith("#")):
            end -= 1
        out.append(Entry(span.key, line, line + end))
    return out


def entries(text: str) -> list[Entry]:
    """The top-level entries of a mapping file, in file order. Large files that are plain block mappings
    are scanned line by line (linear; a YAML error elsewhere in them is left to validation, which
    reports it with its line); others go through PyYAML's composer, which refuses invalid YAML here."""
    spans = yaml_reader.top_spans(text) if len(text) > _SCAN_ABOVE else None
    if spans is not None:
        return _scanned_entries(spans, text)
    node = _compose(text)
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode):
        raise EditError("the file's top level is not a mapping of names to objects")
    lines = text.splitlines(keepends=True)
    result: list[Entry] = []
    for key_node, value_node in node.value:
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


def _compose(text: str):
    try:
        return yaml_reader.compose(text)
    except yaml_reader.ReadError as exc:
        raise EditError(str(exc)) from None


def _find(text: str, key: str) -> Entry | None:
    """The entry SnowDDL deploys: the LAST one of that name (YAML keeps the last copy of a duplicate key)."""
    found = None
    for entry in entries(text):
        if entry.key.upper() == key.upper():
            found = entry
    return found


def _indentless_lists(text: str) -> bool:
    """True when the file writes lists at their key's indentation ("key:\n- a")."""
    lines = text.splitlines()
    for prev, line in zip(lines, lines[1:], strict=False):
        m = re.match(r"(\s*)\S[^#]*:\s*$", prev)
        if m and line.startswith(m.group(1) + "- "):
            return True
        if m and re.match(re.escape(m.group(1)) + r"\s+- ", line):
            return False
    return False


def _indent_of(text: str) -> int:
    """The file's own indentation step: the indentation of the first nested key (2 when there is none)."""
    for line in text.splitlines():
        m = re.match(r"( +)[^\s#-]", line)
        if m:
            return max(1, min(len(m.group(1)), 8))
    return 2


def render_entry(key: str, value: dict | list, like: str = "") -> str:
    dumper = yaml.SafeDumper if _indentless_lists(like) else _IndentedDumper
    return yaml.dump(
        {key: value}, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=math.inf,
        indent=_indent_of(like),
    )


def _blank_between(text: str, found: list[Entry]) -> bool:
    lines = text.splitlines()
    if len(found) < 2:
        return True
    prev, last = found[-2], found[-1]
    return any(not line.strip() for line in lines[prev.end : last.start])


def _file_style(edit=None, *, local: bool = False):
    """Edits work on LF text that ends with a newline; the file's own style is put back afterwards:
    a CRLF file stays CRLF, a file without a final newline gets none (so no other line changes).

    `local`: the edit changes one entry only (its key is the first argument after the text); it then
    works on that entry's lines alone when the file allows (no anchors, a plain block mapping), so a
    change to a 10 MB user.yaml costs what a change to one user costs."""
    if edit is None:
        return functools.partial(_file_style, local=local)

    @functools.wraps(edit)
    def wrapper(text: str, *args, **kwargs) -> str:
        crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
        work = text.replace("\r\n", "\n") if crlf else text
        open_end = bool(work) and not work.endswith("\n")
        if open_end:
            work += "\n"
        span = yaml_reader.find_span(work, args[0]) if local and args else False
        if span is None:
            raise EditError(f"{args[0]} does not exist")
        if span is not False and (span.start > 0 or span.end < len(work)):
            out = work[:span.start] + edit(work[span.start:span.end], *args, **kwargs) + work[span.end:]
        else:
            out = edit(work, *args, **kwargs)
        if open_end and out.endswith("\n"):
            out = out[:-1]
        return out.replace("\n", "\r\n") if crlf else out

    return wrapper


_ANCHOR = re.compile(r"(^|[\s:\[{,-])&[^\s,\[\]{}]+")


def _checked(before: str, after: str, key: str) -> str:
    """The edited text, if it is still YAML and no other entry changed with it: an entry whose anchor
    another entry uses (an alias or a merge key) cannot be edited here without changing that entry too."""
    try:
        yaml.compose(after, Loader=_Loader)
    except yaml.YAMLError as exc:
        if "alias" in str(exc):
            raise EditError(f"{key} defines an anchor that another entry uses (an alias): edit that entry too, by hand") from None
        raise EditError(f"the edit would make the file invalid YAML: {exc}") from None
    if _ANCHOR.search(before):
        old, new = yaml_reader.load(before), yaml_reader.load(after)
        others = [k for k in set(old) | set(new) if str(k).upper() != key.upper() and old.get(k) != new.get(k)]
        if others:
            raise EditError(f"{key} shares values with {', '.join(sorted(map(str, others)))} through a YAML anchor "
                            "or merge key: this change would change them too; edit the file by hand")
    return after


@_file_style
def add_entry(text: str, key: str, value: dict) -> str:
    found = entries(text)
    if any(e.key.upper() == key.upper() for e in found):
        raise EditError(f"{key} already exists")
    root = _compose(text) if text.lstrip().startswith(("{", "---")) else None
    if isinstance(root, yaml.MappingNode) and root.flow_style and root.value:
        # The whole file is one flow mapping ({a: {...}, b: {...}}): the entry joins it, in flow style.
        last_key, last_value = root.value[-1]
        at = last_value.end_mark.index
        sep = ", " if last_key.start_mark.line == root.start_mark.line else ",\n" + " " * last_key.start_mark.column
        return text[:at] + f"{sep}{_scalar(key)}: {_flow_value(value, sort_keys=False)}" + text[at:]
    rendered = render_entry(key, value, like=text)
    if not text.strip() or text.strip() in ("{}",):
        return rendered if not text.strip() else text.replace("{}", "").rstrip("\n") + "\n" + rendered
    # A document end marker ("...") closes the mapping: the new entry goes before it.
    end = re.search(r"^\.\.\.[ \t]*(#.*)?\n(?:[ \t]*(#.*)?\n)*\Z", text, re.M)
    out, tail = (text[:end.start()], text[end.start():]) if end else (text, "")
    blank = _blank_between(text, found) and not out.endswith("\n\n")
    if blank and _KEEP_CHOMPING.search(text):
        # A block scalar kept with its trailing newlines (`|+`) would take the blank line as its own.
        before = yaml_reader.load(text)
        if {k: v for k, v in yaml_reader.load(out + "\n" + rendered + tail).items() if k != key} != before:
            blank = False
    return out + ("\n" if blank else "") + rendered + tail


_KEEP_CHOMPING = re.compile(r"[|>][1-9]?\+[ \t]*(#.*)?$", re.M)


@_file_style(local=True)
def replace_entry(text: str, key: str, value: dict) -> str:
    entry = _find(text, key)
    if entry is None:
        raise EditError(f"{key} does not exist")
    lines = text.splitlines(keepends=True)
    rendered = render_entry(entry.key, value, like=text)
    _refuse_placeholders("".join(lines[entry.start:entry.end]), key)
    tail = lines[entry.end :]
    return _checked(text, "".join(lines[: entry.start]) + rendered + "".join(tail), key)


@_file_style
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


def _refuse_placeholders(old: str, key: str) -> None:
    """A `${{ placeholder }}` is filled per environment by SnowDDL: a recipe never overwrites one."""
    if "${{" in old:
        raise EditError(f"{key}: the value to change is a SnowDDL placeholder (${{{{ ... }}}}), set per environment; "
                        "change it in placeholder.yaml or by hand")


# -- edits inside one entry (a user's business_roles, a warehouse's size): only those lines change --

def _entry_node(text: str, key: str) -> tuple[Entry, yaml.Node | None]:
    """The entry SnowDDL deploys (the last copy) and its value node."""
    entry = _find(text, key)
    if entry is None:
        raise EditError(f"{key} does not exist")
    node = _compose(text)
    value = None
    for k, v in node.value:
        if str(k.value).upper() == key.upper():
            value = v  # the last copy, as _find
    return entry, value


def _entry_mapping(text: str, key: str) -> tuple[Entry, yaml.MappingNode | None]:
    """The entry and its value node when that value is a block mapping (None for flow style)."""
    entry, v = _entry_node(text, key)
    if isinstance(v, yaml.MappingNode) and not v.flow_style:
        return entry, v
    return entry, None


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


def _offset(lines: list[str], mark) -> int:
    """The character offset of a composer mark (line and column) in the joined lines."""
    return sum(len(line) for line in lines[: mark.line]) + mark.column


def _flow_field(text: str, key: str, subkey: str):
    """(key node, value node) of `subkey` in an entry written as a flow mapping ({a: 1, b: [x]})."""
    _, v = _entry_node(text, key)
    if isinstance(v, yaml.MappingNode) and v.flow_style:
        found = (v, None, None)
        for k, val in v.value:
            if str(k.value) == subkey:
                found = (v, k, val)  # the last copy, as YAML reads it
        return found
    return None, None, None


def _splice(text: str, start_mark, end_mark, new: str, expect: str | None = None) -> str:
    lines = text.splitlines(keepends=True)
    a, b = _offset(lines, start_mark), _offset(lines, end_mark)
    if expect is not None and not text[a:b].startswith(expect):
        raise EditError("could not locate the value in the file; edit it by hand")
    return text[:a] + new + text[b:]


@_file_style(local=True)
def set_fields(text: str, key: str, values: dict) -> str:
    """Set (or with None, remove) keys of one entry; the other lines of the file stay byte-identical.
    A key the entry also gets through a YAML merge key (`<<: *defaults`) would come back from there if
    only its own copy went, and SnowDDL refuses empty lists (`business_roles: []`): removing it is
    refused (EditError) instead of silently changing nothing."""
    out = _set_fields(text, key, values)
    removed = [k for k, v in values.items() if v is None]
    if not removed or "<<" not in text:  # no merge key: a removed key is gone
        return out
    inherited = [k for k in removed if k in _current(out, key)]
    if inherited:
        raise EditError(f"{key} gets {', '.join(inherited)} through a YAML merge key (<<) that other entries share: "
                        "it cannot be removed from this entry alone; edit the file by hand")
    return out


def _set_fields(text: str, key: str, values: dict) -> str:
    import copy

    entry, mapping = _entry_mapping(text, key)
    if mapping is None:
        flow, _, _ = _flow_field(text, key, "")
        if flow is not None:  # a flow-style entry ({...}): change its fields in place, in flow style
            return _checked(text, _set_flow_fields(text, key, values), key)
        current = _current(text, entry.key)
        merged = copy.deepcopy(dict(current or {}))
        for k, v in values.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return replace_entry(text, entry.key, merged)
    lines = text.splitlines(keepends=True)
    indent = mapping.value[0][0].start_mark.column if mapping.value else _indent_of(text)
    spans: dict[str, list[tuple[int, int]]] = {}
    for k, v in mapping.value:
        spans.setdefault(str(k.value), []).append((k.start_mark.line, _value_end(lines, k.start_mark.line, v)))
    # Apply from the bottom up so earlier line numbers stay valid.
    edits: list[tuple[int, int, str]] = []
    appended = ""
    for subkey, value in values.items():
        if subkey in spans:
            # A key written twice: SnowDDL reads the last copy, which is set; removing removes every copy
            # (else an earlier one would come back into effect).
            copies = spans[subkey] if value is None else spans[subkey][-1:]
            for start, end in copies:
                _refuse_placeholders("".join(lines[start:end]), key)
                edits.append((start, end, "" if value is None else _render_field(subkey, value, indent, text)))
        elif value is not None:
            appended += _render_field(subkey, value, indent, text)
    if appended:
        at = entry.end
        last = mapping.value[-1][0] if mapping.value else None
        if last is not None and _KEEP_CHOMPING.search(lines[last.start_mark.line]):
            at = last.start_mark.line  # a kept block scalar (|+) owns the blank lines after it: add above it
        edits.append((at, at, appended))
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[start:end] = [new] if new else []
    return _checked(text, "".join(lines), key)


def _flow_value(value, sort_keys: bool = True) -> str:
    return yaml.dump(value, Dumper=yaml.SafeDumper, default_flow_style=True, allow_unicode=True,
                     width=math.inf, sort_keys=sort_keys).removesuffix("...\n").strip()


def _set_flow_fields(text: str, key: str, values: dict) -> str:
    """set_fields on an entry written {a: 1, b: 2}: each field's value is replaced in place, removed
    fields go with their comma, new ones are added before the closing brace."""
    for subkey, value in values.items():
        flow, k, v = _flow_field(text, key, subkey)
        lines = text.splitlines(keepends=True)
        if k is not None:
            _refuse_placeholders(text[_offset(lines, v.start_mark):_offset(lines, v.end_mark)], key)
        if k is not None and value is not None:
            text = _splice(text, v.start_mark, v.end_mark, _flow_value(value))
        elif k is not None:
            items = flow.value
            i = next(n for n, (kk, _) in enumerate(items) if kk is k)
            a, b = _offset(lines, k.start_mark), _offset(lines, v.end_mark)
            if i + 1 < len(items):  # up to the next key
                b = _offset(lines, items[i + 1][0].start_mark)
            elif i > 0:  # the last one: from the end of the previous value
                a = _offset(lines, items[i - 1][1].end_mark)
            text = text[:a] + text[b:]
        elif value is not None:
            close = _offset(lines, flow.end_mark) - 1
            if text[close] != "}":
                raise EditError("could not locate the value in the file; edit it by hand")
            sep = ", " if flow.value else ""
            if flow.value:
                close = _offset(lines, flow.value[-1][1].end_mark)
            text = text[:close] + f"{sep}{subkey}: {_flow_value(value)}" + text[close:]
    return text


def _block_sequence(text: str, key: str, subkey: str):
    entry, mapping = _entry_mapping(text, key)
    if mapping is None:
        return entry, None
    found = None
    for k, v in mapping.value:
        if str(k.value) == subkey:  # the last copy, as YAML reads it
            found = v if isinstance(v, yaml.SequenceNode) and not v.flow_style and v.value else None
    return entry, found


def _sequence(text: str, key: str, subkey: str) -> yaml.SequenceNode | None:
    """The list node of `subkey` in the entry, in whichever style it is written (None if absent)."""
    _, v = _entry_node(text, key)
    found = None
    if isinstance(v, yaml.MappingNode):
        for k, val in v.value:
            if str(k.value) == subkey:  # the last copy, as YAML reads it
                found = val if isinstance(val, yaml.SequenceNode) else None
    return found


def _own_flow_sequence(text: str, key: str, subkey: str):
    """The list node of `subkey` as `_sequence` finds it; False when it is a flow list not written in
    place as `[...]` (an alias of another entry's list, or one carrying an anchor), which a splice
    cannot edit."""
    seq = _sequence(text, key, subkey)
    if seq is not None and seq.flow_style:
        lines = text.splitlines(keepends=True)
        if not text[_offset(lines, seq.start_mark):].startswith("["):
            return False
        entry = _find(text, key)
        if entry is not None and not entry.start <= seq.start_mark.line < entry.end:
            return False
    return seq


def _current(text: str, key: str) -> dict:
    try:
        data = yaml_reader.load(text)
    except yaml_reader.ReadError as exc:
        raise EditError(str(exc)) from None
    found = None
    for k, v in data.items():
        if str(k).upper() == key.upper():
            found = v if isinstance(v, dict) else {}
    if found is None:
        raise EditError(f"{key} does not exist")
    return dict(found)


def _scalar(item: str) -> str:
    return yaml.dump(item, Dumper=yaml.SafeDumper, allow_unicode=True, width=math.inf).removesuffix("...\n").strip()


def _flow_items(text: str, seq: yaml.SequenceNode) -> list[str]:
    """The source text of each item of a flow list, exactly as written."""
    lines = text.splitlines(keepends=True)
    return [text[_offset(lines, n.start_mark):_offset(lines, n.end_mark)] for n in seq.value]


@_file_style(local=True)
def add_list_items(text: str, key: str, subkey: str, items: list[str], comments: dict[str, str] | None = None) -> str:
    """Append items to a list of one entry, one line each (with an optional trailing comment).
    A flow list ([a, b]) stays a flow list, with the comment of its line kept."""
    comments = comments or {}
    seq = _own_flow_sequence(text, key, subkey)
    if seq is False:  # an alias (*roles) or an anchored list (&roles [...]): the entry gets its own list
        return set_fields(text, key, {subkey: list(_current(text, key).get(subkey) or []) + list(items)})
    if seq is not None and seq.flow_style:
        written = _flow_items(text, seq) + [_scalar(i) for i in items]
        new = _checked(text, _splice(text, seq.start_mark, seq.end_mark, "[" + ", ".join(written) + "]", "["), key)
        if comments:
            note = "; ".join(comments[i] for i in items if i in comments)
            line = seq.start_mark.line
            lines = new.splitlines(keepends=True)
            lines[line] = lines[line].rstrip("\n") + (" " if "#" in lines[line] else "  # ") + note + "\n"
            new = "".join(lines)
        return new
    flow, k, _ = _flow_field(text, key, subkey)
    if flow is not None:
        return set_fields(text, key, {subkey: list(_current(text, key).get(subkey) or []) + list(items)})
    _, seq = _block_sequence(text, key, subkey)
    if seq is None:  # absent or empty: write the whole list
        current = _current(text, key).get(subkey) or []
        _, own = _entry_mapping(text, key)
        written_here = own is not None and any(str(k.value) == subkey for k, _ in own.value)
        # A list the entry only gets through a merge key (<<) is overridden here, not removed first.
        new = set_fields(text, key, {subkey: None}) if current and written_here else text
        new = set_fields(new, key, {subkey: list(current) + list(items)})
        if comments:  # now a block list: add the comments on the new items' lines
            return _comment_items(new, key, subkey, comments)
        return new
    lines = text.splitlines(keepends=True)
    last = seq.value[-1]
    first_line = lines[seq.value[0].start_mark.line]
    dash = first_line[: first_line.index("-")]
    insert_at = _value_end(lines, last.start_mark.line, last)
    added = [f"{dash}- {_scalar(item)}" + (f"  # {comments[item]}" if item in comments else "") + "\n" for item in items]
    lines[insert_at:insert_at] = added
    return _checked(text, "".join(lines), key)


def _comment_items(text: str, key: str, subkey: str, comments: dict[str, str]) -> str:
    _, seq = _block_sequence(text, key, subkey)
    lines = text.splitlines(keepends=True)
    for node in seq.value:
        if str(node.value) in comments and "#" not in lines[node.start_mark.line]:
            line = lines[node.start_mark.line].rstrip("\n")
            lines[node.start_mark.line] = f"{line}  # {comments[str(node.value)]}\n"
    return "".join(lines)


@_file_style(local=True)
def remove_list_items(text: str, key: str, subkey: str, items: list[str], drop_empty: bool = True) -> str:
    """Remove items (compared case-insensitively) from a list of one entry; the key goes when it empties.
    A flow list ([a, b]) stays a flow list, with the comment of its line kept."""
    wanted = {i.upper() for i in items}
    current = _current(text, key).get(subkey) or []
    remaining = [i for i in current if str(i).upper() not in wanted]
    seq = _own_flow_sequence(text, key, subkey)
    if seq is False:  # an alias (*roles) or an anchored list (&roles [...]): the entry gets its own list
        return set_fields(text, key, {subkey: remaining or (None if drop_empty else [])})
    if seq is not None and seq.flow_style and (remaining or not drop_empty):
        kept = [src for src, n in zip(_flow_items(text, seq), seq.value, strict=False) if str(n.value).upper() not in wanted]
        return _checked(text, _splice(text, seq.start_mark, seq.end_mark, "[" + ", ".join(kept) + "]", "["), key)
    _, seq = _block_sequence(text, key, subkey)
    if seq is None or (drop_empty and not remaining):
        return set_fields(text, key, {subkey: remaining or (None if drop_empty else [])})
    lines = text.splitlines(keepends=True)
    for node in reversed(seq.value):
        if str(node.value).upper() in wanted:
            start = node.start_mark.line
            del lines[start:_value_end(lines, start, node)]
    return _checked(text, "".join(lines), key)
