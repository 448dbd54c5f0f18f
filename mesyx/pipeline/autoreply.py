"""Messages the pipeline writes itself: vacation replies (RFC 5230) and rejection notices (RFC 3464).

Sans-IO: each function takes the original message and returns the bytes of a new RFC 5322
message, which the pipeline queues to the outbox with the null envelope sender ``<>``
(RFC 5230 section 5.1; RFC 5321 section 4.5.5 for notifications), so that no reply ever
answers a reply.

A vacation reply (RFC 5230 section 5) is from the ``:from`` address or the recipient, to
the original sender; its Subject is ``:subject`` or "Auto: " and the original subject
(section 5.4); In-Reply-To and References name the original (section 5.5, RFC 5322 section
3.6.4); ``Auto-Submitted: auto-replied`` (section 5.6, RFC 3834 section 5). The body is the
reason as text/plain UTF-8, or with ``:mime`` the reason itself, a MIME entity (section 5.7).

A rejection notice is what RFC 5429 section 2.1.2 asks when a message is refused for some
recipients only (the others accepted it in the same SMTP transaction, so it cannot be
refused in protocol): a delivery status notification, ``multipart/report`` (RFC 6522)
with a human-readable part holding the reason, a ``message/delivery-status`` part (RFC
3464 section 2: Action failed, Status 5.7.1) and the original's header (``text/rfc822-
headers``; the body is not sent back). ``reject`` (section 2.2) is sent the same way: a DSN
where RFC 5429 allows an MDN, since the refusal here happens at delivery.
"""

from __future__ import annotations

import email.policy
import email.utils
import quopri
import re
import secrets
from collections.abc import Sequence
from email.errors import HeaderParseError, MessageError
from email.message import EmailMessage

from mesyx.errors import UsageError
from mesyx.proto.mime.headers import HeaderBlock
from mesyx.sieve.actions import Vacation
from mesyx.sieve.message import SieveMessage

__all__ = ["vacation_reply", "rejection_notice", "smtp_reason", "DEFAULT_REASON"]

DEFAULT_REASON = "Message rejected by the recipient's mail filter"
_UNSAFE = re.compile(r"[^\x20-\x7e]+")
_SPACES = re.compile(r"\s+")
_MIME_FIELDS = frozenset({"MIME-Version", "Content-Type", "Content-Transfer-Encoding"})


def smtp_reason(reason: str, limit: int = 200) -> str:
    """A reject reason fit for one SMTP reply line (RFC 5429 section 2.1.1; RFC 5321 section
    4.2: printable ASCII text): white space and line breaks collapsed, other characters
    replaced by ``?``, at most ``limit`` characters."""
    text = _UNSAFE.sub("?", _SPACES.sub(" ", reason).strip())[:limit].strip()
    return text or DEFAULT_REASON


def _one_line(value: str) -> str:
    return _SPACES.sub(" ", value).strip()


def _head(fields: Sequence[tuple[str, str]]) -> bytes:
    """A header block (with its blank line) encoded for SMTP: non-ASCII text as RFC 2047
    encoded words, non-ASCII addresses as UTF-8 (RFC 6532). UsageError when a value is
    not a header value (a script's ``:from`` that is no address)."""
    utf8 = any(not value.isascii() for name, value in fields if name in ("From", "To"))
    message = EmailMessage(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP)
    # The MIME fields are ours and ASCII: written as they are, after the others (a
    # multipart Content-Type on an EmailMessage would make it write an empty body).
    verbatim = "".join(f"{name}: {value}\r\n" for name, value in fields if name in _MIME_FIELDS)
    try:
        for name, value in fields:
            if name not in _MIME_FIELDS:
                message[name] = value
        head = message.as_bytes().rstrip(b"\r\n") + b"\r\n"
    except (HeaderParseError, MessageError, ValueError, TypeError, IndexError) as exc:
        raise UsageError(f"cannot write the header: {exc}") from exc
    return head + verbatim.encode("ascii") + b"\r\n"


