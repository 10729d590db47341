"""Security, CIS and hygiene findings, and the config change that fixes each (no Streamlit, no I/O here)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


# Trust Center's levels (https://docs.snowflake.com/en/user-guide/trust-center/overview: critical, high, medium, low),
# most severe first.
SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
SOURCES = ("sign-in", "account", "config")


@dataclass(frozen=True)
class Fix:
    """A request that fixes a finding: the recipe's name (recipes.RECIPES) and its form fields, justification
    included. `complete` is False when the requester still has to fill something in (e.g. a new key)."""
    recipe: str
    fields: dict = field(default_factory=dict)
    complete: bool = True


@dataclass(frozen=True)
class Finding:
    """One thing to fix. `code` is stable (e.g. "WAREHOUSE_LONG_AUTO_SUSPEND"), `object_type` one of user,
    business role, warehouse; `object` the name as the config writes it; `fix` None when no recipe fixes it."""
    code: str
    severity: str  # critical | high | medium | low (SEVERITIES)
    object_type: str
    object: str
    message: str
    file: str | None = None
    fix: Fix | None = None
    source: str = "config"  # where it was found: config | account | sign-in (SOURCES)
    evidence: tuple[str, ...] = ()  # plain-text lines: what was seen (names as the account gives them, untrusted)

    @property
    def key(self) -> str:
        """The finding's identity across runs, for its state and alerts: 'CODE:OBJECT'."""
        return f"{self.code}:{self.object}"

    @property
    def title(self) -> str:
        """The finding as a request names it: 'WAREHOUSE_NO_MONITOR on BI_WH'."""
        return f"{self.code} on {self.object}"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["evidence"] = list(self.evidence)
        out["fix"] = {"recipe": self.fix.recipe, "fields": self.fix.fields, "complete": self.fix.complete} if self.fix else None
        return out


def fixes_note(finding: Finding) -> str:
    """The justification a fix request starts with: it names the finding it fixes."""
    return f"Fixes finding {finding.title}: {finding.message}"
