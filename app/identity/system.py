"""The jobs' identities (system actors): names whose roles come from this code, never a file, a claim or
a grant. `SYSTEM_ACTORS` (name -> roles), `is_reserved` (a name that reads as one of them),
`system_actor` (a job's Actor; KeyError for another name) and `WithSystem` (any provider with the jobs'
identities in front).
"""
from __future__ import annotations

from dataclasses import dataclass

from app.identity.port import ROLES, Identity, _expand, _folded
from core.changes.model import Actor

# Jobs' identities, roles from code. The command line (an operator with the workspace on the server)
# acts as snowtower-cli; the expiry job as snowtower-expiry, its auto-approval as snowtower-expiry-policy;
# a failed deployment's revert request is opened as snowtower-deploy.
SYSTEM_ACTORS: dict[str, tuple[str, ...]] = {
    "snowtower-cli": ("requester", "approver", "admin"),
    "snowtower-expiry": ("requester",),
    # approves the expiry job's revokes when settings.expiry_auto_approve is on (app/jobs/expire.py)
    "snowtower-expiry-policy": ("approver",),
    # opens the revert of a change whose deployment failed (app/operations/revert.py); it never reviews
    "snowtower-deploy": ("requester",),
}


def is_reserved(username: str) -> bool:
    """True for the jobs' names, and for names that read as one (case, full-width letters, invisible
    characters): nobody signs in, or is vouched for, as one."""
    return _folded(username) in SYSTEM_ACTORS


# -- jobs ---------------------------------------------------------------------------------------------

@dataclass
class WithSystem:
    """`people` (any provider) with the jobs' identities in front: SYSTEM_ACTORS' roles come from code."""
    people: Identity

    @property
    def kind(self) -> str:
        return self.people.kind

    def roles_of(self, username: str) -> frozenset[str]:
        name = str(username).strip().lower()
        if name in SYSTEM_ACTORS:
            return _expand(SYSTEM_ACTORS[name])
        return self.people.roles_of(username)

    def actor(self, username: str) -> Actor | None:
        name = str(username).strip().lower()
        if name in SYSTEM_ACTORS:
            return system_actor(name)
        return self.people.actor(username)


def system_actor(name: str) -> Actor:
    """The Actor a job acts as (KeyError for a name not in SYSTEM_ACTORS)."""
    return Actor(name, name, "", tuple(r for r in ROLES if r in _expand(SYSTEM_ACTORS[name])))


# System actors of the jobs (moved from app/operations/expire.py)
# The job's own audit identity: it requests, never reviews. Role "system": no page lets it sign in.
EXPIRY_ACTOR = Actor("snowtower-expiry", "SnowTower expiry job", "snowtower-expiry@snowtower.local", ("system",))
# Who approves an expiry revoke when settings.expiry_auto_approve is on: a second system identity, so the
# record says it was the policy (not a person, and never the requester) that approved it.
POLICY_ACTOR = Actor("snowtower-expiry-policy", "SnowTower expiry policy (expiry_auto_approve)",
                     "snowtower-expiry-policy@snowtower.local", ("system", "approver"))
# The deployment's identity: it opens the revert of a change whose deployment failed (moved from
# app/operations/revert.py); it never reviews.
DEPLOY_ACTOR = Actor("snowtower-deploy", "SnowTower deployment", "snowtower-deploy@snowtower.local", ("system",))
