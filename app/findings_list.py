"""The one findings list as the Security page, `snowtower security` and `snowtower alerts` read it: the
account's report (core.findings.security), sign-in attacks, config hygiene, merged by
core.findings.board and stamped with their state from the workspace's records (app.findings_state)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from app.findings_state import FindingState, states_for
from core.findings import Finding
from core.findings.board import findings_board
from core.findings.hygiene import hygiene
from core.findings.security import SecurityReport, network_policy_users, security_report
from core.snowflake.cost import last_day, window

DEFAULT_DAYS = 90


@dataclass
class FindingsList:
    """`findings` most severe first; `states` {finding.key: FindingState}; the login window [start, end) UTC;
    `latest` the account's last complete day; `hygiene_error` when the config cannot be read (its findings
    are then missing: never "clean")."""
    report: SecurityReport
    findings: list[Finding]
    states: dict[str, FindingState]
    start: dt.datetime
    end: dt.datetime
    latest: dt.date
    hygiene_error: str = ""
    hygiene: list[Finding] = field(default_factory=list)

    def state(self, finding: Finding) -> FindingState:
        return self.states[finding.key]

    def open(self, severities=("critical", "high", "medium", "low")) -> list[Finding]:
        """Findings that are open (not accepted) with one of `severities`."""
        return [f for f in self.findings if f.severity in severities and self.states[f.key].state == "open"]

    def records(self) -> list[dict]:
        """The list as JSON-ready dicts: the finding (code, severity, source, object, message, evidence, fix,
        key) with its state, first_seen and last_seen (ISO 8601, UTC) and acceptance."""
        return [f.to_dict() | {"key": f.key} | self.states[f.key].to_dict() for f in self.findings]


def findings_list(services, source, days: int = DEFAULT_DAYS) -> FindingsList | None:
    """The findings over the last `days` days of logins up to the account's last complete day, or None when
    the account has no complete day yet. What was seen is noted in the workspace's records (first and last
    seen; findings seen before and gone now: resolved). Raises QueryError (the account
    cannot be read), ChangeError (the config), app.findings_state.StateError (the records)."""
    latest = last_day(source)
    if latest is None:
        return None
    binds = window(latest - dt.timedelta(days=days - 1), latest)
    config = services.snapshot().config
    report = security_report(source, binds["end_time"], binds["start_time"], binds["end_time"],
                             network_policy_users(config), set(config.users))
    hygiene_error = ""
    try:
        config_findings = hygiene(config)
    except ValueError as exc:  # a config SnowDDL cannot read: the account's findings still stand
        config_findings, hygiene_error = [], str(exc)
    board = findings_board(report, report.attempts, config_findings)
    seen = states_for(services).observe(board, services.clock())
    return FindingsList(report, board, seen, binds["start_time"], binds["end_time"], latest, hygiene_error, config_findings)
