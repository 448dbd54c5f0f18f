"""The submission server's aiosmtpd hooks: AUTH, MAIL, RCPT, DATA (RFC 6409, RFC 4954).

- AUTH PLAIN (RFC 4616) and LOGIN with the account passphrase or an app password, through
  the client mode's :class:`~mesyx.modes.client.login.LoginService`: the same failed-login
  budgets per address and per client IP as IMAP, and Argon2id off the loop under the same
  semaphore. aiosmtpd's own mechanisms call a synchronous authenticator; the ``AUTH``
  hook here is its asynchronous way in, so a passphrase login never blocks the loop.
  Whether AUTH is allowed at all (TLS or loopback) is :mod:`.smtp`'s business.
- MAIL FROM must be an address of the logged-in account (RFC 6409 section 4.3 lets the
  submission server check the sender; it answers ``553 5.7.1``, RFC 3463): any address
  that routes to the account, ``+detail`` and catch-all included, as the accept pipeline
  routes (:class:`~mesyx.pipeline.deliver.Router`); and each account may start at most
  ``limits.messages_per_sender_per_minute`` messages a minute (``450 4.7.1``).
- Before AUTH, aiosmtpd answers MAIL, RCPT and DATA with ``530 5.7.0`` (RFC 4954 section 6).
- DATA checks and completes the message (:mod:`.message`) and hands it to the
  :class:`~.submit.Submitter`; ``250`` only once everything is durable, and every refusal
  stores nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Protocol

from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from mesyx.addresses import check_address
from mesyx.errors import LimitExceeded, MesyxError, PermissionDenied, Temporary, UsageError
from mesyx.log import get_logger, new_error_id
from mesyx.modes.client.index import IndexFeed, IndexSyncer
from mesyx.modes.client.login import AuthenticationFailed
from mesyx.modes.client.submission.submit import Sender, Submitter
from mesyx.store.mailcrypt import UnlockedAccount

__all__ = ["Authenticator", "SubmissionHandler", "is_secure", "peer_ip"]

_log = get_logger("submission")

INVALID = "535 5.7.8 Authentication credentials invalid"


class Authenticator(Protocol):
    """What AUTH needs of :class:`~mesyx.modes.client.login.LoginService`."""

    async def login(self, address: str, secret: str, client_ip: str) -> UnlockedAccount: ...


def peer_ip(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


def is_secure(server: SMTP) -> bool:
    """Whether the session runs under TLS: implicit (RFC 8314) or after STARTTLS."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _b64(text: str) -> bytes | None:
    """An initial response (RFC 4954 section 4): ``=`` is the empty one."""
    if text == "=":
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


async def _challenge(server: SMTP, prompt: str) -> bytes | None:
    """The client's answer to a ``334`` challenge; None when aiosmtpd has already answered
    (the client cancelled with ``*`` or sent something that is not base64)."""
    answer = await server.challenge_auth(prompt)
    return answer if isinstance(answer, bytes) else None


