"""COMPRESS=DEFLATE (RFC 4978): after the tagged OK, both directions are raw deflate.

The handler answers the OK itself and drains it, uncompressed, before it turns
compression on (RFC 4978 section 3: compression "starts directly after the CRLF that ends
the tagged OK response"). What it turns on is the connection's business: a transport that
can compress implements :class:`Compressible`; one that cannot (an in-memory transport) is
answered ``NO [CANNOT]``, a second COMPRESS ``NO [COMPRESSIONACTIVE]`` (RFC 4978 section 3).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.session import AUTHENTICATED, Completion, Session, register
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r

__all__ = ["Compressible", "compress"]

# RFC 4978 section 3: the mechanism name is part of the capability.
advertise("COMPRESS=DEFLATE")


@runtime_checkable
class Compressible(Protocol):
    """A transport that can deflate what it writes and inflate what it reads."""

    @property
    def compressing(self) -> bool:
        """Is compression on?"""
        ...

    def start_compression(self) -> None:
        """Deflate every later write, inflate every later read (raw deflate, RFC 1951)."""
        ...


@register(c.Compress, AUTHENTICATED)
async def compress(session: Session, command: c.Command) -> Completion | None:
    assert isinstance(command, c.Compress)
    transport = session.transport
    if command.mechanism != "DEFLATE":
        return Completion("BAD", f"unknown compression mechanism {command.mechanism[:40]}", r.Code.CLIENTBUG)
    if not isinstance(transport, Compressible):
        return Completion("NO", "this connection cannot be compressed", r.Code.CANNOT)
    if transport.compressing:
        return Completion("NO", "compression is already active", r.Code.COMPRESSIONACTIVE)
    session.send(r.tagged(command.tag, "OK", "DEFLATE active"))
    await transport.drain()
    transport.start_compression()
    return None
