"""Text that people typed, made safe to show inside Markdown: the portal's widgets and the bodies and
comments GitHub renders. Whatever the text holds (links, images, headings, HTML, badges, backticks,
HTML comment delimiters), it comes out as the characters typed, never as formatting.
"""
from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
ZERO_WIDTH_SPACE = "\u200b"


def md_escape(text: object) -> str:
    """`text` with every ASCII punctuation character backslash-escaped (CommonMark and GitHub allow
    escaping any of them), so Markdown renders it literally; line breaks become spaces (for one-line
    places: labels, titles, table cells)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(text).splitlines()))


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
