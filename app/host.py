"""What the process hosting SnowTower gives the application layer: its secrets and its signed-in viewer.

Two ports, filled by the portal (portal.streamlit_adapter: st.secrets, st.user) and left empty by the
command line and the jobs, so that nothing in app/ imports Streamlit:
- `SecretsSource`: `() -> mapping or None`: the host's secrets, read with `.get(name)` (st.secrets in the
  portal: its `[snowtower]`, `[github]`, `[notify]`, `[auth]` tables and, in Streamlit in Snowflake's
  container runtime, the app's SECRETS as top-level keys); None when the process has none. Reading a
  table may raise (no secrets.toml at all): callers catch it and take it as no secret.
- `ServedSecrets`: `() -> dict or None`: the secrets of the portal this process is serving, whole (what
  its pages read; st.secrets.to_dict() in a Streamlit run), None when this process serves no portal
  (the command line then reads the portal's secrets.toml files itself: app.settings.setup_check).
- `SignedInUser`: `() -> mapping`: the claims of the viewer signed in to this session (st.user:
  OIDC claims, or user_name and email in Streamlit in Snowflake); {} when nobody is signed in or
  there is no session (a job).
`Host` bundles the three; `current()` is the one this process installed (`install`: the portal at its
start), else `NO_HOST` (no secrets, nobody signed in). Services are built with one
(app.services.build_services(host=...)); settings are read through its secrets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

SecretsSource = Callable[[], Any]  # () -> a mapping with .get (st.secrets), or None
ServedSecrets = Callable[[], "dict | None"]
SignedInUser = Callable[[], Mapping]


def no_secrets() -> None:
    """The secrets of a process without a host: none."""
    return None


def no_served_secrets() -> dict | None:
    """The served portal's secrets of a process that serves none: None."""
    return None


def nobody() -> dict:
    """The viewer of a process without sessions (the command line, a job): nobody."""
    return {}


@dataclass(frozen=True)
class Host:
    """The host's secrets and viewer (see the module docstring)."""
    secrets: SecretsSource = no_secrets
    served_secrets: ServedSecrets = no_served_secrets
    user: SignedInUser = nobody


NO_HOST = Host()
_installed: list[Host] = [NO_HOST]


def install(host: Host) -> None:
    """Make `host` the one this process's services and settings read (the portal, once at its start)."""
    _installed[0] = host


def current() -> Host:
    """The host this process installed (NO_HOST: the command line and the jobs)."""
    return _installed[0]


def host_secrets() -> Any:
    """The current host's secrets (see SecretsSource), looked up at each call."""
    return current().secrets()


def signed_in_user() -> Mapping:
    """The current host's signed-in viewer (see SignedInUser), looked up at each call: the default of the
    OIDC and Streamlit in Snowflake providers (app.identity), so a provider built before the portal
    installed its host still reads the viewer of the session."""
    return current().user()
