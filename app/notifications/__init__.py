"""Notifications: approvers hear about new and resubmitted requests, requesters about each decision, the
merge and the deployment, admins about approved requests that wait to be merged. Delivered by plugins
through pluggy hooks (hookspecs), as discord/access does: Slack and email are included.

Operations call `notify(...)` after their write succeeded; delivery is best effort (dispatch)."""
from __future__ import annotations

import logging

from app.notifications.dispatch import Notifier
from app.notifications.hookspecs import EVENTS, hookimpl
from app.notifications.message import Message, Recipient

__all__ = ["EVENTS", "Message", "Notifier", "Recipient", "hookimpl", "notify"]


def notify(services, event: str, cr, actor, comment: str = "", decision: str = "") -> None:
    """Tell the people `event` concerns about request `cr`, done by `actor` (see hookspecs). Returns at
    once and never raises: a notification that fails is logged, the request stands."""
    try:
        names = services.changes.requester_names(cr)
        services.notifications.notify(event, cr, actor, comment, decision, names)
    except Exception:  # best effort, even when the notifier itself is broken
        logging.getLogger("snowtower.notifications").warning("notification %s could not be sent", event, exc_info=True)
