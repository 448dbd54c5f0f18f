"""One ManageSieve connection over asyncio streams, around the sans-IO reader and session.

Bytes go to :class:`~.protocol.LineReader`; each line it finds goes to the
:class:`~.session.Session`, one at a time, and its reply is written and drained before
the next (a slow reader holds the server back instead of filling its memory). STARTTLS
upgrades the same streams in place and drops whatever arrived before the handshake
(RFC 5804 section 2.2). An unexpected failure answers ``NO`` with an id to look up in the
log, never a traceback; 30 minutes without a byte from the client end the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from mesyx.log import EventLogger, get_logger, new_error_id
from mesyx.modes.client.managesieve.protocol import Fatal, Line, LineReader, Refused, response
from mesyx.modes.client.managesieve.session import Backend, Reply, Session
from mesyx.netaddr import is_loopback
from mesyx.sieve.limits import DEFAULT_LIMITS

__all__ = ["serve_connection", "IDLE_TIMEOUT"]

_log = get_logger("managesieve")

IDLE_TIMEOUT = 30 * 60.0
_READ_SIZE = 256 * 1024


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, backend: Backend,
                           tls: ssl.SSLContext | None, *, idle_timeout: float = IDLE_TIMEOUT) -> None:
    """Serve one client until LOGOUT, end of stream, idle timeout or a fatal error."""
    peer = writer.get_extra_info("peername")
    peer_ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
    session = Session(backend, peer_ip, is_loopback(peer_ip), tls is not None,
                      secure=writer.get_extra_info("sslcontext") is not None)
    lines = LineReader(max_literal=DEFAULT_LIMITS.script_bytes)
    log = _log.bind(ip=peer_ip)
    try:
        writer.write(session.greeting())
        await writer.drain()
        going = True
        while going:
            try:
                data = await asyncio.wait_for(reader.read(_READ_SIZE), idle_timeout)
            except TimeoutError:
                writer.write(response("BYE", None, "idle for too long"))
                break
            if not data:
                break
            for event in lines.feed(data):
                reply = await _answer(session, event, log)
                writer.write(reply.data)
                await writer.drain()
                if reply.close:
                    going = False
                    break
                if reply.starttls:
                    assert tls is not None
                    lines.take_buffered()  # nothing sent in the clear counts after the handshake
                    await writer.start_tls(tls)
                    writer.write(session.tls_started())
                    await writer.drain()
                    break  # the rest of this read came in the clear: dropped
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
        log.debug("connection_lost", error=f"{type(exc).__name__}: {exc}")
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            writer.write(response("BYE", None, "server shutting down"))
        raise
    finally:
        with contextlib.suppress(Exception):
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _answer(session: Session, event: Line | Refused | Fatal, log: EventLogger) -> Reply:
    if isinstance(event, Fatal):
        return Reply(response("BYE", None, event.reason), close=True)
    if isinstance(event, Refused):
        return session.refused(event)
    logged_in = session.account_id
    try:
        reply = await session.handle(event)
    except Exception:  # noqa: BLE001 - the log has the details, the client an id
        error_id = new_error_id()
        log.exception("command_failed", error_id=error_id)
        return Reply(response("NO", None, f"internal error (id {error_id})"))
    if session.account_id is not None and logged_in is None:
        log.info("login", account=session.account_id.hex())
    return reply
