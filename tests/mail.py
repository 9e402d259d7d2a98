"""A real SMTP server on loopback (aiosmtpd) and the mailbox of what it received.

The `smtp_server` fixture in tests/conftest.py starts one per test and points Django at it;
the browser and integration tests read their emails here, as a person would in their inbox.
"""

import email
import email.policy
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage

# allauth's codes: "ABCD-EFGH" by default, or digits; alone on their line of the email.
CODE_LINE = re.compile(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})*)\s*$", re.MULTILINE)
LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Received:
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    def links(self, contains: str = "") -> list[str]:
        """The links in the plain text, in order, that contain `contains`."""
        return [link for link in LINK.findall(self.text) if contains in link]


class Mailbox:
    """The messages an SMTP server on loopback received; the server's thread appends.

    `stop()` closes the port, as a mail server that is down; `start()` opens it again.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        # A fresh controller each time: aiosmtpd's is not meant to be started twice.
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(Received(tuple(a.lower() for a in envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def since(self, position: int) -> list[Received]:
        """What arrived after the first `position` messages."""
        with self._lock:
            return self.messages[position:]

    def tally(self, position: int = 0) -> Counter:
        """How many times each (recipient, subject) arrived after `position`."""
        return Counter((recipient, received.subject) for received in self.since(position)
                       for recipient in received.recipients)

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if address.lower() in m.recipients]

    def wait_for(self, address: str, *, subject: str = "", after: int = 0,
                 timeout: float = 20.0) -> Received:
        """The latest message to `address` (whose subject contains `subject`) beyond the
        first `after` ones to that address; waits for the worker to send it."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address)[after:] if subject.lower() in m.subject.lower()]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                seen = [(m.recipients, m.subject) for m in self.messages]
                raise AssertionError(f"No email to {address} with {subject!r} in its subject "
                                     f"after {timeout} s; the server got {seen}")
            time.sleep(0.1)

    def latest_code(self, address: str, **wait) -> str:
        """The code in the latest email to `address` (a line of its own, like ABCD-EFGH)."""
        received = self.wait_for(address, **wait)
        codes = CODE_LINE.findall(received.text)
        assert codes, f"No code in {received.subject!r}:\n{received.text}"
        return codes[-1]

    def latest_link(self, address: str, contains: str = "", **wait) -> str:
        received = self.wait_for(address, **wait)
        links = received.links(contains)
        assert links, f"No link with {contains!r} in {received.subject!r}:\n{received.text}"
        return links[0]
