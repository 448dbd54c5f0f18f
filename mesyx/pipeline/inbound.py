"""The normalised form of anything that arrives, and the trace headers accept adds."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass

__all__ = ["InboundMessage", "trace_headers"]


@dataclass(frozen=True)
class InboundMessage:
    source: str  # smtp | irc | xmpp | append | submission
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes
    received_at: float
    client_ip: str
    helo: str
    tls: bool
    #: The client authenticated (SMTP AUTH: submission); the trace says so (RFC 3848).
    authenticated: bool = False


def trace_headers(message: InboundMessage, hostname: str, transaction_id: str) -> bytes:
    """Return-Path and Received, as the delivering MTA must add them (RFC 5321 section 4.4).

    The ``for`` clause is left out: one envelope per account must not name the others.
    The protocol is ESMTP, with ``S`` under TLS and ``A`` after SMTP AUTH (RFC 3848
    section 1: ESMTPA, ESMTPS, ESMTPSA).
    """
    protocol = "ESMTP" + ("S" if message.tls else "") + ("A" if message.authenticated else "")
    helo = "".join(c for c in message.helo if c.isprintable() and c not in "()\r\n")[:100] or "unknown"
    date = email.utils.formatdate(message.received_at)
    return (
        f"Return-Path: <{message.mail_from}>\r\n"
        f"Received: from {helo} ([{message.client_ip}])\r\n"
        f"\tby {hostname} (Mesyx) with {protocol} id {transaction_id};\r\n"
        f"\t{date}\r\n"
    ).encode("utf-8", "replace")
