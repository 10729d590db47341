"""Which notification plugins run, from the settings and the notification secrets."""
from __future__ import annotations

import logging

from app.host import SecretsSource, host_secrets
from app.notifications.dispatch import Notifier, users_file_people

LOGGER = logging.getLogger("snowtower.notifications")
SECRETS = ("slack_webhook_url", "slack_bot_token", "smtp_password")


def notify_secrets(settings, secrets: SecretsSource = host_secrets) -> dict:
    """The Slack webhook URL, Slack bot token and SMTP password, {"slack_webhook_url", "slack_bot_token",
    "smtp_password"} ("" when unset): the secret settings notify_slack_webhook_url, notify_slack_bot_token and
    notify_smtp_password (environment SNOWTOWER_NOTIFY_..., or st.secrets [snowtower]), then the older
    [notify] table of the host's secrets (`secrets`, app.host: st.secrets in the portal, none in the command
    line). Never logged or shown (like app.settings.github_secrets)."""
    out = {}
    for name in SECRETS:
        value = getattr(settings, f"notify_{name}", None)
        out[name] = value.get_secret_value() if value is not None else ""
    if not all(out.values()):
        try:
            source = secrets()
            section = dict(source.get("notify", {})) if source is not None else {}
        except Exception:  # no secrets.toml: not an error, that channel is off
            section = {}
        out = {name: out[name] or str(section.get(name) or "") for name in SECRETS}
    return out


def channels(settings, secrets: SecretsSource = host_secrets) -> list:
    """The included channel plugins these settings turn on: Slack when a webhook URL, or a bot token and
    channel, are set; email when notify_smtp_host is. A channel whose settings are wrong is left out and
    the reason logged."""
    from app.notifications.slack import SlackPlugin
    from app.notifications.smtp import EmailPlugin

    found = notify_secrets(settings, secrets)
    plugins: list = []
    if found["slack_webhook_url"] or found["slack_bot_token"]:
        try:
            plugins.append(SlackPlugin(webhook_url=found["slack_webhook_url"], bot_token=found["slack_bot_token"],
                                       channel=settings.notify_slack_channel, api_url=settings.notify_slack_api_url,
                                       timeout=settings.notify_timeout))
        except ValueError as exc:
            LOGGER.error("Slack notifications are off: %s", exc)
    if settings.notify_smtp_host:
        try:
            plugins.append(EmailPlugin(host=settings.notify_smtp_host, port=settings.notify_smtp_port,
                                       tls=settings.notify_smtp_tls, user=settings.notify_smtp_user,
                                       password=found["smtp_password"], sender=settings.notify_smtp_from,
                                       timeout=settings.notify_timeout))
        except ValueError as exc:
            LOGGER.error("email notifications are off: %s", exc)
    return plugins


def notifier_for(settings, workspace, secrets: SecretsSource = host_secrets) -> Notifier:
    """The Notifier for these settings: the channels() they turn on, plus third-party plugins (entry point
    group "snowtower.notifications"); recipients from the workspace's users file. A channel whose settings
    are wrong is left out and the reason logged: the portal still starts. `secrets`: the host's (app.host)."""
    return Notifier(users_file_people(workspace.auth_path, settings.mode), channels(settings, secrets), base_url=settings.base_url,
                    entry_points=True)
