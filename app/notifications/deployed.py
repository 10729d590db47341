"""The deployment notice in GitHub mode: the merge-deploy workflow deploys, then runs
`snowtower notify deployed --pr N`, which sends `request_deployed` through the same Notifier and hook as
the portal (docs/notifications.md, "GitHub mode").

Trust: the workflow has the notification secrets and a read-only GitHub token, never the portal's signing
key, so the request record cannot be verified and is not read (core.changes.github.deployed). The message
names no requester and goes to no recipient: the Slack channel hears about it; no e-mail is sent, since the
only addresses SnowTower trusts are the portal's users file, which the workflow does not have."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.notifications.config import channels
from app.notifications.dispatch import Notifier
from app.notifications.smtp import EmailPlugin
from core.changes.model import Actor

LOGGER = logging.getLogger("snowtower.notifications")
ACTOR = Actor("merge-deploy", "The merge-deploy workflow")  # who deployed (the workflow, not a person)


@dataclass
class DeployedNotice:
    """What `notify_deployed` did: `number` the pull request, `title` its title (typed by someone),
    `channels` the plugins the notice went to ([] when none is set: nothing was sent, GitHub was not asked),
    `finished` False when a delivery was still under way at the deadline, `notes` lines for the log."""
    number: int
    title: str = ""
    channels: list[str] = field(default_factory=list)
    finished: bool = True
    notes: list[str] = field(default_factory=list)


def deadline(settings) -> float:
    """Seconds to wait for the deliveries: a Slack post is a connect and a read, each bounded by
    notify_timeout; one more second of slack."""
    return 3 * settings.notify_timeout + 1


def notify_deployed(settings, number: int, repo=None, event: str = "request_deployed") -> DeployedNotice:
    """Tell the notification channels that pull request `number` was deployed (`event`
    "request_deployed"), or that its deployment failed ("request_deploy_failed"), and wait (at most
    `deadline(settings)` seconds) for the deliveries. `repo`: a PyGithub Repository (default: from
    settings github_repository, github_base_url, github_token, github_timeout).

    Returns a DeployedNotice; a failed delivery is logged (logger snowtower.notifications), never raised.
    Raises core.changes.github.deployed.NotDeployable when GitHub does not vouch for it as a merged SnowTower
    request (nothing sent), ValueError when the GitHub settings are missing, and GithubException or
    requests' exceptions when GitHub cannot be asked (nothing sent)."""
    from core.changes.github.deployed import deployed_pull

    notice = DeployedNotice(number)
    plugins = []
    for plugin in channels(settings):
        if isinstance(plugin, EmailPlugin):
            notice.notes.append("email: not sent: the workflow trusts no address (the portal's users file is not "
                                "here, and none is taken from the pull request)")
        else:
            plugins.append(plugin)
    # Nobody is named: no users file, so the requester's audience is empty and the channel message says "For" no one.
    notifier = Notifier(lambda: [], plugins, base_url=settings.base_url, entry_points=True, workers=2)
    impls = getattr(notifier.pm.hook, event).get_hookimpls()
    if not impls:
        notice.notes.append("no notification channel is set (SNOWTOWER_NOTIFY_SLACK_WEBHOOK_URL, or "
                            "SNOWTOWER_NOTIFY_SLACK_BOT_TOKEN with SNOWTOWER_NOTIFY_SLACK_CHANNEL): nothing to send")
        return notice
    if repo is None:
        repo = _repository(settings)
    cr = deployed_pull(repo, number, base_branch=settings.base_branch, portal_login=settings.github_portal_login)
    if event == "request_deploy_failed":  # merged, not deployed
        import dataclasses

        from core.changes.model import Status

        cr = dataclasses.replace(cr, status=Status.MERGED)
    if not settings.github_portal_login:
        notice.notes.append("github_portal_login is not set: the pull request's author was not checked")
    notice.title = cr.title
    notice.channels = [notifier.pm.get_name(impl.plugin) or type(impl.plugin).__name__ for impl in impls]
    notifier.notify(event, cr, ACTOR)
    notice.finished = notifier.flush(deadline(settings))
    if not notice.finished:
        LOGGER.error("notification %s about #%s: a delivery was still under way after %.0f s; given up",
                     event, number, deadline(settings))
    return notice


def _repository(settings):
    from core.changes.github import GitHubConfig, connect

    if not settings.github_repository or settings.github_token is None or not settings.github_token.get_secret_value():
        raise ValueError("SNOWTOWER_GITHUB_REPOSITORY and SNOWTOWER_GITHUB_TOKEN (the workflow's github.token is "
                         "enough: it only reads the pull request) are needed")
    cfg = GitHubConfig(repository=settings.github_repository, base_url=settings.github_base_url,
                       token=settings.github_token.get_secret_value(), timeout=settings.github_timeout)
    return connect(cfg)().get_repo(settings.github_repository)
