"""The notification hooks (pluggy), one per moment someone should hear about, as discord/access does.

Every hook takes `message` (app.notifications.message.Message: who acted, the request, a link) and
`recipients` (list of message.Recipient, taken from the users file, never from anything typed). A plugin
implements the hooks it cares about with `@hookimpl`; third-party plugins register under the setuptools
entry point group "snowtower.notifications". Hooks are called after the operation's write succeeded,
outside the request (app.notifications.dispatch): what a plugin raises is logged, never shown or re-raised.
"""
from __future__ import annotations

import pluggy

PROJECT = "snowtower.notifications"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class NotificationSpec:
    @hookspec
    def request_created(self, message, recipients) -> None:
        """A new request waits for review: tell the approvers (never its requester)."""

    @hookspec
    def request_resubmitted(self, message, recipients) -> None:
        """The requester edited a request sent back to them: tell the approvers it waits again."""

    @hookspec
    def request_decided(self, message, recipients) -> None:
        """A reviewer approved, asked for changes or rejected (message.action says which): tell the requester."""

    @hookspec
    def request_awaiting_merge(self, message, recipients) -> None:
        """A request has the approvals it needs and waits to be merged: tell the admins."""

    @hookspec
    def request_merged(self, message, recipients) -> None:
        """An admin merged the request: tell the requester."""

    @hookspec
    def request_deployed(self, message, recipients) -> None:
        """The merged change was deployed to the account: tell the requester."""

    @hookspec
    def request_deploy_failed(self, message, recipients) -> None:
        """The merged change failed to deploy, or after the apply the account still differs from the config
        (merge-deploy's verification): tell the admins."""

    @hookspec
    def request_withdrawn(self, message, recipients) -> None:
        """The requester withdrew their request: tell the approvers it left the queue."""

    @hookspec
    def alert_raised(self, message, recipients) -> None:
        """`snowtower alerts` found a new event (a critical or high finding, spend over a threshold, ...):
        tell the admins. `message` is app.alerts.AlertMessage (subject, lines, links: the shape of Message);
        called synchronously by the alerts run, once per event; raise when the channel did not take it."""

    @hookspec
    def access_review_reminder(self, message, recipients) -> None:
        """`snowtower access-review remind`: a reviewer has undecided access-review items (an overdue notice
        after the deadline): tell that reviewer (`recipients` is them alone). `message` is
        app.review_reminders.Reminder (subject, lines, links: the shape of Message); called synchronously,
        at most once per reviewer and day; raise when the channel did not take it."""


EVENTS = tuple(name for name in vars(NotificationSpec) if name.startswith("request_"))


class EveryEvent:
    """A channel that sends every event the same way: implement `send(message, recipients)`; one hook
    implementation per event forwards to it (made below, one per name in EVENTS)."""

    def send(self, message, recipients) -> None:
        raise NotImplementedError


def _forward(event: str):
    def forward(self, message, recipients):
        self.send(message, recipients)
    forward.__name__ = forward.__qualname__ = event
    return hookimpl(forward)


for _event in EVENTS + ("alert_raised", "access_review_reminder"):
    setattr(EveryEvent, _event, _forward(_event))
