"""Machine-readable metadata inside pull-request bodies, reviews and comments.

GitHub keeps no fields of ours, so SnowTower writes its data as JSON in an HTML comment that GitHub
does not render: `<!-- snowtower:request {...} -->`. That is how the portal lists its own pull requests,
tells one request from another (the idempotency key) and re-applies a request's recipe later.

Anyone with write access can edit a PR body, so the request record is signed: HMAC-SHA256 with a key
only the portal holds, over the canonical JSON of the record (`sign`, `verify`). A record that does not
verify is not a request (docs/security.md).
"""
from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import re
from typing import TypeGuard

REQUEST = "snowtower:request"
REVIEW = "snowtower:review"
EVENT = "snowtower:event"
VERSION = 1


def _json(data: dict) -> str:
    # "--" may not appear inside an HTML comment; \u002d is the same character to a JSON parser.
    return json.dumps(data, sort_keys=True, separators=(",", ":")).replace("--", "-\\u002d")


def embed(text: str, kind: str, data: dict) -> str:
    """`text` followed by the hidden metadata block of `kind`."""
    return f"{text.rstrip()}\n\n<!-- {kind} {_json(data)} -->\n"


_CLOSE = re.compile(r"\} -->")


def _blocks(text: str, kind: str | None = None) -> list[tuple[int, int, str]]:
    """The metadata blocks `<!-- KIND {...} -->` in `text`, left to right, not overlapping:
    [(start, end, JSON text)], each ending at the first "} -->" after its opening (of `kind`, or any
    snowtower kind). Linear in the text's length: anyone can write a review or comment of GitHub's
    maximum size full of openings or spaces, and a backtracking pattern took seconds on one."""
    opening = re.compile(r"<!-- " + (re.escape(kind) if kind else r"snowtower:[a-z]+") + r" \{")
    closes = [m.start() for m in _CLOSE.finditer(text)]
    out: list[tuple[int, int, str]] = []
    pos = 0
    for m in opening.finditer(text):
        if m.start() < pos:
            continue  # inside the block found before
        i = bisect.bisect_left(closes, m.end())
        if i == len(closes):
            break  # no later opening can be closed either
        close = closes[i]
        out.append((m.start(), close + len("} -->"), text[m.end() - 1:close + 1]))
        pos = close + len("} -->")
    return out


def extract(text: str | None, kind: str) -> dict | None:
    """The metadata of `kind` in `text` (the last block that parses wins), or None."""
    if not text:
        return None
    found = None
    for _, _, raw in _blocks(text, kind):
        try:
            found = json.loads(raw)
        except ValueError:
            continue
    return found if isinstance(found, dict) else None


def visible(text: str | None) -> str:
    """The text people read, without the metadata blocks (and the blank space around each)."""
    text = text or ""
    parts, pos = [], 0
    for start, end, _ in _blocks(text):
        parts += [text[pos:start].rstrip(), "\n"]
        while end < len(text) and text[end].isspace():
            end += 1
        pos = end
    parts.append(text[pos:])
    return "".join(parts).strip()


def idempotency_key(recipe: str, requester: str, request: dict) -> str:
    """The same request by the same person gives the same key: a retried submit finds its first attempt."""
    canonical = json.dumps({"recipe": recipe, "requester": requester, "request": request}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


SIGNATURE = "sig"


def canonical(record: dict) -> bytes:
    """The bytes a signature covers: the record without its signature, as sorted, compact JSON."""
    unsigned = {k: v for k, v in record.items() if k != SIGNATURE}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode("utf-8")


def sign(record: dict, key: bytes) -> dict:
    """`record` with its HMAC-SHA256 signature (hex) under `key` added as "sig"."""
    if not key:
        raise ValueError("signing needs a non-empty key")
    return {**record, SIGNATURE: hmac.new(key, canonical(record), hashlib.sha256).hexdigest()}


def verify(record: dict | None, key: bytes) -> TypeGuard[dict]:
    """True when `record` carries a signature made with `key` over exactly its other fields."""
    if not key or not isinstance(record, dict) or not isinstance(record.get(SIGNATURE), str):
        return False
    expected = hmac.new(key, canonical(record), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, record[SIGNATURE])