class SubmissionHandler:
    """One per listener pair; aiosmtpd calls the hooks once per command of a session."""

    def __init__(self, login: Authenticator, submitter: Submitter, feed: IndexFeed, *,
                 max_recipients: int, hostname: str) -> None:
        self.login = login
        self.submitter = submitter
        self.feed = feed
        self.max_recipients = max_recipients
        self.hostname = hostname

    # -- AUTH ---------------------------------------------------------------------------

    async def _credentials(self, server: SMTP, args: list[str]) -> tuple[bytes, bytes] | None:
        """(authentication id, secret) of a PLAIN or LOGIN exchange; None once refused."""
        mechanism = args[0].upper()
        given = _b64(args[1]) if len(args) > 1 else None
        if len(args) > 1 and given is None:
            await server.push("501 5.5.2 Can't decode base64")
            return None
        if mechanism == "PLAIN":
            response = given if given is not None else await _challenge(server, "")
            if response is None:
                return None
            parts = response.split(b"\x00")
            if len(parts) != 3:
                await server.push("501 5.5.2 Can't split auth value")
                return None
            authzid, login, secret = parts
            if authzid and authzid != login:
                # RFC 4616 section 2: acting as another identity is not offered here.
                await server.push(INVALID)
                return None
            return login, secret
        login_name = given if given is not None else await _challenge(server, "Username:")
        if login_name is None:
            return None
        password = await _challenge(server, "Password:")
        return None if password is None else (login_name, password)

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> str | None:
        credentials = await self._credentials(server, args)
        if credentials is None:
            return None
        try:
            address, secret = (part.decode("utf-8") for part in credentials)
        except UnicodeDecodeError:
            return "501 5.5.2 Credentials are not UTF-8 (RFC 4616 section 2)"
        try:
            account = await self.login.login(address, secret, peer_ip(session))
            syncer = await asyncio.to_thread(IndexSyncer, self.submitter.store, account)
        except AuthenticationFailed:
            return INVALID
        except LimitExceeded:
            return "454 4.7.0 Too many failed logins, try again later"
        except MesyxError as exc:
            _log.warning("login_failed", kind=exc.kind, reason=exc.message)
            return "454 4.7.0 Temporary authentication failure"
        session.auth_data = Sender(account, self.feed.attach(syncer))  # type: ignore[assignment]
        session.authenticated = True
        _log.info("login", ip=peer_ip(session))
        return "235 2.7.0 Authentication successful"

    def closed(self, session: Session) -> None:
        """The session ended (or STARTTLS replaced it): let go of its account's index."""
        sender = session.auth_data
        if isinstance(sender, Sender):
            session.auth_data = None
            self.feed.detach(sender.account_id)

    # -- the transaction ------------------------------------------------------------------

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        sender = session.auth_data
        assert isinstance(sender, Sender)  # aiosmtpd answered 530 before AUTH
        try:
            await self.submitter.check_sender(sender, address)
        except UsageError:
            return "553 5.1.7 Malformed sender address"
        except PermissionDenied:
            _log.warning("sender_refused", ip=peer_ip(session))
            return "553 5.7.1 Sender address is not an address of the authenticated account"
        except LimitExceeded:
            _log.warning("rate_limited", what="account", ip=peer_ip(session))
            return "450 4.7.1 Too many messages from this account, try again later"
        except MesyxError as exc:
            return self._temporary(exc)
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
        except UsageError:
            return "553 5.1.3 Malformed recipient address"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sender = session.auth_data
        raw = envelope.original_content
        assert isinstance(sender, Sender) and envelope.mail_from is not None
        if not isinstance(raw, bytes):
            return "554 5.6.0 Message content unavailable"
        try:
            submitted = await self.submitter.send(sender, envelope.mail_from, envelope.rcpt_tos, raw,
                                                  client_ip=peer_ip(session), helo=session.host_name or "",
                                                  tls=is_secure(server))
        except UsageError as exc:
            return f"554 5.6.0 Malformed message: {exc.message}"
        except PermissionDenied as exc:
            return f"550 5.7.1 {exc.message}"
        except LimitExceeded as exc:
            return f"552 5.3.4 {exc.message}"
        except MesyxError as exc:
            return self._temporary(exc)
        return f"250 2.0.0 OK id={submitted.transaction_id}"

    async def handle_exception(self, error: Exception) -> str:
        """A bug, not a refusal: log it with an id, show only the id (DESIGN.md)."""
        if isinstance(error, TLSSetupException):
            _log.info("starttls_failed", reason=str(error.__cause__ or "handshake"))
            return "454 4.7.0 TLS handshake failed"
        error_id = new_error_id()
        _log.exception("internal_error", error_id=error_id)
        return f"451 4.3.0 Internal error, try again later (error id {error_id})"

    @staticmethod
    def _temporary(exc: MesyxError) -> str:
        kind = "temporary" if isinstance(exc, Temporary) else exc.kind
        _log.warning("temporary_failure", kind=kind, reason=exc.message)
        return "451 4.3.0 Temporary local problem, try again later"
