"""The hardened SMTP server (:mod:`mesyx.proto.smtp_server`, accept mode's too) as a
submission server: AUTH only under TLS or on loopback, enhanced codes.

DESIGN.md (Ports): "plain LOGIN / AUTH / REST without TLS are allowed only on loopback".
aiosmtpd decides once, for the whole server, whether AUTH needs TLS; here it is decided
per connection, when the connection (or its STARTTLS upgrade) is made: a session that is
under TLS (implicit on ``ports.smtps``, RFC 8314 section 3.3, or after STARTTLS, RFC 3207)
or whose peer is a loopback address may authenticate; any other is not offered AUTH in
its EHLO and gets ``538 5.7.11`` for it (RFC 4954 section 6), and, since every
transaction needs AUTH, ``530 5.7.0`` for MAIL.

STARTTLS starts a new aiosmtpd session (RFC 3207 section 4.2: forget what came before),
so a login made before it (on loopback) is let go (:meth:`SubmissionHandler.closed`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from mesyx.modes.client.submission.handler import SubmissionHandler, is_secure, peer_ip
from mesyx.netaddr import is_loopback
from mesyx.proto.smtp_server import HardenedSMTP

__all__ = ["SubmissionSMTP", "is_loopback"]

#: aiosmtpd's replies to the size limit, with the enhanced status code RFC 3463 gives it
#: (section 3.4, X.3.4: message too big for system), as every Mesyx refusal has one.
_ENHANCED: Final[dict[str, str]] = {
    "552 Error: message size exceeds fixed maximum message size":
        "552 5.3.4 Message size exceeds fixed maximum message size",
    "552 Error: Too much mail data": "552 5.3.4 Message too big for this server",
}


class SubmissionSMTP(HardenedSMTP):
    def __init__(self, handler: SubmissionHandler, **kwargs: Any) -> None:
        super().__init__(handler, auth_required=True, auth_require_tls=True, **kwargs)
        self.submission = handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        previous = self.session
        super().connection_made(transport)
        if previous is not None and previous is not self.session:
            self.submission.closed(previous)  # STARTTLS: the session starts afresh
        assert self.session is not None
        self._auth_require_tls = not (is_secure(self) or is_loopback(peer_ip(self.session)))

    def connection_lost(self, error: Exception | None) -> None:
        if self.session is not None:
            self.submission.closed(self.session)
        super().connection_lost(error)

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            await super().push(_ENHANCED.get(status, status))
        else:
            await super().push(status)
