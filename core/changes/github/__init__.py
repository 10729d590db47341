"""The GitHub backend as a package: each change request is a pull request on the infrastructure repository.

- backend: `GitHubChanges`, the ChangeBackend on GitHub (open, review, update, merge), and MergeBlocked.
- transport: `GitHubConfig`, `connect` (PyGithub clients), retries, rate limits, conditional reads, paging;
  `GitHubUnavailable`.
- records: the signed request record on a pull request, the reviews that count, labels and limits.
- git_data: branches, commits, the configuration at a commit.
- statuses: commit statuses, the audit log's anchors (`AUDIT_CONTEXT`).
- cache: the ETag cache and the pull request index (no I/O).
- gate: the merge-deploy workflow's unsafe-apply gate (`python -m core.changes.github.gate`).
- deployed: the pull request a merge-deploy run deployed, as GitHub vouches for it.

The names imported widely (building the backend, and the error callers tell apart) are re-exported here,
loaded on first use: importing the gate or the cache alone does not import PyGithub or the backend.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.changes.github.backend import GitHubChanges
    from core.changes.github.transport import GitHubConfig, GitHubUnavailable, connect

__all__ = ["GitHubChanges", "GitHubConfig", "GitHubUnavailable", "connect"]
_HOMES = {"GitHubChanges": "backend", "GitHubConfig": "transport", "GitHubUnavailable": "transport",
          "connect": "transport"}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
