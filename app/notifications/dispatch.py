"""The dispatcher: operations call `notify(...)` after their write succeeded; plugins deliver in
background threads. Best effort by design: a plugin that fails, hangs or is slow never blocks, fails or
rolls back the request. Each delivery is bounded by the plugin's own timeout (settings.notify_timeout)
and failures are logged (logger "snowtower.notifications"), never shown in the browser."""
from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable, Iterable

import pluggy

from app.notifications import hookspecs
from app.notifications.message import (ACTIONS, AUDIENCE, DECISIONS, PAGES, Message, Recipient, valid_email)
from core.changes.model import Actor, ChangeRequest

LOGGER = logging.getLogger("snowtower.notifications")
MAX_PENDING = 200  # deliveries waiting at once per plugin; beyond this new ones are dropped (and logged), never queued for ever


class Notifier:
    """Calls the notification hooks of the registered plugins for one event at a time.

    `people()` -> [(Recipient, roles)]: everyone in the users file, read when a message goes out.
    `plugins`: objects with `@hookimpl` methods (app.notifications.slack, .smtp, .github_reviews);
    `entry_points`: also load third-party plugins from the "snowtower.notifications" group."""

    def __init__(self, people: Callable[[], list[tuple[Recipient, tuple[str, ...]]]], plugins: Iterable[object] = (),
                 *, base_url: str = "", entry_points: bool = False, workers: int = 4):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs.NotificationSpec)
        for plugin in plugins:
            self.pm.register(plugin, name=getattr(plugin, "name", None))
        if entry_points:
            for name, plugin in third_party_plugins():
                # Why: a third-party plugin whose hooks do not match the specs must not take the portal (and
                # the other channels) down with it: it is left out and the reason logged.
                try:
                    self.pm.register(plugin, name=name)
                except Exception as exc:
                    LOGGER.error("notification plugin %s could not be registered, it is left out: %s", name,
                                 f"{type(exc).__name__}: {exc}"[:500])
        self.people = people
        self.base_url = base_url.rstrip("/")
        self._workers = workers
        # One pool per plugin: a plugin that hangs (a third-party one may have no timeout) holds up only its
        # own deliveries, never Slack's or email's.
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pending: dict[str, set[Future]] = {}
        self._lock = threading.Lock()

    # -- what operations call ----------------------------------------------------------------------
    def notify(self, event: str, cr: ChangeRequest, actor: Actor, comment: str = "", decision: str = "",
               requester_names: Iterable[str] = ()) -> None:
        """Queue `event` (a hook name) about `cr`, done by `actor`, for every plugin; returns at once.
        `decision` (request_decided: approve | request_changes | reject); `requester_names`: every name the
        requester goes by (a GitHub login and its portal user). Never raises."""
        try:
            if event not in hookspecs.EVENTS:
                raise ValueError(f"unknown notification event {event!r}")
            impls = getattr(self.pm.hook, event).get_hookimpls()
            if not impls:
                return
            message = self.message(event, cr, actor, comment, decision)
            names = {n.casefold() for n in (*requester_names, cr.requester)}
            for impl in impls:
                self._submit(event, impl, message, names, actor)
        except Exception:  # best effort: nothing here may fail the request that was just written
            LOGGER.warning("notification %s about #%s could not be queued", event, getattr(cr, "id", "?"), exc_info=True)

    def message(self, event: str, cr: ChangeRequest, actor: Actor, comment: str = "", decision: str = "") -> Message:
        from recipes import recipe_named

        recipe = recipe_named(cr.recipe)
        page = PAGES.get(event, "my-requests")
        return Message(
            event=event, action=DECISIONS.get(decision, "decided on") if event == "request_decided" else ACTIONS[event],
            request_id=cr.id, kind=recipe.title if recipe else cr.recipe, title=cr.title, status=cr.status.label,
            requester=cr.requester, actor=actor.username, actor_name=actor.name, comment=comment,
            url=f"{self.base_url}/{page}?request={cr.id}" if self.base_url else "", pr_url=cr.url or "",
            merge_commit=(cr.merged_sha or "") if event in ("request_merged", "request_deployed") else "")

    def recipients(self, event: str, requester_names: set[str], actor: Actor) -> list[Recipient]:
        """Who hears about `event`, from the users file, never the person who acted: approvers and admins
        other than the requester (request_created, _resubmitted, _withdrawn), admins (request_awaiting_merge),
        or the requester (decisions, merge, deployment)."""
        audience = AUDIENCE[event]
        out = []
        for person, roles in self.people():
            me = person.username.casefold()
            if me == actor.username.casefold():
                continue
            if audience == "requester":
                wanted = me in requester_names
            elif audience == "admins":
                wanted = "admin" in roles
            else:
                wanted = bool({"approver", "admin"} & set(roles)) and me not in requester_names
            if wanted:
                out.append(person)
        return sorted(out, key=lambda p: p.username)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait up to `timeout` seconds for queued deliveries; True when none is left (tests, the CLI)."""
        with self._lock:
            pending = set().union(*self._pending.values())
        done, not_done = wait(pending, timeout=timeout)
        return not not_done

    # -- delivery ----------------------------------------------------------------------------------
    def _submit(self, event: str, impl, message: Message, names: set[str], actor: Actor) -> None:
        plugin = self.pm.get_name(impl.plugin) or type(impl.plugin).__name__
        with self._lock:
            pending = self._pending.setdefault(plugin, set())
            if len(pending) >= MAX_PENDING:
                LOGGER.error("notification %s about %s via %s dropped: %d deliveries are still waiting (is a receiver down?)",
                             event, message.ref, plugin, len(pending))
                return
            if plugin not in self._pools:
                self._pools[plugin] = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix=f"snowtower-notify-{plugin}"[:40])
            future = self._pools[plugin].submit(self._deliver, event, impl, message, names, actor)
            pending.add(future)
        future.add_done_callback(lambda done: self._done(plugin, done))

    def _done(self, plugin: str, future: Future) -> None:
        with self._lock:
            self._pending[plugin].discard(future)

    def _deliver(self, event: str, impl, message: Message, names: set[str], actor: Actor) -> None:
        plugin = self.pm.get_name(impl.plugin) or type(impl.plugin).__name__
        try:
            recipients = self.recipients(event, names, actor)
            impl.function(**{"message": message, "recipients": recipients})
        except Exception as exc:  # the plugin's failure is the log's business, not the requester's
            LOGGER.warning("notification %s about %s via %s failed: %s", event, message.ref, plugin,
                           f"{type(exc).__name__}: {exc}"[:500])
        else:
            LOGGER.info("notification %s about %s sent via %s", event, message.ref, plugin)


@functools.lru_cache(maxsize=1)
def third_party_plugins() -> tuple:
    """(name, plugin) for each entry point of the group "snowtower.notifications", loaded once per process
    (scanning the installed packages costs tens of milliseconds)."""
    from importlib.metadata import entry_points

    out = []
    for ep in entry_points(group=hookspecs.PROJECT):
        # Why: a plugin that cannot be imported (a missing module, an error in it) must not stop the portal
        # or the other channels: it is left out and the reason logged.
        try:
            out.append((ep.name, ep.load()))
        except Exception as exc:
            LOGGER.error("notification plugin %s could not be loaded, it is left out: %s", ep.name,
                         f"{type(exc).__name__}: {exc}"[:500])
    return tuple(out)


def users_file_people(path, mode: str) -> Callable[[], list[tuple[Recipient, tuple[str, ...]]]]:
    """`people()` over the users file at `path` (read again when it changes): each login with its display
    name, email (only a valid single address, else "") and roles. Unreadable: [] (and logged)."""
    seen: dict = {}

    def people() -> list[tuple[Recipient, tuple[str, ...]]]:
        from app.identity import users_file  # the one reader of the users file

        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if seen.get("stamp") != stamp:
                users = users_file.read_users(path, mode)["credentials"]["usernames"]
                out = []
                for login, entry in users.items():
                    email = entry.get("email", "").strip()
                    if email and not valid_email(email):
                        LOGGER.warning("the users file gives %s an invalid email address; no email goes there", login)
                        email = ""
                    name = " ".join(p for p in (entry.get("first_name", ""), entry.get("last_name", "")) if p)
                    out.append((Recipient(login, name, email), tuple(entry.get("roles", ()))))
                seen.update(stamp=stamp, people=out)
        except (OSError, users_file.UsersFileError):
            LOGGER.warning("the users file could not be read: notifications have no recipients", exc_info=True)
            return []
        return seen["people"]
    return people
