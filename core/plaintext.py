"""Text that people typed, made safe to show inside Markdown: the portal's widgets and the bodies and
comments GitHub renders. Whatever the text holds (links, images, headings, HTML, badges, backticks,
HTML comment delimiters), it comes out as the characters typed, never as formatting.
"""
from __future__ import annotations

import re

# Characters that start formatting anywhere in a line: code, emphasis, links and images, HTML and
# entities, table cells, strikethrough, LaTeX ($), mentions (@); an underscore only at a word's edge
# (CommonMark never emphasises inside a word, so JANE_DOE stays as it is).
_INLINE = re.compile(r"([\\`*\[\]<>|~$&@])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# What starts a block at the start of a line: headings, quotes, lists, thematic breaks.
_LEADING = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
ZERO_WIDTH_SPACE = "\u200b"


def md_escape(text: object, *, starts_line: bool = False) -> str:
    """`text` on one line, backslash-escaped where Markdown (CommonMark, GitHub's, Streamlit's) would
    read it as formatting, so it renders as typed: no links or autolinks, images, headings, HTML,
    badges, colours or LaTeX. Line breaks become spaces (for labels, titles, table cells, messages).
    `starts_line`: the text begins a line of the Markdown, where "# ", "> ", "- ", "1. " start blocks."""
    out = _INLINE.sub(lambda m: "\\" + m.group(0), " ".join(str(text).splitlines()))
    out = re.sub(r":(?=[A-Za-z])", r"\\:", out)  # Streamlit's :red[...] colours, :red-badge[...] badges, :icons:
    # Autolinks (GFM's https://..., www.... and name@host) are found in the text after escapes are read,
    # by Streamlit's renderer and GitHub's alike: a zero-width space inside each pattern breaks them.
    out = re.sub(r"(?<=[A-Za-z0-9])(?=://)", ZERO_WIDTH_SPACE, out)
    out = re.sub(r"(?i)\b(www)(?=\.)", r"\1" + ZERO_WIDTH_SPACE, out)
    out = out.replace("\\@", ZERO_WIDTH_SPACE + "\\@")
    if not starts_line:
        return out
    return _LEADING.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], out)


def _no_comment_delimiters(text: str) -> str:
    # A zero-width space inside every "<!--" and "-->" leaves no way to open or close an HTML comment such
    # as the hidden metadata block; other double hyphens (SQL comments) stay as they are.
    while "<!--" in text or "-->" in text:
        text = text.replace("<!--", f"<!-{ZERO_WIDTH_SPACE}-").replace("-->", f"-{ZERO_WIDTH_SPACE}->")
    return text


def fenced(text: object, info: str = "text") -> str:
    """`text` as a fenced code block it cannot close: the fence is longer than any backtick run in it."""
    body = _no_comment_delimiters(str(text).replace("\r\n", "\n").replace("\r", "\n"))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def inline_code(text: object) -> str:
    """`text` on one line as an inline code span it cannot close."""
    body = _no_comment_delimiters(" ".join(str(text).splitlines()))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


# What makes a spreadsheet (Excel, LibreOffice, Google Sheets) read a CSV cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> object:
    """`value` for a CSV cell that a spreadsheet opens as text, never as a formula (=HYPERLINK(...),
    =cmd|...): a string starting with = + - @, a tab or a line break gets a leading apostrophe, as
    OWASP advises. Anything else (numbers included) is returned unchanged."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_START):
        return "'" + value
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: object, limit: int = 200) -> str:
    """`text` on one line for a header or a label: control characters and line breaks (CR, LF, U+2028)
    become one space, runs of spaces one space, cut to `limit` characters (an ellipsis marks the cut)."""
    out = " ".join(_CONTROL.sub(" ", str(text)).split())
    return out if len(out) <= limit else out[: max(0, limit - 1)].rstrip() + "…"


def slack_escape(text: object) -> str:
    """`text` for a Slack message, shown as typed: Slack's control characters &, < and > escaped (so no
    `<@U1>`, `<!channel>` or `<url|label>` can be formed), and a zero-width space inside every pattern
    Slack links by itself (scheme://, www., name.tld, @name), so nothing typed becomes a link or mention."""
    return break_links(str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def break_links(text: object) -> str:
    """`text` with a zero-width space inside every pattern chat and mail clients link by themselves
    (scheme://, www., name.tld, @name): it reads the same and is linked nowhere."""
    out = re.sub(r"(?<=[A-Za-z0-9])(?=://)", ZERO_WIDTH_SPACE, str(text))
    out = re.sub(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z0-9])", "." + ZERO_WIDTH_SPACE, out)
    return out.replace("@", "@" + ZERO_WIDTH_SPACE)
