"""What a notification says, in plain text, and who receives it. Channels (Slack, email) escape this text
for their own format; nothing here is Markdown, HTML or mrkdwn."""
from __future__ import annotations

import re
from dataclasses import dataclass

from core.plaintext import one_line

MAX_COMMENT = 2_000  # characters of a reviewer's comment quoted in a message (the rest is on the portal)

# What the actor did, per event (a decision names its own).
ACTIONS = {
    "request_created": "asked for", "request_resubmitted": "edited and resubmitted",
    "request_awaiting_merge": "approved (it now waits to be merged)", "request_merged": "merged",
    "request_deployed": "deployed", "request_withdrawn": "withdrew",
    "request_deploy_failed": "could not deploy",
}
DECISIONS = {"approve": "approved", "request_changes": "asked for changes on", "reject": "rejected"}
# Where the link in a message leads: the reviewers' queue or the requester's own list.
PAGES = {"request_created": "review", "request_resubmitted": "review", "request_awaiting_merge": "review",
         "request_withdrawn": "review"}
# Who hears about each event: approvers (and admins), admins, or the requester.
AUDIENCE = {"request_created": "approvers", "request_resubmitted": "approvers", "request_withdrawn": "approvers",
            "request_awaiting_merge": "admins", "request_decided": "requester", "request_merged": "requester",
            "request_deployed": "requester", "request_deploy_failed": "admins"}

# An address the users file may give: one mailbox, no spaces, quotes, brackets or line breaks, so it can
# never carry a second header or recipient.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")


def valid_email(address: str) -> bool:
    """True for one plain address (local@domain.tld, at most 254 characters)."""
    return len(address) <= 254 and bool(_EMAIL.fullmatch(address))


@dataclass(frozen=True)
class Recipient:
    """Someone to tell, from the users file: login, display name, email ("" when none or invalid)."""
    username: str
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class Message:
    """One notification. `event` is a hook name (hookspecs.EVENTS); `action` the verb shown ("approved");
    `request_id`, `kind` (the recipe's title), `title` and `status` describe the request; `actor` and
    `actor_name` who acted; `comment` what they wrote (plain text, may be hostile); `url` the link to the
    request in the portal ("" without settings.base_url) and `pr_url` its pull request ("" in the demo)."""
    event: str
    action: str
    request_id: int
    kind: str
    title: str
    status: str
    requester: str
    actor: str
    actor_name: str = ""
    comment: str = ""
    url: str = ""
    pr_url: str = ""
    merge_commit: str = ""

    @property
    def ref(self) -> str:
        return f"#{self.request_id}"

    @property
    def who(self) -> str:
        """`Avery Approver (approver)`, or the login alone."""
        name = one_line(self.actor_name, 100)
        return f"{name} ({self.actor})" if name and name != self.actor else self.actor

    def subject(self) -> str:
        """One line, at most 200 characters: `[SnowTower] #12 approved: New person user JANE_DOE`."""
        verb = {"asked for": "waits for review"}.get(self.action, self.action.split(" (")[0])
        return one_line(f"[SnowTower] {self.ref} {verb}: {self.title}", 200)

    def lines(self) -> list[str]:
        """The message as plain-text lines: who did what to which request, and the comment."""
        about = [self.ref, one_line(self.kind, 100), f"requested by {self.requester}" if self.requester else "",
                 f"now {self.status}"]
        out = [f"{self.who} {self.action} {self.ref}: {one_line(self.title, 300)}",
               "Request: " + " · ".join(part for part in about if part)]
        if self.merge_commit:
            out.append(f"Merge commit: {self.merge_commit[:12]}")
        if self.comment.strip():
            comment = self.comment.strip()
            out += ["", "Comment:", comment if len(comment) <= MAX_COMMENT else comment[:MAX_COMMENT] + " […]"]
        return out

    def links(self) -> list[str]:
        """`label: URL` lines for the portal's page of the request and its pull request (addresses from the
        settings and GitHub, never typed by anyone)."""
        return ([f"Open it in SnowTower: {self.url}"] if self.url else []) + (
            [f"Pull request: {self.pr_url}"] if self.pr_url else [])

    def text(self) -> str:
        """The whole message as plain text (lines, a blank line, links)."""
        links = self.links()
        return "\n".join(self.lines() + ([""] + links if links else [])) + "\n"
