"""Access-review reminders (`snowtower access-review remind`): every reviewer with undecided items in an open
campaign (app.campaigns) hears about them through the notification plugins (hook `access_review_reminder`:
Slack, e-mail, third-party), at most once a day, and after a campaign's deadline the same message becomes an
overdue notice.

Why a command of its own and not a provider of `snowtower alerts`: an alert goes to the admins, a reminder
to one reviewer (its own count: a pooled item, "any approver", counts for every approver except its holder).
It shares the alerts' once-only ledger (app.findings_state: table `alert_sent`, claim before send, release
when no channel took it, a claim older than app.alerts.CLAIM_LEASE taken over), keyed
"access-review:remind:<username>:<UTC day>": one message per reviewer per day, listing each campaign.

Who reviews what is app.campaigns.may_review over the users file's people (app.notifications: logins, names,
e-mail addresses and roles, never anything typed); campaign names and people's names are plain text (the
channels escape them: core.plaintext.slack_escape, break_links).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app import campaigns
from core.changes.model import Actor
from core.plaintext import one_line

if TYPE_CHECKING:
    from app.notifications.message import Recipient

LOGGER = logging.getLogger("snowtower.access_review")
HOOK = "access_review_reminder"
PAGE = "access-review"  # the campaign page's address (portal.ui.page: url_path)
MAX_REMINDERS = 500  # messages in one run; the rest wait for the next run


@dataclass(frozen=True)
class Waiting:
    """One campaign's part of a reminder: `open` undecided items this reviewer may decide."""
    campaign_id: int
    name: str
    deadline: dt.date
    open: int

    def overdue(self, today: dt.date) -> bool:
        return today > self.deadline


@dataclass(frozen=True)
class Reminder:
    """What one reviewer (`recipient`, app.notifications.Recipient) hears on `day` (UTC): `waiting` per open
    campaign, `url` the portal's base URL ("" without the base_url setting)."""
    recipient: Recipient
    day: dt.date
    waiting: tuple[Waiting, ...]
    url: str = ""

    @property
    def key(self) -> str:
        return f"access-review:remind:{self.recipient.username.casefold()}:{self.day.isoformat()}"

    @property
    def ref(self) -> str:
        return self.key

    @property
    def items(self) -> int:
        return sum(w.open for w in self.waiting)

    @property
    def overdue(self) -> bool:
        return any(w.overdue(self.day) for w in self.waiting)

    # -- the shape of app.notifications.message.Message: what the channels render ------------------
    def subject(self) -> str:
        what = "overdue" if self.overdue else "waiting for your decision"
        return one_line(f"[SnowTower] Access review: {self.items} grant{'s' * (self.items != 1)} {what}", 200)

    def lines(self) -> list[str]:
        out = [f"{self.items} grant{'s' * (self.items != 1)} in access reviews wait for your decision "
               "(keep, keep until a date, or revoke):"]
        for w in self.waiting:
            name = one_line(w.name, 200)
            if w.overdue(self.day):
                late = (self.day - w.deadline).days
                out.append(f"OVERDUE: access review #{w.campaign_id} {name}: {w.open} undecided, the deadline was "
                           f"{w.deadline.isoformat()} ({late} day{'s' * (late != 1)} ago)")
            else:
                left = (w.deadline - self.day).days
                out.append(f"Access review #{w.campaign_id} {name}: {w.open} undecided, deadline "
                           f"{w.deadline.isoformat()} ({'today' if left == 0 else f'{left} day' + 's' * (left != 1) + ' left'})")
        return out

    def links(self) -> list[str]:
        if not self.url:
            return []
        return [f"Open access review #{w.campaign_id}: {self.url}/{PAGE}?campaign={w.campaign_id}" for w in self.waiting]

    def text(self) -> str:
        links = self.links()
        return "\n".join(self.lines() + ([""] + links if links else [])) + "\n"


def reminders(services, today: dt.date | None = None) -> list[Reminder]:
    """Per person of the users file with undecided items they may decide in an open campaign: one Reminder
    (campaigns oldest first). `today` defaults to the services' clock (UTC)."""
    today = today or services.clock().astimezone(dt.timezone.utc).date()
    store = campaigns.store_for(services)
    undecided = [(c, [i for i in store.items(c.id) if i.decision is None])
                 for c in sorted(store.list(), key=lambda c: c.id) if c.open]
    undecided = [(c, items) for c, items in undecided if items]
    if not undecided:
        return []
    base = services.settings.base_url.rstrip("/")
    out = []
    for person, roles in services.notifications.people():
        reviewer = Actor(person.username, person.name, person.email, tuple(roles))
        waiting = tuple(Waiting(c.id, c.name, c.deadline, n) for c, items in undecided
                        if (n := sum(campaigns.may_review(reviewer, i) for i in items)))
        if waiting:
            out.append(Reminder(person, today, waiting, base))
    return sorted(out, key=lambda r: r.recipient.username)


def channel_names(services) -> list[str]:
    pm = services.notifications.pm
    return [pm.get_name(impl.plugin) or type(impl.plugin).__name__ for impl in getattr(pm.hook, HOOK).get_hookimpls()]


def deliver(services, reminder: Reminder) -> list[str]:
    """Call every plugin's access_review_reminder for `reminder` (to its recipient alone); the channels that
    took it (a channel that raises is logged, the others still get it)."""
    pm = services.notifications.pm
    took = []
    for impl in getattr(pm.hook, HOOK).get_hookimpls():
        name = pm.get_name(impl.plugin) or type(impl.plugin).__name__
        try:
            impl.function(message=reminder, recipients=[reminder.recipient])
        except Exception as exc:  # a channel down: logged, the others still get it
            LOGGER.warning("reminder %s via %s failed: %s", reminder.key, name, f"{type(exc).__name__}: {exc}"[:300])
        else:
            took.append(name)
    return took


@dataclass
class ReminderRun:
    """What a run did: `sent` [(reminder, channels)], `new` (dry run: what would go), `already` keys sent
    before (today), `failed` reminders no channel took (tried again next run), `pending` over MAX_REMINDERS."""
    sent: list[tuple[Reminder, list[str]]] = field(default_factory=list)
    new: list[Reminder] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[Reminder] = field(default_factory=list)
    pending: list[Reminder] = field(default_factory=list)


def run_reminders(services, dry_run: bool = False) -> ReminderRun:
    """Send today's reminders, each once. `dry_run`: claim and send nothing, list them (ReminderRun.new).
    Raises app.findings_state.StateError when the ledger cannot be written, app.snowflake_tables.TableError (a
    QueryError) when the campaign tables cannot be read (audit_log = "snowflake")."""
    from app.alerts import send_once

    return send_once(services, reminders(services), lambda r: "access-review", deliver, MAX_REMINDERS,
                     ReminderRun(), dry_run)
