"""`identity_for`: the provider the setting `auth` names (local, oidc, sis), behind the jobs' identities.
"""
from __future__ import annotations

from typing import Callable

from app.host import SignedInUser, signed_in_user
from app.identity.local import LocalLogins, lockout_for
from app.identity.oidc import Oidc
from app.identity.port import Identity, SetupError
from app.identity.sis import Sis, snowddl_role_mapping, snowflake_roles_from
from app.identity.system import WithSystem
from core.workspace import Workspace


def identity_for(settings, snowflake_source: Callable[[], object] | None = None,
                 user: SignedInUser = signed_in_user) -> WithSystem:
    """The provider that `settings.auth` names, behind the jobs' identities. `snowflake_source` makes
    the query source the SiS provider asks for the viewer's Snowflake roles; `user` gives the claims of
    the viewer signed in to this session (app.host: st.user in the portal, nobody in a job)."""
    if settings.auth == "oidc":
        people: Identity = Oidc(dict(settings.auth_group_roles), settings.auth_group_claim, claims=user)
    elif settings.auth == "sis":
        if snowflake_source is None:
            raise SetupError("auth = sis needs a Snowflake connection to read the viewer's roles.")
        people = Sis(snowddl_role_mapping(settings.sis_role_mapping, settings.env_prefix), snowflake_roles_from(snowflake_source),
                     user=user)
    else:
        people = LocalLogins(Workspace(settings.workspace).auth_path, settings.mode, lockout_for(settings))
    return WithSystem(people)
