"""The session state machine over an in-memory transport (RFC 9051 sections 3, 6.1, 6.2)."""

from __future__ import annotations

import asyncio
import base64
import ssl

from mesyx.modes.client.imap.session import State
from tests.client_imap.memory import make_session, run_lines


def _run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_greeting_advertises_login_on_loopback() -> None:
    session, transport, _ = make_session()
    greeting = session.greeting()
    assert greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
    assert b"AUTH=PLAIN" in greeting and b"LOGINDISABLED" not in greeting
    assert b"STARTTLS" not in greeting  # no TLS context


def test_plain_connection_from_elsewhere_refuses_login() -> None:
    async def run() -> None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        session, transport, auth = make_session(peer_ip="192.0.2.7", tls=tls)
        await run_lines(session, b"a CAPABILITY\r\n")
        out = transport.take()
        assert b"LOGINDISABLED" in out and b"STARTTLS" in out and b"AUTH=PLAIN" not in out
        await run_lines(session, b"b LOGIN alice@mesyx.test right\r\n")
        assert transport.take() == b"b NO [PRIVACYREQUIRED] log in over TLS (STARTTLS or the IMAPS port)\r\n"
        await run_lines(session, b"c AUTHENTICATE PLAIN AGFsaWNlQG1lc3l4LnRlc3QAcmlnaHQ=\r\n")
        assert transport.take().startswith(b"c NO [PRIVACYREQUIRED]")
        assert auth.calls == []
        # STARTTLS, then a command injected in the same packet is discarded (RFC 9051 section 6.2.1).
        await run_lines(session, b"d STARTTLS\r\ne LOGIN alice@mesyx.test right\r\n")
        assert transport.take() == b"d OK begin TLS negotiation now\r\n"
        assert transport.tls_started == 1 and auth.calls == []
        await run_lines(session, b"f CAPABILITY\r\n")
        out = transport.take()
        assert b"STARTTLS" not in out and b"AUTH=PLAIN" in out
        await run_lines(session, b"g LOGIN alice@mesyx.test right\r\n")
        assert transport.take().startswith(b"g OK [CAPABILITY IMAP4rev1")
        assert session.state is State.AUTHENTICATED

    _run(run())


def test_login_failure_and_states() -> None:
    async def run() -> None:
        session, transport, _ = make_session()
        await run_lines(session, b"a LOGIN alice@mesyx.test wrong\r\n")
        assert transport.take() == b"a NO [AUTHENTICATIONFAILED] authentication failed\r\n"
        await run_lines(session, b"b ENABLE CONDSTORE\r\n")
        assert transport.take() == b"b BAD ENABLE is not valid in this state\r\n"
        await run_lines(session, b'c LOGIN "alice@mesyx.test" {5}\r\n')
        assert transport.take() == b"+ Ready for literal data\r\n"
        await run_lines(session, b"right\r\n")
        assert transport.take().startswith(b"c OK [CAPABILITY")
        await run_lines(session, b"d LOGIN alice@mesyx.test right\r\n")
        assert transport.take() == b"d BAD LOGIN is not valid in this state\r\n"
        await run_lines(session, b"e ENABLE CONDSTORE\r\n")
        assert transport.take() == b"* ENABLED\r\ne OK ENABLE completed\r\n"
        await run_lines(session, b"f LOGOUT\r\n")
        assert transport.take() == b"* BYE Mesyx IMAP logging out\r\nf OK LOGOUT completed\r\n"
        assert session.finished

    _run(run())


def test_authenticate_plain_with_and_without_initial_response() -> None:
    async def run() -> None:
        session, transport, auth = make_session()
        token = base64.b64encode(b"\x00alice@mesyx.test\x00right")
        await run_lines(session, b"a AUTHENTICATE PLAIN\r\n")
        assert transport.take() == b"+ \r\n"
        await run_lines(session, b"*\r\n")
        assert transport.take() == b"a BAD authentication cancelled\r\n"
        await run_lines(session, b"b AUTHENTICATE PLAIN\r\n")
        transport.take()
        await run_lines(session, b"not base64!\r\n")
        assert transport.take().startswith(b"b BAD")
        await run_lines(session, b"c AUTHENTICATE CRAM-MD5\r\n")
        assert transport.take().startswith(b"c NO [CANNOT]")
        proxy = base64.b64encode(b"bob\x00alice@mesyx.test\x00right")
        await run_lines(session, b"d AUTHENTICATE PLAIN " + proxy + b"\r\n")
        assert transport.take().startswith(b"d NO [AUTHORIZATIONFAILED]")
        await run_lines(session, b"e AUTHENTICATE PLAIN\r\n" + token + b"\r\n")
        assert transport.take() == b"+ \r\n" + b"e OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE] logged in\r\n"
        assert auth.calls[-1] == ("alice@mesyx.test", "right", "127.0.0.1")

    _run(run())


def test_any_state_commands_and_bad_input() -> None:
    async def run() -> None:
        session, transport, _ = make_session()
        await run_lines(session, b"a NOOP\r\nb ID NIL\r\n")
        expected = b'a OK NOOP completed\r\n* ID ("name" "Mesyx" "version" "0.1.0")\r\nb OK ID completed\r\n'
        assert transport.take() == expected
        await run_lines(session, b"c FROBNICATE\r\n")
        assert transport.take().startswith(b"c BAD")
        await run_lines(session, b"d SELECT INBOX\r\n")
        assert transport.take().startswith(b"d BAD")
        assert session.state is State.NOT_AUTHENTICATED

    _run(run())


def test_an_internal_error_shows_an_id_only() -> None:
    async def run() -> None:
        session, transport, auth = make_session()

        async def broken(address: str, secret: str, client_ip: str) -> None:
            raise RuntimeError("secret internals /var/lib/x")

        auth.login = broken  # type: ignore[assignment,method-assign]
        await run_lines(session, b"a LOGIN alice@mesyx.test right\r\n")
        out = transport.take()
        assert out.startswith(b"a NO [SERVERBUG] internal error, id ")
        assert b"secret" not in out and b"Traceback" not in out

    _run(run())
