"""`snowtower alerts`: events worth telling the admins about, sent once each through the notification
plugins (Slack, e-mail, third-party: hook `alert_raised`), with a ledger so nothing is sent twice.

Events come from *providers*: a provider is a function `(services, source) -> list[AlertEvent]` registered
with `register(name, provider)` (PROVIDERS keeps the order). This module registers "findings" (a new
critical or high finding, open and not accepted); other modules add theirs the same way (spend over a
threshold or a budget share, an anomalous day) by calling `register` when they are imported, and listing
their module in PROVIDER_MODULES so `snowtower alerts` imports it. An event's `key` is what makes it once:
the same key is never sent twice (table `alert_sent` of the workspace's records, unique key: two runs at
once cannot both claim it). A key should name the event, not the run: e.g. "finding:CODE:OBJECT:first-seen
date" (a finding that was resolved and came back is a new event) or "spend:anomaly:2025-11-03".

Delivery: every plugin's `alert_raised(message, recipients)` is called in turn, synchronously, each
failure logged; the event counts as sent when at least one channel took it, else its claim is released and
the next run tries again; a claim left by a run that died before sending is taken over after CLAIM_LEASE.
Recipients: the admins of the users file.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
from dataclasses import dataclass, field
from typing import Callable

from core.plaintext import one_line

LOGGER = logging.getLogger("snowtower.alerts")
ALERT_SEVERITIES = ("critical", "high")
# A claim not sent within this time belongs to a run that died (killed, timed out) between claiming and
# sending: the next run takes the event over. Longer than a delivery can take (every channel has a timeout).
CLAIM_LEASE = dt.timedelta(minutes=30)
MAX_EVENTS = 200  # events sent in one run; the rest wait for the next run (a flood is not a notification)
# Modules that register providers when imported (cost-recs adds its spend module here).
PROVIDER_MODULES: list[str] = ["app.cost_alerts"]  # spend over a threshold or a budget share, anomalous days


@dataclass(frozen=True)
class AlertEvent:
    """One event: `key` unique and stable across runs ("finding:ADMIN_WITHOUT_MFA:ADMIN:2025-11-30");
    `source` the provider's name; `severity` (critical | high | medium | low); `title` one line; `details`
    plain-text lines (account-provided names are untrusted: channels escape them); `page` the portal page it
    links to ("security", "cost")."""
    key: str
    source: str
    severity: str
    title: str
    details: tuple[str, ...] = ()
    page: str = ""


@dataclass(frozen=True)
class AlertMessage:
    """What the channels render (the shape of app.notifications.message.Message: subject, lines, links,
    ref, text)."""
    event: AlertEvent
    url: str = ""
    action: str = "alert"

    @property
    def ref(self) -> str:
        return self.event.key

    def subject(self) -> str:
        return one_line(f"[SnowTower] {self.event.severity.upper()}: {self.event.title}", 200)

    def lines(self) -> list[str]:
        return [f"{self.event.severity.upper()} ({self.event.source}): {one_line(self.event.title, 300)}"] + [
            one_line(line, 500) for line in self.event.details[:20]]

    def links(self) -> list[str]:
        return [f"Open it in SnowTower: {self.url}"] if self.url else []

    def text(self) -> str:
        links = self.links()
        return "\n".join(self.lines() + ([""] + links if links else [])) + "\n"


Provider = Callable[[object, object], list[AlertEvent]]
PROVIDERS: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Add (or replace) the event provider `name`: `provider(services, source)` -> [AlertEvent]."""
    PROVIDERS[name] = provider


def findings_events(services, source) -> list[AlertEvent]:
    """A new critical or high finding (app.findings_list), open and not accepted: one event per finding and
    first sighting."""
    from app.findings_list import findings_list

    found = findings_list(services, source)
    if found is None:
        return []
    out = []
    for f in found.open(ALERT_SEVERITIES):
        state = found.state(f)
        details = (f.message,) + tuple(f.evidence) + (
            (f"Fix: a {f.fix.recipe} request (the Security page's Fix button)",) if f.fix else ()) + (
            f"first seen {state.first_seen:%Y-%m-%d %H:%M} UTC",)
        out.append(AlertEvent(f"finding:{f.key}:{state.first_seen:%Y-%m-%d}", "findings", f.severity,
                              f"{f.code} on {f.object}", details, "security"))
    return out


