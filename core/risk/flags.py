"""A risk flag (RiskFlag: kind, level, message, and the config line or plan statement that causes it) and
its levels, highest first (LEVELS; level_of gives the highest of a list)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable


LEVELS = ("high", "medium")
PLAN_PATH = "plan"  # a statement flag's path: its line is the statement's number in the plan (1-based)


@dataclass(frozen=True)
class RiskFlag:
    """One risk. `path`: the config file (relative to the config folder) or PLAN_PATH; `line`: 1-based
    line in that file (or the statement's number in the plan), None when unknown; `text`: that line as
    written (or the statement's SQL)."""
    kind: str
    level: str  # high | medium
    message: str
    path: str | None = None
    line: int | None = None
    text: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def where(self) -> str:
        """`user.yaml:12`, `plan statement 3`, or the path alone."""
        if self.path == PLAN_PATH:
            return f"plan statement {self.line}"
        return ":".join(str(x) for x in (self.path, self.line) if x) or "config"


def level_of(flags: Iterable[RiskFlag]) -> str:
    """The highest level among `flags`: "high", "medium" or "none"."""
    levels = {f.level for f in flags}
    return next((lv for lv in LEVELS if lv in levels), "none")
