"""What is wrong with the settings: `Problem` (key, source, message, blocking) and `SettingsError` (a
ValueError listing every Problem, never a secret's value).
"""
from __future__ import annotations

from dataclasses import dataclass

@dataclass(frozen=True)
class Problem:
    """One thing wrong with the settings: the key, where its value came from, and what is wrong."""
    key: str
    source: str
    message: str
    # False: the portal still starts without it (a page or a command that needs it says so); `snowtower
    # check` lists it all the same (check_setup).
    blocking: bool = True

    def __str__(self) -> str:
        return f"{self.key}: {self.message} (from {self.source})" if self.source else f"{self.key}: {self.message}"


class SettingsError(ValueError):
    """The settings cannot be used; `problems` lists every one (never a secret's value)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("SnowTower's settings are wrong:\n" + "\n".join(f"- {p}" for p in self.problems))
