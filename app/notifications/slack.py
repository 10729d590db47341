"""Slack: an incoming webhook, or a bot token posting to a channel with chat.postMessage.

Messages are plain text (mrkdwn off), every piece escaped with core.plaintext.slack_escape: nothing
anyone typed becomes a mention, a link or formatting. Only the portal's own link is left linkable."""
from __future__ import annotations

from typing import Any

import requests

from app.notifications.hookspecs import EveryEvent
from app.notifications.message import Message, Recipient
from core.plaintext import slack_escape

MAX_TEXT = 3_500  # characters: Slack truncates a message's text at 40,000 and shows 4,000 before "Show more"


class SlackError(RuntimeError):
    """Slack refused or did not take the message (the reason, never the webhook URL or token)."""


class SlackPlugin(EveryEvent):
    """Posts each notification once to the team's channel, naming its recipients.

    `webhook_url` (an incoming webhook: the channel is the webhook's) or `bot_token` + `channel`
    (chat.postMessage at `api_url`); `timeout` seconds per attempt (one attempt: best effort)."""

    name = "slack"

    def __init__(self, *, webhook_url: str = "", bot_token: str = "", channel: str = "",
                 api_url: str = "https://slack.com/api", timeout: float = 5.0):
        if not webhook_url and not (bot_token and channel):
            raise ValueError("Slack needs an incoming webhook URL, or a bot token and a channel.")
        self.webhook_url, self.bot_token, self.channel = webhook_url, bot_token, channel
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:  # never the webhook URL or token (they are secrets)
        return f"SlackPlugin({'webhook' if self.webhook_url else 'bot token'})"

    @staticmethod
    def render(message: Message, recipients: list[Recipient]) -> str:
        """The message as Slack text: plain, escaped, the recipients named (Slack has no address for them)."""
        lines = [slack_escape(line) for line in message.lines()]
        links = message.links()  # the portal's and GitHub's addresses: the only links, control characters escaped
        if links:
            lines += [""] + [link.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for link in links]
        if recipients:
            lines.insert(0, "For: " + ", ".join(slack_escape(r.name or r.username) for r in recipients))
        text = "\n".join(lines)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " […]"

    def send(self, message: Message, recipients: list[Recipient]) -> None:
        self.post(self.render(message, recipients))

    def post(self, text: str) -> None:
        """Post `text` once. Raises SlackError when Slack does not take it (the reason never holds the
        webhook URL or the token: requests' own messages name the URL, so only their type is kept)."""
        try:
            self._post(text)
        except requests.RequestException as exc:
            raise SlackError(f"Slack could not be reached ({type(exc).__name__})") from None

    def _post(self, text: str) -> None:
        payload: dict[str, Any] = {"text": text, "mrkdwn": False, "parse": "none", "link_names": False,
                   "unfurl_links": False, "unfurl_media": False}
        if self.webhook_url:
            response = requests.post(self.webhook_url, json=payload, timeout=self.timeout, allow_redirects=False)
            if response.status_code != 200:
                raise SlackError(f"the webhook answered {response.status_code}: {response.text[:200]}")
            return
        response = requests.post(f"{self.api_url}/chat.postMessage", json=payload | {"channel": self.channel},
                                 headers={"Authorization": f"Bearer {self.bot_token}"}, timeout=self.timeout,
                                 allow_redirects=False)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or not body.get("ok"):
            raise SlackError(f"chat.postMessage answered {response.status_code}: {body.get('error') or response.text[:200]}")
