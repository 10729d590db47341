"""The deployment mode, decided once: `Mode.of(settings)` reads the settings' mode (demo / production),
runtime (a server / Streamlit in Snowflake), change backend (local git / GitHub) and sign-in (local /
oidc / sis) and names what they mean for the code that asks, by what it is used for:

- `is_demo`: the demo: merging deploys (LocalChanges.deploy), demo logins are accepted, tracebacks show;
- `in_sis`: running as Streamlit in Snowflake: no workspace folder, no git binary, no SQLite;
- `on_github`: change requests are GitHub pull requests (else a local git repository in the workspace);
- `demo_account`: the Snowflake account is the demo's stand-in (DuckDB, generated data), made and kept
  in step with the deployed config in the workspace; otherwise a live account is read;
- `demo_logins`: the demo's three logins (password 'demo') are written into the users file;
- `live_snowflake`: the portal reads a live account through its connection (not the stand-in, not
  the active session of Streamlit in Snowflake).

`build_services` (app.services) decides it once and keeps it as `Services.mode`; code that has the
services asks `services.mode`; code that runs before any service is built (the command line's checks,
the settings' requirements) asks `Mode.of(settings)`. The settings' own rules (app.settings.load) say
which combinations are allowed at all.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """What the settings make this deployment (see the module docstring); immutable."""
    name: str  # demo | production
    runtime: str  # local | sis
    backend: str  # local | github
    auth: str  # local | oidc | sis

    @classmethod
    def of(cls, settings) -> Mode:
        """The mode of `settings` (app.settings.Settings)."""
        return cls(settings.mode, settings.runtime, settings.backend, settings.auth)

    @property
    def is_demo(self) -> bool:
        return self.name == "demo"

    @property
    def in_sis(self) -> bool:
        return self.runtime == "sis"

    @property
    def on_github(self) -> bool:
        return self.backend == "github"

    @property
    def demo_account(self) -> bool:
        return self.is_demo and self.backend == "local"

    @property
    def demo_logins(self) -> bool:
        return self.is_demo and self.auth == "local"

    @property
    def live_snowflake(self) -> bool:
        return not self.in_sis and not self.demo_account
