"""The identity port: who may act, and with which portal roles *now*.

Every operation re-reads its actor's roles through `Services.identity` (app.operations.shared.audited), so
a login disabled or demoted after sign-in is refused even if the page still shows the button; an
operation never takes a role from a form, from the Actor a page passed in, or from the session.

`Identity` is the port; its providers, chosen by the setting `auth`:
- `LocalLogins` (auth = local): the users file (`auth.yaml` in the workspace: bcrypt hashes, roles,
  a `disabled` flag), written by `snowtower users ...`, read again whenever it changes;
- `Oidc` (auth = oidc): `st.login` against the identity provider in secrets `[auth]`; roles from a
  group claim, through the mapping `auth_group_roles` (group -> portal role);
- `Sis` (auth = sis): Streamlit in Snowflake; the viewer is `st.user`, the roles are the viewer's
  Snowflake roles, inherited ones included, through `sis_role_mapping` (e.g. SNOWTOWER_ADMIN -> admin;
  SnowDDL's business role SNOWTOWER_ADMIN__B_ROLE maps alike).
Jobs act as `SYSTEM_ACTORS` (e.g. `snowtower-expiry`), whose roles come from this code, never a
file, a claim or a grant: `with_system` puts them in front of any provider, and no provider will
sign anyone in under those names. GitHub logins, vouched for by a workflow rather than a sign-in, are
`github:<login>` (`github_name`), a namespace no provider signs anyone in under; only the settings'
`github_users` / `github_approvers` make one act as a portal user. Nothing here imports Streamlit: the
signed-in viewer (st.user) and the secrets come from the host (app.host, filled by the portal), and
streamlit-authenticator is imported only by portal.auth, for local logins.

The package, one module per part: `port` (the Identity protocol, roles, what providers share),
`users_file` (auth.yaml), the providers `local` (passwords), `oidc`, `sis`, `github` (GitHub logins
as names) and `vouched`, `system` (the jobs' identities), `build` (identity_for). The names below are
the package's public ones, imported from here by the portal, the command line and the operations.
"""

from app.identity.build import identity_for
from app.identity.github import GITHUB_LOGIN, GITHUB_NAMESPACE, github_name, github_people, is_namespaced
from app.identity.local import LocalLogins, cookie_key, lockout_for
from app.identity.oidc import MAX_GROUPS, MAX_GROUPS_TEXT, Oidc, claim_groups, oidc_subject, overage
from app.identity.port import IMPLIED, MAX_CLAIM, ROLES, Identity, SetupError
from app.identity.sis import BUSINESS_ROLE_SUFFIX, SIS_NAME, Sis, snowddl_role_mapping, snowflake_roles_from
from app.identity.system import (DEPLOY_ACTOR, EXPIRY_ACTOR, POLICY_ACTOR, SYSTEM_ACTORS, WithSystem, is_reserved,
                                 system_actor)
from app.identity.users_file import (
    COOKIE_NAME, DEMO_PASSWORD, DEMO_USERS, LOGIN_PATTERN, MAX_USERS_FILE_BYTES, MIN_COOKIE_KEY, MIN_PASSWORD,
    UsersFileError, add_user, check_login, check_roles, ensure_demo_logins, new_users_file, read_users, update_user,
)
from app.identity.vouched import Vouched

__all__ = [
    "BUSINESS_ROLE_SUFFIX", "COOKIE_NAME", "DEMO_PASSWORD", "DEMO_USERS", "GITHUB_LOGIN", "GITHUB_NAMESPACE", "IMPLIED",
    "LOGIN_PATTERN", "MAX_CLAIM", "MAX_GROUPS", "MAX_GROUPS_TEXT", "MAX_USERS_FILE_BYTES", "MIN_COOKIE_KEY",
    "MIN_PASSWORD", "ROLES", "SIS_NAME", "SYSTEM_ACTORS", "Identity", "LocalLogins", "Oidc", "SetupError", "Sis",
    "UsersFileError", "Vouched", "WithSystem", "add_user", "check_login", "check_roles", "claim_groups", "cookie_key",
    "ensure_demo_logins", "github_name", "github_people", "identity_for", "is_namespaced", "is_reserved",
    "lockout_for", "new_users_file", "oidc_subject", "overage", "read_users", "snowddl_role_mapping",
    "snowflake_roles_from", "system_actor", "DEPLOY_ACTOR", "EXPIRY_ACTOR", "POLICY_ACTOR", "update_user",
]