register("findings", findings_events)


@dataclass
class AlertRun:
    """What a run did: `sent` [(event, channels)], `already` keys sent before, `failed` events no channel took,
    `pending` events left for the next run (over MAX_EVENTS); `errors` providers that failed (name, reason)."""
    sent: list[tuple[AlertEvent, list[str]]] = field(default_factory=list)
    new: list[AlertEvent] = field(default_factory=list)  # --dry-run: what would be sent
    already: list[str] = field(default_factory=list)
    failed: list[AlertEvent] = field(default_factory=list)
    pending: list[AlertEvent] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def collect(services, source) -> tuple[list[AlertEvent], list[tuple[str, str]]]:
    """Every provider's events (most severe first), and the providers that failed with their reason."""
    from core.findings import SEVERITY_ORDER

    for module in PROVIDER_MODULES:
        importlib.import_module(module)
    events, errors = [], []
    for name, provider in PROVIDERS.items():
        try:
            events += provider(services, source)
        except Exception as exc:  # one source down must not silence the others
            LOGGER.warning("alert provider %s failed", name, exc_info=True)
            errors.append((name, f"{type(exc).__name__}: {exc}"[:300]))
    return sorted(events, key=lambda e: (SEVERITY_ORDER.get(e.severity, 9), e.key)), errors


def admins(services) -> list:
    """The admins of the users file (app.notifications.Recipient), who hear about alerts."""
    return [person for person, roles in services.notifications.people() if "admin" in roles]


def deliver(services, event: AlertEvent) -> list[str]:
    """Call every plugin's alert_raised for `event`; the names of the channels that took it."""
    base = services.settings.base_url.rstrip("/")
    message = AlertMessage(event, f"{base}/{event.page}" if base and event.page else "")
    recipients = admins(services)
    took = []
    pm = services.notifications.pm
    for impl in pm.hook.alert_raised.get_hookimpls():
        name = pm.get_name(impl.plugin) or type(impl.plugin).__name__
        try:
            impl.function(message=message, recipients=recipients)
        except Exception as exc:  # a channel down: logged, the others still get it
            LOGGER.warning("alert %s via %s failed: %s", event.key, name, f"{type(exc).__name__}: {exc}"[:300])
        else:
            took.append(name)
    return took


def channel_names(services) -> list[str]:
    pm = services.notifications.pm
    return [pm.get_name(impl.plugin) or type(impl.plugin).__name__ for impl in pm.hook.alert_raised.get_hookimpls()]


def run_alerts(services, source, dry_run: bool = False) -> AlertRun:
    """Send each new event once. `dry_run`: claim and send nothing, list what would go (AlertRun.new).
    Raises app.findings_state.StateError when the records cannot be written."""
    events, errors = collect(services, source)
    return send_once(services, events, lambda e: e.source, deliver, MAX_EVENTS, AlertRun(errors=errors), dry_run)


def send_once(services, items, source_of, deliver_one, limit: int, run, dry_run: bool = False):
    """The once-only sending shared by alerts and access-review reminders: each item (with a `.key`) not
    sent before is claimed in the ledger (app.findings_state: a claim older than CLAIM_LEASE is taken over),
    delivered by `deliver_one(services, item) -> [channel names]`, then marked sent, or released when no
    channel took it (tried again next run). At most `limit` are tried; the rest wait (`run.pending`).
    `run` has lists sent [(item, channels)], new, already, failed, pending; `dry_run` claims nothing and
    lists in `run.new` what would go. Returns `run`. Raises StateError when the ledger cannot be written."""
    from app.findings_state import states_for

    states = states_for(services)
    for item in items:
        stale_before = services.clock() - CLAIM_LEASE
        if states.was_sent(item.key, stale_before):
            run.already.append(item.key)
            continue
        if dry_run:
            run.new.append(item)
            continue
        if len(run.sent) + len(run.failed) >= limit:
            run.pending.append(item)
            continue
        if not states.claim(item.key, source_of(item), services.clock(), stale_before):
            run.already.append(item.key)  # another run took it a moment ago
            continue
        took = deliver_one(services, item)
        if took:
            states.sent(item.key, took, services.clock())
            run.sent.append((item, took))
        else:
            states.release(item.key)
            run.failed.append(item)
    return run
