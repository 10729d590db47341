"""The Streamlit in Snowflake provider (auth = sis): `Sis`, the viewer is the host's signed-in user
(st.user), the roles are the viewer's Snowflake roles, inherited ones included
(`snowflake_roles_from`: the query viewer_roles), through `sis_role_mapping` extended with SnowDDL's
business-role names (`snowddl_role_mapping`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from app.host import signed_in_user
from app.identity.github import is_namespaced
from app.identity.port import MAX_CLAIM, ROLES, _claim_name, _mapped
from app.identity.system import is_reserved
from core.changes.model import Actor

def snowflake_roles_from(source_factory: Callable[[], object]) -> Callable[[str], list[str]]:
    """`roles(user_name) -> [Snowflake role]`: every role that Snowflake user holds, inherited ones included
    (granted to the user, then granted to those roles, ...: SnowDDL grants business roles to the user role
    <USER>__U_ROLE), asked through the query layer (question viewer_roles: ACCOUNT_USAGE.GRANTS_TO_USERS and
    GRANTS_TO_ROLES, up to 2 hours late) on the source `source_factory()` gives. A failed query: []."""
    def roles(user_name: str) -> list[str]:
        from core.snowflake.queries import QueryError, ask

        try:
            frame = ask(source_factory(), "viewer_roles", user_name=str(user_name).upper()[:MAX_CLAIM])
        except QueryError:
            return []
        return [str(r) for r in frame["ROLE"].tolist()] if "ROLE" in frame.columns else []
    return roles


BUSINESS_ROLE_SUFFIX = "__B_ROLE"  # SnowDDL names business role X `<env prefix>X__B_ROLE` (snowddl.config)


def snowddl_role_mapping(mapping: Mapping[str, str], env_prefix: str = "") -> dict[str, str]:
    """`mapping` (Snowflake role -> portal role) with, for each role, the name SnowDDL gives a business
    role of that name (`<env_prefix><ROLE>__B_ROLE`): SnowTower's roles may be created by setup.sql or
    managed as business roles in the SnowDDL config it edits. A name given in the mapping wins."""
    out: dict[str, str] = {}
    for role, portal_role in mapping.items():
        name = str(role)
        if not name.upper().endswith(BUSINESS_ROLE_SUFFIX):
            out.setdefault(f"{env_prefix}{name}{BUSINESS_ROLE_SUFFIX}".upper(), portal_role)
    out.update({str(k).upper(): v for k, v in mapping.items()})
    return out


SIS_NAME = ("user_name",)  # st.user in Streamlit in Snowflake: the Snowflake user (an e-mail on a profile is not one)


@dataclass
class Sis:
    """Streamlit in Snowflake: the viewer is `user()` (st.user: user_name, email), the roles are the
    viewer's Snowflake roles (`snowflake_roles(user_name)`) through `role_mapping` (Snowflake role ->
    portal role, compared case-insensitively). Asked again for every operation, so a revoked grant
    demotes the viewer at the next click (within the grant view's latency)."""
    role_mapping: Mapping[str, str]
    snowflake_roles: Callable[[str], Iterable[str]]
    user: Callable[[], Mapping] = signed_in_user  # the host's viewer (app.host): st.user in the portal
    kind: str = "sis"

    def roles_of(self, username: str) -> frozenset[str]:
        username = str(username).strip().lower()
        if not username or is_reserved(username) or is_namespaced(username):
            return frozenset()
        return _mapped(self.snowflake_roles(username), self.role_mapping)

    def actor(self, username: str) -> Actor | None:
        roles = self.roles_of(username)
        if not roles:
            return None
        claims = self.user()
        same = _claim_name(claims, SIS_NAME) == str(username).strip().lower()
        name = str(claims.get("name") or username)[:MAX_CLAIM] if same else str(username)
        email = str(claims.get("email") or "")[:MAX_CLAIM] if same else ""
        return Actor(str(username).strip().lower(), name, email, tuple(r for r in ROLES if r in roles))

    def viewer(self) -> Actor | None:
        """The viewer of this session (st.user) with their roles now; None when st.user names nobody."""
        username = _claim_name(self.user(), SIS_NAME)
        return self.actor(username) if username else None
