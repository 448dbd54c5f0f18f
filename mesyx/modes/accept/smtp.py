"""Accept mode's SMTP front end: aiosmtpd with Mesyx's handler hooks.

aiosmtpd does the protocol (RFC 5321 parsing, SIZE, 8BITMIME, SMTPUTF8, STARTTLS);
the hooks here route, rate-limit and hand the message to the pipeline, and answer
``250`` only after the pipeline says the envelopes are durably committed
(DESIGN.md, The accept pipeline). Every refusal carries an RFC 3463 enhanced status code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from mesyx.addresses import check_address
from mesyx.errors import LimitExceeded, MesyxError, NotFound, PermissionDenied, Temporary, UsageError
from mesyx.log import get_logger, new_error_id
from mesyx.pipeline.deliver import Deliverer
from mesyx.pipeline.inbound import InboundMessage
from mesyx.pipeline.ratelimit import RateLimiter
from mesyx.proto.smtp_server import HardenedSMTP

__all__ = ["AcceptHandler", "MesyxSMTP"]

_log = get_logger("smtp")


def _peer_ip(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


def _is_utf8(text: str) -> bool:
    """False for text holding lone surrogates: how aiosmtpd decodes invalid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class AcceptHandler:
    """aiosmtpd handler: the hooks are called once per command of a session."""

    def __init__(
        self,
        deliverer: Deliverer,
        *,
        max_recipients: int,
        sender_limit: RateLimiter,
        client_ip_limit: RateLimiter,
    ) -> None:
        self.deliverer = deliverer
        self.max_recipients = max_recipients
        self.sender_limit = sender_limit
        self.client_ip_limit = client_ip_limit

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if not _is_utf8(address):
            # RFC 6531 section 3.3: an 8-bit address is UTF-8. Such a sender cannot be
            # sealed into the inner record; refuse it here, not with a 451 after DATA.
            return "553 5.1.7 Malformed sender address (not UTF-8)"
        if not self.client_ip_limit.allow(_peer_ip(session)):
            _log.warning("rate_limited", what="client_ip", ip=_peer_ip(session))
            return "450 4.7.1 Too many messages from your address, try again later"
        if address and not self.sender_limit.allow(address.lower()):
            _log.warning("rate_limited", what="sender", ip=_peer_ip(session))
            return "450 4.7.1 Too many messages from this sender, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        try:
            check_address(address)
            account_id = await self.deliverer.router.resolve(address)
        except UsageError:
            return "553 5.1.3 Malformed recipient address"
        except MesyxError as exc:
            return self._temporary(exc)
        if account_id is None:
            return "550 5.1.1 Recipient address rejected: user unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if not isinstance(raw, bytes):
            return "554 5.6.0 Message content unavailable"
        message = InboundMessage(
            source="smtp",
            # aiosmtpd keeps the null reverse-path of bounces (RFC 5321 4.5.5) as "<>".
            mail_from="" if envelope.mail_from in (None, "<>") else envelope.mail_from,
            rcpt_to=tuple(envelope.rcpt_tos),
            raw=raw,
            received_at=time.time(),
            client_ip=_peer_ip(session),
            helo=session.host_name or "",
            tls=session.ssl is not None,
        )
        try:
            delivery = await self.deliverer.deliver(message)
        except PermissionDenied as exc:
            return f"550 5.7.1 {exc.message}"
        except NotFound:
            return "550 5.1.1 No valid recipients"
        except LimitExceeded as exc:
            return f"552 5.3.4 {exc.message}"
        except MesyxError as exc:
            return self._temporary(exc)
        return f"250 2.0.0 OK id={delivery.transaction_id}"

    async def handle_exception(self, error: Exception) -> str:
        """A bug, not a refusal: log it with an id, show only the id (DESIGN.md)."""
        if isinstance(error, TLSSetupException):
            # The client's STARTTLS handshake failed or it went away: its problem, not a
            # bug. aiosmtpd closes the connection; this reply is never sent.
            cause = error.__cause__
            _log.info("starttls_failed", reason=f"{type(cause).__name__}: {cause}" if cause else "handshake")
            return "454 4.7.0 TLS handshake failed"
        error_id = new_error_id()
        _log.exception("internal_error", error_id=error_id)
        return f"451 4.3.0 Internal error, try again later (error id {error_id})"

    @staticmethod
    def _temporary(exc: MesyxError) -> str:
        kind = "temporary" if isinstance(exc, Temporary) else exc.kind
        _log.warning("temporary_failure", kind=kind, reason=exc.message)
        return "451 4.3.0 Temporary local problem, try again later"


class MesyxSMTP(HardenedSMTP):
    """The hardened SMTP server with a per-client-IP connection rate limit answered by ``421``."""

    def __init__(self, handler: AcceptHandler, *, connection_gate: Callable[[str], bool], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._connection_gate = connection_gate

    async def _handle_client(self) -> None:
        assert self.session is not None
        ip = _peer_ip(self.session)
        if not self._connection_gate(ip):
            _log.warning("rate_limited", what="connections", ip=ip)
            await self.push("421 4.7.0 Too many connections from your address, try again later")
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()
