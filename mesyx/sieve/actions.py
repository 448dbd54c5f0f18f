"""What a SIEVE script decided for one message: the actions, in execution order.

The interpreter (:mod:`mesyx.sieve.interpret`) returns an :class:`Outcome`; the accept
pipeline carries it out (mailboxes and keywords into the envelope, reject, outbox items
for redirect, vacation and rejection notices), and ``mesyx sieve test`` prints it with
:meth:`Action.render`, one line each, e.g. ``fileinto "Lists" :flags "\\\\Seen"``.

Strings in rendered lines are quoted as SIEVE writes them (RFC 5228 section 2.4.2:
backslash and double quote escaped), so a line can be pasted back into a script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Keep",
    "FileInto",
    "Redirect",
    "Discard",
    "Reject",
    "Vacation",
    "Action",
    "Outcome",
    "quote",
]


def quote(text: str) -> str:
    """A SIEVE quoted string (RFC 5228 section 2.4.2)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flags(flags: tuple[str, ...]) -> str:
    if not flags:
        return ""
    if len(flags) == 1:
        return " :flags " + quote(flags[0])
    return " :flags [" + ", ".join(quote(f) for f in flags) + "]"


@dataclass(frozen=True)
class Keep:
    """Store in INBOX (RFC 5228 section 4.3); ``implicit`` for the implicit keep (2.10.2).

    ``flags`` are the imap4flags the message gets (RFC 5232 section 5: the explicit
    ``:flags`` argument, else the internal variable at the time of the keep).
    """

    flags: tuple[str, ...] = ()
    implicit: bool = False

    def render(self) -> str:
        return "keep" + _flags(self.flags)


@dataclass(frozen=True)
class FileInto:
    """Store in a mailbox (RFC 5228 section 4.1; ``:copy`` RFC 3894, ``:create`` RFC 5490)."""

    mailbox: str
    flags: tuple[str, ...] = ()
    copy: bool = False
    create: bool = False

    def render(self) -> str:
        return f"fileinto {quote(self.mailbox)}" + _flags(self.flags)


@dataclass(frozen=True)
class Redirect:
    """Send the message on, unchanged, to another address (RFC 5228 section 4.2)."""

    address: str
    copy: bool = False

    def render(self) -> str:
        return f"redirect {quote(self.address)}"


@dataclass(frozen=True)
class Discard:
    """Store nothing (RFC 5228 section 4.4)."""

    def render(self) -> str:
        return "discard"


@dataclass(frozen=True)
class Reject:
    """Refuse the message with a reason (RFC 5429): ``ereject`` refuses in the SMTP dialog."""

    reason: str
    extended: bool = False

    def render(self) -> str:
        return ("ereject " if self.extended else "reject ") + quote(self.reason)


@dataclass(frozen=True)
class Vacation:
    """An automatic reply (RFC 5230), already decided to be sent (section 4.5 checks done).

    ``recipient`` is who gets the reply (the message's sender); ``sender`` the address it
    comes from (``:from``, else the envelope recipient); ``handle`` and ``period`` (in
    seconds) key the duplicate suppression the pipeline keeps (section 4.2, 4.1).
    """

    recipient: str
    sender: str
    subject: str
    reason: str
    handle: str
    period: int
    mime: bool = False

    def render(self) -> str:
        return f"vacation {quote(self.recipient)} :subject {quote(self.subject)} {quote(self.reason)}"


Action = Keep | FileInto | Redirect | Discard | Reject | Vacation


@dataclass(frozen=True)
class Outcome:
    """The result of running a script on one message.

    ``actions`` are in execution order and include the implicit keep (a :class:`Keep`
    with ``implicit=True``) when it applies. ``error`` is None, or the one-line reason a
    runtime problem (a limit, a conflict, a bad argument) made the interpreter fall back
    to the implicit keep alone (RFC 5228 section 2.10.6); the caller logs it.
    """

    actions: tuple[Action, ...]
    error: str | None = None
    #: Work done, for logs and limits: commands and tests evaluated.
    steps: int = 0
    notes: tuple[str, ...] = field(default=())

    def render(self) -> list[str]:
        return [action.render() for action in self.actions]
