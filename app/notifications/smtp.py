"""Email over SMTP: a plain-text message to each recipient's address from the users file.

What anyone typed reaches the body with the patterns mail clients link by themselves broken
(core.plaintext.break_links). Headers carry nothing anyone typed except the subject, which is one line (core.plaintext.one_line: no
CR, LF or other control character can start another header) and encoded by the email package."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from app.notifications.hookspecs import EveryEvent
from app.notifications.message import Message, Recipient, valid_email
from core.plaintext import break_links, one_line

TLS_MODES = ("starttls", "ssl", "none")  # STARTTLS on a plain port (587) | TLS from the start (465) | none (a local relay)


class EmailPlugin(EveryEvent):
    """Sends each notification to every recipient with an email address, in one SMTP session.

    `host`, `port`; `tls` one of TLS_MODES; `user` and `password` to log in (both or neither);
    `sender`: the From address; `timeout` seconds per SMTP command; `ssl_context` (default: the system's
    CAs, hostname checked)."""

    name = "email"

    def __init__(self, *, host: str, sender: str, port: int = 587, tls: str = "starttls", user: str = "",
                 password: str = "", timeout: float = 5.0, ssl_context: ssl.SSLContext | None = None):
        if tls not in TLS_MODES:
            raise ValueError(f"notify_smtp_tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        if not valid_email(sender):
            raise ValueError("notify_smtp_from must be one email address such as snowtower@company.com.")
        if bool(user) != bool(password):
            raise ValueError("an SMTP login needs both notify_smtp_user and the SMTP password secret.")
        self.host, self.port, self.tls, self.sender = host, int(port), tls, sender
        self.user, self.password, self.timeout = user, password, timeout
        self.ssl_context = ssl_context or ssl.create_default_context()

    def __repr__(self) -> str:  # never the password
        return f"EmailPlugin({self.host}:{self.port}, {self.tls})"

    def compose(self, message: Message, to: Recipient) -> EmailMessage:
        """One plain-text email to `to` (who must have a valid address)."""
        mail = EmailMessage()
        mail["From"] = formataddr(("SnowTower", self.sender))
        mail["To"] = to.email  # from the users file, checked by valid_email: one bare address
        mail["Subject"] = message.subject()
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: auto-responders do not answer it
        # the name comes from the users file, but is still text: no link formed in the greeting either
        hello = f"Hello {break_links(one_line(to.name, 100) or to.username)},"
        # Why: mail clients link https://..., www.... and name.tld in plain text by themselves; what was typed
        # (a comment, a reason) must not arrive from the portal as a link. Only the portal's and GitHub's are.
        links = message.links()
        text = "\n".join([break_links(line) for line in message.lines()] + ([""] + links if links else []))
        mail.set_content(f"{hello}\n\n{text}\n\n-- \nSnowTower: you get this because of your role in the portal.\n")
        return mail

    def send(self, message: Message, recipients: list[Recipient]) -> None:
        """One SMTP session for all of `recipients` with an address. Raises smtplib/OSError on failure."""
        to = [r for r in recipients if r.email and valid_email(r.email)]
        if not to:
            return
        smtp_session: smtplib.SMTP
        if self.tls == "ssl":
            smtp_session = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.ssl_context)
        else:
            smtp_session = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp_session as smtp:
            if self.tls == "starttls":
                smtp.starttls(context=self.ssl_context)
            if self.user:
                smtp.login(self.user, self.password)
            for person in to:
                smtp.send_message(self.compose(message, person))
