"""`Vouched`: any provider plus one requester vouched for by whoever runs `snowtower request --submit`
(the operator naming SNOWTOWER_USER, or the access-request workflow naming the issue's author as
`github:<login>`).
"""
from __future__ import annotations

from dataclasses import dataclass

from app.identity.local import LocalLogins
from app.identity.port import Identity
from app.identity.system import is_reserved
from core.changes.model import Actor

@dataclass
class Vouched:
    """`people` plus one requester vouched for by whoever runs `snowtower request --submit` (the operator
    with the workspace naming SNOWTOWER_USER, or the access-request workflow naming the issue's author,
    a GitHub login, as `github:<login>` through `github_name`): `username` may submit (role requester)
    though no provider knows it, unless its local login is disabled. A job's name (is_reserved) has no
    role here: a GitHub account may be called snowtower-cli. Everyone else is as `people` says."""
    people: Identity
    username: str

    @property
    def kind(self) -> str:
        return self.people.kind

    def _vouched(self, username: str) -> bool:
        name = str(username).strip().lower()
        if name != self.username.strip().lower() or not name or is_reserved(name):
            return False
        inner = getattr(self.people, "people", self.people)
        entry = inner.entry(name) if isinstance(inner, LocalLogins) else None
        return not (entry and entry["disabled"])  # why: a disabled login submits nothing, by any way

    def roles_of(self, username: str) -> frozenset[str]:
        if is_reserved(username):
            return frozenset()  # why: a job's roles are for the job; a name typed into SNOWTOWER_USER is not it
        roles = self.people.roles_of(username)
        if roles or not self._vouched(username):
            return roles
        return frozenset({"requester"})

    def actor(self, username: str) -> Actor | None:
        if is_reserved(username):
            return None
        actor = self.people.actor(username)
        if actor or not self._vouched(username):
            return actor
        name = str(username).strip().lower()
        return Actor(name, name, "", ("requester",))
