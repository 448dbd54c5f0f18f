"""Commands of any state and of the not-authenticated state (RFC 9051 sections 6.1, 6.2).

CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), ENABLE (RFC 5161), STARTTLS (RFC 9051 section
6.2.1), LOGIN (section 6.2.3) and AUTHENTICATE PLAIN (section 6.2.2, RFC 4616) with an
initial response (SASL-IR, RFC 4959). Logins go through the client mode's LoginService:
Argon2id off the loop, one answer for every failure (``NO [AUTHENTICATIONFAILED]``,
RFC 5530 section 3), throttled per address and per client IP (``NO [LIMIT]``).
Credentials in the clear are refused with ``NO [PRIVACYREQUIRED]`` except on loopback.
"""

from __future__ import annotations

import base64
import binascii

import mesyx
from mesyx.errors import LimitExceeded
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.session import (
    ANY,
    AUTHENTICATED,
    NOT_AUTHENTICATED,
    Completion,
    ImapRefusal,
    Session,
    State,
    register,
)
from mesyx.modes.client.login import AuthenticationFailed
from mesyx.proto.imap import ContinuationLine
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r

__all__ = ["SERVER_ID", "log_in", "parse_plain"]

# RFC 9051: a client may ENABLE IMAP4rev2 (section 6.3.1); until it does, the session is
# IMAP4rev1 (\Recent, RECENT, UNSEEN, SEARCH); afterwards SELECT (commands_select), updates,
# FETCH and SEARCH answer as IMAP4rev2.
advertise("IMAP4rev2", enable=True)

#: ENABLE QRESYNC turns CONDSTORE on too (RFC 7162 section 3.2.3); ``* ENABLED`` names only
#: what the client asked for.
_IMPLIES: dict[str, tuple[str, ...]] = {"QRESYNC": ("CONDSTORE",)}
UTF8_ACCEPT = "UTF8=ACCEPT"
# RFC 6855: once enabled, the reader takes UTF-8 (above) and LIST, STATUS, FETCH answer in it.
advertise(UTF8_ACCEPT, enable=True)

#: What ``ID`` tells the client (RFC 2971 section 3.3); no host or OS details.
SERVER_ID: dict[str, str | None] = {"name": "Mesyx", "version": mesyx.__version__}


@register(c.Capability, ANY)
async def capability(session: Session, command: c.Command) -> Completion:
    session.send(r.capability_response(session.capabilities()))
    return Completion()


@register(c.Noop, ANY)
async def noop(session: Session, command: c.Command) -> Completion:
    """Sync the index, then report what changed (RFC 9051 section 6.1.2)."""
    await session.report_updates(sync=True)
    return Completion()


@register(c.Logout, ANY)
async def logout(session: Session, command: c.Command) -> Completion:
    """``* BYE`` then the tagged OK; the connection closes after it (RFC 9051 section 6.1.3)."""
    session.send(r.untagged_status("BYE", "Mesyx IMAP logging out"))
    session.state = State.LOGOUT
    await session.leave_mailbox()
    return Completion()


@register(c.Id, ANY)
async def id_(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Id)
    if command.params:
        client = {k: v for k, v in command.params[:30]}
        session.log.debug("client_id", name=client.get("name"), version=client.get("version"))
    session.send(r.id_response(SERVER_ID))
    return Completion()


@register(c.Enable, AUTHENTICATED)
async def enable(session: Session, command: c.Command) -> Completion:
    """``* ENABLED`` lists only what this server implements; the rest is ignored (RFC 5161 section 3.1)."""
    assert isinstance(command, c.Enable)
    supported = {cap.upper(): cap for cap in session.config.enableable}  # names are case-insensitive
    asked = [supported[cap.upper()] for cap in command.capabilities if cap.upper() in supported]
    turned_on = [cap for cap in dict.fromkeys(asked) if cap not in session.enabled]
    session.enabled.update(turned_on)
    for cap in turned_on:
        session.enabled.update(_IMPLIES.get(cap, ()))
    if UTF8_ACCEPT in turned_on:  # quoted strings and mailbox names in UTF-8 from here on (RFC 6855 section 3)
        session.reader.utf8_accept = True
    session.send(r.enabled_response(turned_on))
    return Completion()


