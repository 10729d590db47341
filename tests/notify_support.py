"""Receivers the notification tests start on 127.0.0.1 (random ports): a Slack-like webhook and Web API
(http.server), and an SMTP server (aiosmtpd), optionally with STARTTLS and login."""
from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml


class SlackReceiver:
    """Records every POST (path, headers, JSON body). `status`: what it answers; `hold`: an Event each
    request waits on before answering (a hung receiver); `api_error`: chat.postMessage's ok=false error."""

    def __init__(self):
        self.posts: list[dict] = []
        self.status = 200
        self.api_error = ""
        self.hold: threading.Event | None = None
        self.received = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with receiver.received:
                    receiver.posts.append({"path": self.path, "headers": dict(self.headers), "json": body})
                    receiver.received.notify_all()
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                if self.path.endswith("/chat.postMessage"):
                    answer = {"ok": not receiver.api_error} | ({"error": receiver.api_error} if receiver.api_error else {})
                    data, kind = json.dumps(answer).encode(), "application/json; charset=utf-8"
                else:
                    data, kind = (b"ok" if receiver.status == 200 else b"server_error"), "text/plain"
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def texts(self) -> list[str]:
        return [p["json"]["text"] for p in self.posts]

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        with self.received:
            return self.received.wait_for(lambda: len(self.posts) >= count, timeout)

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPReceiver:
    """aiosmtpd on 127.0.0.1: `messages` holds (envelope recipients, parsed email) per message.
    `tls_context`: offer STARTTLS (required before login); `logins`: {user: password} accepted."""

    def __init__(self, tls_context=None, logins: dict | None = None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[tuple[list[str], object]] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.SMTP)))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = logins is not None and logins.get(auth_data.login.decode()) == auth_data.password.decode()
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

        kwargs = {}
        if tls_context is not None:
            kwargs = dict(tls_context=tls_context, require_starttls=True, authenticator=authenticator,
                          auth_require_tls=True)
        self.port = free_port()  # aiosmtpd connects to its own port once started: it needs a real one
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


USERS = {
    "requester": ("Riley", "Requester", "riley@company.example", ["requester"]),
    "approver": ("Avery", "Approver", "avery@company.example", ["requester", "approver"]),
    "admin": ("Ada", "Admin", "ada@company.example", ["requester", "approver", "admin"]),
    # An address that would add a header if it reached one: never used.
    "mallory": ("Mal", "Lory", "mal@company.example\r\nBcc: all@company.example", ["requester", "approver"]),
}


def write_users(workspace, users: dict | None = None) -> None:
    """The users file with display names, emails and roles (placeholder hashes: nobody signs in)."""
    from portal.auth import new_users_file

    entries = {login: {"first_name": first, "last_name": last, "email": email, "password": "$2b$12$" + "x" * 53,
                       "roles": roles} for login, (first, last, email, roles) in (users or USERS).items()}
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "auth.yaml").write_text(yaml.safe_dump(new_users_file(entries)))
