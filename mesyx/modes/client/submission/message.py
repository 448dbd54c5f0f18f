"""What a submission server checks and completes in a submitted message (sans-IO).

RFC 6409 section 8 lets a message submission agent complete a message; this one adds only
what RFC 5322 section 3.6 requires and a mail program may leave out: ``Date`` (section 8.2)
and ``Message-ID`` (section 8.3), both in front of the header. It changes nothing else:
the Sent copy, the local deliveries and the outbox item all hold the same bytes.

A message that is not RFC 5322 is refused (:class:`~mesyx.errors.UsageError`, which the
server answers with ``554 5.6.0``) rather than stored or sent on half-readable: an empty
message, a NUL anywhere (RFC 5322 section 2.1; no BINARYMIME here), a header line that is
not a field (section 2.2: a name of printable characters other than ``:``, then ``:``), or
not exactly one ``From`` (section 3.6, the one origination field a server cannot invent).
"""

from __future__ import annotations

import datetime
import email.utils
import re
import secrets
from typing import Final

from mesyx.errors import UsageError
from mesyx.proto.mime.headers import HeaderBlock

__all__ = ["complete_message"]

#: RFC 5322 section 3.6.8: ftext is %d33-57 / %d59-126.
_FIELD_NAME: Final = re.compile(rb"[\x21-\x39\x3b-\x7e]+\Z")


def complete_message(raw: bytes, *, hostname: str, now: float) -> bytes:
    """``raw`` checked, with ``Date`` and ``Message-ID`` added if missing; or UsageError."""
    if not raw.strip():
        raise UsageError("the message is empty")
    if b"\x00" in raw:
        raise UsageError("the message holds a NUL octet (RFC 5322 section 2.1)")
    header = HeaderBlock.parse(raw)
    if not header.fields:
        raise UsageError("the message has no header (RFC 5322 section 2.1)")
    for field in header.fields:
        if field.colon < 0 or not _FIELD_NAME.match(field.name):
            line = raw[field.start:field.end].split(b"\n", 1)[0][:60].decode("ascii", "replace")
            raise UsageError(f"header line is not a field (RFC 5322 section 2.2): {line.rstrip()!r}")
    if len(header.get_all("from")) != 1:
        raise UsageError("the message needs exactly one From field (RFC 5322 section 3.6)")
    added = b""
    if "date" not in header:
        # +0000, not formatdate's -0000 ("no zone known", RFC 5322 section 3.3): the server knows it is UTC.
        moment = datetime.datetime.fromtimestamp(now, datetime.UTC)
        added += f"Date: {email.utils.format_datetime(moment)}\r\n".encode("ascii")
    if "message-id" not in header:
        added += f"Message-ID: <{secrets.token_hex(12)}@{hostname}>\r\n".encode("ascii")
    return added + raw
