"""One IMAP connection over asyncio streams, around the sans-IO CommandReader.

* Reading: bytes go to :class:`~mesyx.proto.imap.CommandReader`; its events go to the
  :class:`~.session.Session` one at a time, so a state change (STARTTLS, a continuation
  line expected) applies to every later event. Synchronizing literals get their ``+``
  from the session (RFC 9051 section 7.5).
* Writing: each event's responses are gathered and handed to the socket at the drain
  that ends the event (or every :data:`_WRITE_BATCH` octets), then drained before the
  next event, so a slow reader holds back the server instead of filling its memory
  (backpressure). Gathering matters: a FETCH of 50 messages is 51 response lines, and
  a send system call for each cost more than building them.
* STARTTLS: ``StreamWriter.start_tls`` upgrades the same streams in place (RFC 9051
  section 6.2.1).
* COMPRESS=DEFLATE (RFC 4978): :meth:`StreamTransport.start_compression` puts raw deflate
  (RFC 1951, no zlib header: ``wbits=-15``) under both directions, above TLS when there is
  TLS. Each drain ends the deflate block with ``Z_SYNC_FLUSH`` (RFC 4978 section 4: the
  client must get every response without waiting for more); reads are inflated in pieces
  of at most ``_READ_SIZE`` octets, so a small deflated stream cannot make a large buffer.
* Idle timeout: 30 minutes without a byte from the client ends the connection with
  ``* BYE`` (RFC 9051 section 5.4: "at least 30 minutes").
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import Iterator

from mesyx.log import get_logger, new_error_id
from mesyx.modes.client.imap.session import Session, SessionConfig
from mesyx.netaddr import is_loopback
from mesyx.proto.imap import CommandReader
from mesyx.proto.imap import responses as r

__all__ = ["StreamTransport", "serve_connection", "IDLE_TIMEOUT", "MAX_DISCARD"]

_log = get_logger("imap")

#: RFC 9051 section 5.4: the autologout timer is at least 30 minutes.
IDLE_TIMEOUT = 30 * 60.0
#: A refused command's non-synchronizing literal larger than this closes the connection
#: instead of being read and dropped (RFC 7888 section 4 allows either).
MAX_DISCARD = 16 * 1024 * 1024
_READ_SIZE = 256 * 1024
_WRITE_BATCH = 64 * 1024


class StreamTransport:
    """:class:`~.session.Transport` over an asyncio StreamReader/StreamWriter pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self._peer_ip = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        self._secure = writer.get_extra_info("sslcontext") is not None
        self._deflate: zlib._Compress | None = None
        self._inflate: zlib._Decompress | None = None
        self._unflushed = False  # written to the compressor since the last flush
        self._gathered: list[bytes] = []  # written, not yet handed to the socket
        self._gathered_size = 0

    @property
    def peer_ip(self) -> str:
        return self._peer_ip

    @property
    def secure(self) -> bool:
        return self._secure

    @property
    def loopback(self) -> bool:
        return is_loopback(self._peer_ip)

    @property
    def compressing(self) -> bool:
        return self._deflate is not None

    def start_compression(self) -> None:
        """Raw deflate both ways from now on (:class:`~.commands_compress.Compressible`)."""
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)

    def incoming(self, data: bytes) -> Iterator[bytes]:
        """What the client sent, inflated if compression is on, in bounded pieces."""
        if self._inflate is None:
            yield data
            return
        pending = data
        while True:
            try:
                piece = self._inflate.decompress(pending, _READ_SIZE)
            except zlib.error as exc:
                raise ConnectionError(f"bad deflate stream: {exc}") from exc
            pending = self._inflate.unconsumed_tail
            if piece:
                yield piece
            # A full piece may leave output inside zlib even when all input is taken.
            if not pending and len(piece) < _READ_SIZE:
                return

    def write(self, data: bytes) -> None:
        if self._deflate is not None and data:
            data = self._deflate.compress(data)
            self._unflushed = True
        if data:
            self._gathered.append(data)
            self._gathered_size += len(data)
            if self._gathered_size >= _WRITE_BATCH:
                self._hand_over()

    def _hand_over(self) -> None:
        """Give what was gathered to the socket, at once."""
        if self._deflate is not None and self._unflushed:
            self._gathered.append(self._deflate.flush(zlib.Z_SYNC_FLUSH))
            self._unflushed = False
        if self._gathered:
            self.writer.writelines(self._gathered)
            self._gathered, self._gathered_size = [], 0

    async def drain(self) -> None:
        self._hand_over()
        await self.writer.drain()

    async def start_tls(self, context: ssl.SSLContext) -> None:
        self._hand_over()
        await self.writer.start_tls(context)
        self._secure = True

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._hand_over()  # a last BYE written without a drain
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    config: SessionConfig,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
) -> None:
    """Serve one client until LOGOUT, end of stream, idle timeout or a fatal error."""
    transport = StreamTransport(reader, writer)
    session = Session(transport, CommandReader(), config)
    log = _log.bind(ip=transport.peer_ip)
    try:
        transport.write(session.greeting())
        await transport.drain()
        while not session.finished:
            try:
                data = await asyncio.wait_for(reader.read(_READ_SIZE), idle_timeout)
            except TimeoutError:
                transport.write(r.untagged_status("BYE", "autologout: idle for too long"))
                await transport.drain()
                break
            if not data:
                break
            for piece in transport.incoming(data):
                for event in session.reader.feed(piece):
                    await session.handle(event)
                    if session.finished:
                        break
                if session.finished:
                    break
            if session.reader.discarding > MAX_DISCARD:
                transport.write(r.untagged_status("BYE", "refusing to read a literal that large", r.Code.TOOBIG))
                await transport.drain()
                break
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
        log.debug("connection_lost", error=f"{type(exc).__name__}: {exc}")
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            transport.write(r.untagged_status("BYE", "server shutting down"))
        raise
    except Exception:  # noqa: BLE001 - the log has the details, the client an id
        error_id = new_error_id()
        log.exception("connection_failed", error_id=error_id)
        with contextlib.suppress(Exception):
            transport.write(r.untagged_status("BYE", f"internal error, id {error_id}", r.Code.SERVERBUG))
    finally:
        with contextlib.suppress(Exception):
            await session.leave_mailbox()
        await transport.close()