def _common(sender: str, recipient: str, subject: str, hostname: str, now: float) -> list[tuple[str, str]]:
    return [
        ("From", sender),
        ("To", recipient),
        ("Subject", _one_line(subject)),
        ("Date", email.utils.formatdate(now, localtime=False, usegmt=True)),
        ("Message-ID", f"<{secrets.token_hex(12)}@{hostname}>"),
        ("Auto-Submitted", "auto-replied"),
    ]


def _crlf(text: str) -> bytes:
    return re.sub(r"\r?\n", "\r\n", text).encode("utf-8")


def _text_part(text: str) -> tuple[str, bytes]:
    """Content-Type and body of a text/plain UTF-8 part, quoted-printable (7-bit safe)."""
    lines = re.sub(r"\r\n?", "\n", text).rstrip("\n").encode("utf-8") + b"\n"
    body = quopri.encodestring(lines).replace(b"\n", b"\r\n")
    return 'text/plain; charset="utf-8"', body


def vacation_reply(vacation: Vacation, original: SieveMessage, *, hostname: str, now: float) -> bytes:
    """The reply to ``original`` (RFC 5230 section 5). UsageError if the script's ``:from``
    or ``:subject`` cannot be written into a header."""
    subject = vacation.subject
    if not subject:
        first = original.header("subject")
        subject = "Auto: " + (first[0] if first else "")
    fields = _common(vacation.sender, vacation.recipient, subject, hostname, now)
    message_ids = original.header("message-id")
    if message_ids and (message_id := _one_line(message_ids[0])):
        fields.append(("In-Reply-To", message_id))
        references = " ".join(_one_line(value) for value in original.header("references"))
        fields.append(("References", _one_line(f"{references} {message_id}")))
    fields.append(("MIME-Version", "1.0"))
    if vacation.mime:
        # The reason is a MIME entity, its own header first (RFC 5230 section 5.7).
        return _head(fields).removesuffix(b"\r\n") + _crlf(vacation.reason.lstrip("\r\n"))
    content_type, body = _text_part(vacation.reason)
    fields += [("Content-Type", content_type), ("Content-Transfer-Encoding", "quoted-printable")]
    return _head(fields) + body


def _address_type(address: str) -> str:
    """RFC 3464 section 2.3.2 address type: rfc822, or utf-8 for an internationalised one (RFC 6533)."""
    return f"rfc822; {address}" if address.isascii() else f"utf-8; {address}"


def rejection_notice(
    original: bytes, *, sender: str, recipients: Sequence[str], reason: str, hostname: str,
    arrived: float, now: float,
) -> bytes:
    """A DSN telling ``sender`` that ``recipients`` refused ``original`` for ``reason``."""
    block = HeaderBlock.parse(original)
    subjects = SieveMessage.parse(original).header("subject")
    boundary = f"mesyx-report-{secrets.token_hex(8)}"
    fields = _common(f"Mail Delivery System <MAILER-DAEMON@{hostname}>", sender,
                     "Rejected: " + (subjects[0] if subjects else "your message"), hostname, now)
    fields += [
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/report; report-type=delivery-status; boundary="{boundary}"'),
    ]
    who = ", ".join(recipients)
    human_type, human = _text_part(
        f"Your message to {who} was rejected by the recipient's mail filter.\n\nReason:\n{reason}\n")
    status = f"Reporting-MTA: dns; {hostname}\r\n"
    status += f"Arrival-Date: {email.utils.formatdate(arrived, localtime=False, usegmt=True)}\r\n"
    for rcpt in recipients:
        status += (f"\r\nFinal-Recipient: {_address_type(rcpt)}\r\nAction: failed\r\nStatus: 5.7.1\r\n"
                   f"Diagnostic-Code: smtp; 550 5.7.1 {smtp_reason(reason)}\r\n")
    dash = f"--{boundary}\r\n".encode("ascii")
    body = (
        dash + f"Content-Type: {human_type}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii")
        + human + b"\r\n"
        + dash + b"Content-Type: message/delivery-status\r\n\r\n" + status.encode("utf-8") + b"\r\n"
        + dash + b"Content-Type: text/rfc822-headers\r\n\r\n" + original[: block.body_start].rstrip(b"\r\n")
        + b"\r\n\r\n" + f"--{boundary}--\r\n".encode("ascii")
    )
    return _head(fields) + body
