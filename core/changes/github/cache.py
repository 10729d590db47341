"""What the GitHub backend remembers between page views, so that a page view costs a bounded number of
API calls whatever the repository's history (see docs/github.md, "Listing at scale").

- `ConditionalCache`: the last answer to each GET with its `ETag`. The next GET of the same URL sends
  `If-None-Match`; GitHub answers `304 Not Modified` when nothing changed, and a 304 does not count
  against the rate limit. Bounded: the least recently used entries are dropped beyond `max_entries`.
- `PullIndex`: every pull request of the repository as last listed, and the newest `updated_at` seen.
  It is brought up to date by listing pull requests by `updated_at`, newest first, only until the
  first one that is older than the last sync: one call when fewer than 100 changed.

Neither holds anything that decides on its own: GitHub is asked again (conditionally) whenever a
request is opened, reviewed or merged. No I/O here: the backend makes the calls.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Hashable


@dataclass
class CachedAnswer:
    etag: str
    payload: Any  # the decoded JSON (or text) of the last 200 answer
    checked_at: float  # clock time (seconds) of the last 200 or 304 for it
    tag: Hashable = None  # what the caller says this answer is current for (e.g. a PR's updated_at)
    link: str | None = None  # its Link header (the next page), given again when the answer is reused


class ConditionalCache:
    """Thread-safe LRU map: request key -> CachedAnswer."""

    def __init__(self, max_entries: int = 4000):
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, CachedAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CachedAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, entry: CachedAnswer) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


_KEPT = ("number", "title", "body", "state", "created_at", "updated_at", "closed_at", "merged_at", "merge_commit_sha",
         "url", "html_url", "issue_url")
_SIDE = ("ref", "sha", "label")


def slim(raw: dict) -> dict:
    """The fields of a pull request list item that SnowTower reads (a list item from GitHub is ~20 KB,
    mostly URLs of the two repositories): the index stays small for long histories."""
    out = {k: raw.get(k) for k in _KEPT}
    out["user"] = {"login": (raw.get("user") or {}).get("login")} if raw.get("user") else None
    out["labels"] = [{"name": label.get("name")} for label in raw.get("labels") or []]
    for side in ("head", "base"):
        part = raw.get(side) or {}
        repo = part.get("repo")
        out[side] = {k: part.get(k) for k in _SIDE} | {"repo": {"full_name": repo.get("full_name")} if repo else None}
    return out


class PullIndex:
    """Pull requests by number (raw JSON as the list endpoint gives them) and the sync's high-water
    mark. `lock` serialises syncs: two sessions loading a page at once make one sync, not two."""

    def __init__(self) -> None:
        self.pulls: dict[int, dict] = {}
        self.high_water: str | None = None  # newest updated_at seen (ISO 8601, UTC: sorts as text)
        self.lock = threading.Lock()

    @property
    def synced(self) -> bool:
        return self.high_water is not None

    def merge(self, rows: list[dict]) -> bool:
        """Record a page of the list (newest updated_at first). True when the page reached pull
        requests that did not change since the last sync, so older pages need not be read."""
        reached_old = False
        for raw in rows:
            updated = raw.get("updated_at") or raw.get("created_at") or ""
            # Strictly older than the mark: unchanged since the last sync (equal times are read
            # again, as updated_at has one-second resolution).
            if self.high_water is not None and updated < self.high_water:
                reached_old = True
                break
            self.pulls[int(raw["number"])] = slim(raw)
        return reached_old

    def newest(self, rows: list[dict]) -> None:
        for raw in rows:
            updated = raw.get("updated_at") or raw.get("created_at") or ""
            if self.high_water is None or updated > self.high_water:
                self.high_water = updated
