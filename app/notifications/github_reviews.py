"""GitHub mode: a new or resubmitted request also asks the approvers' GitHub accounts for a review
(the logins settings.github_approvers maps to the approvers being told)."""
from __future__ import annotations

from app.notifications.hookspecs import hookimpl


class GitHubReviewRequests:
    """`backend`: core.changes.github.GitHubChanges; `logins`: GitHub login -> portal username."""

    def __init__(self, backend, logins: dict[str, str]):
        self.backend = backend
        self.logins = dict(logins)

    def _request(self, message, recipients) -> None:
        wanted = {r.username.casefold() for r in recipients}  # approvers, never the requester (dispatch)
        logins = sorted(login for login, user in self.logins.items() if user.casefold() in wanted)
        if logins:
            self.backend.request_reviews(message.request_id, logins)

    @hookimpl
    def request_created(self, message, recipients):
        self._request(message, recipients)

    @hookimpl
    def request_resubmitted(self, message, recipients):
        self._request(message, recipients)