@register(c.StartTls, NOT_AUTHENTICATED)
async def starttls(session: Session, command: c.Command) -> Completion | None:
    """Answer OK, drop what the client sent after the command (RFC 9051 section 6.2.1), negotiate."""
    if session.config.tls is None:
        return Completion("NO", "TLS is not configured here", r.Code.CANNOT)
    if session.transport.secure:
        return Completion("BAD", "TLS is active already", r.Code.CLIENTBUG)
    session.send(r.tagged(command.tag, "OK", "begin TLS negotiation now"))
    await session.transport.drain()
    session.reader.take_buffered()  # a command injected before the handshake must not run
    await session.transport.start_tls(session.config.tls)
    return None


@register(c.Login, NOT_AUTHENTICATED)
async def login(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Login)
    return await log_in(session, command.username, command.password)


@register(c.Authenticate, NOT_AUTHENTICATED)
async def authenticate(session: Session, command: c.Command) -> Completion | None:
    """AUTHENTICATE PLAIN, with the response inline (SASL-IR) or after an empty ``+`` challenge."""
    assert isinstance(command, c.Authenticate)
    if command.mechanism.upper() != "PLAIN":
        return Completion("NO", f"mechanism {command.mechanism[:40]} is not supported", r.Code.CANNOT)
    if not session.login_allowed:
        raise _privacy_required()
    if command.initial_response is not None:
        return await _plain(session, command.initial_response)

    async def response(line: ContinuationLine) -> Completion:
        if line.is_cancel:
            return Completion("BAD", "authentication cancelled")
        try:
            data = base64.b64decode(line.line, validate=True)
        except (binascii.Error, ValueError):
            return Completion("BAD", "the response is not valid base64")
        return await _plain(session, data)

    session.send(r.continuation_data(b""))
    session.expect_continuation(command.tag, response)
    return None


def parse_plain(data: bytes) -> tuple[str, str, str]:
    """``authzid NUL authcid NUL passwd`` (RFC 4616 section 2) -> the three, as UTF-8 text."""
    parts = data.split(b"\x00")
    if len(parts) != 3:
        raise ImapRefusal("a PLAIN response is authzid NUL authcid NUL password", status="BAD")
    try:
        authzid, authcid, password = (p.decode("utf-8") for p in parts)
    except UnicodeDecodeError as exc:
        raise ImapRefusal("a PLAIN response is UTF-8", status="BAD") from exc
    return authzid, authcid, password


async def _plain(session: Session, data: bytes) -> Completion:
    authzid, authcid, password = parse_plain(data)
    if authzid and authzid.lower() != authcid.lower():
        # Logging in as someone else (proxy authorisation) is not supported.
        return Completion("NO", "authorization identity differs", r.Code.AUTHORIZATIONFAILED)
    return await log_in(session, authcid, password)


def _privacy_required() -> ImapRefusal:
    return ImapRefusal("log in over TLS (STARTTLS or the IMAPS port)", r.Code.PRIVACYREQUIRED)


async def log_in(session: Session, address: str, secret: str) -> Completion:
    """Unlock the account and enter the authenticated state (RFC 9051 section 6.2.3)."""
    if not session.login_allowed:
        raise _privacy_required()
    try:
        account = await session.config.authenticator.login(address, secret, session.transport.peer_ip)
    except AuthenticationFailed:
        return Completion("NO", "authentication failed", r.Code.AUTHENTICATIONFAILED)
    except LimitExceeded as exc:
        return Completion("NO", exc.message, r.Code.LIMIT)
    session.account = account
    try:
        await session.on_login()  # the index context: a failure here leaves the session logged out
    except BaseException:
        session.account = None
        session.mailbox = None
        raise
    session.state = State.AUTHENTICATED
    session.log = session.log.bind(account=account.record.primary_address)
    session.log.info("login", ip=session.transport.peer_ip)
    return Completion("OK", "logged in", r.capability_code(session.capabilities()))
