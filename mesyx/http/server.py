"""Serving an aiohttp application on the daemon's exit stack.

DESIGN.md (Ports): plain HTTP is allowed only on loopback; anywhere else the listener
speaks TLS with the node's context (the configured chain for people's clients, or the
node's own certificate). The application runner is closed by the stack, so shutting
the daemon down stops accepting, lets requests in flight finish for a bounded time and
then closes every connection (one AsyncExitStack owns every listener).

The peer's certificate (for the exchange mode's pinned peers) is on the request's
transport: ``request.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)``.
"""

from __future__ import annotations

import logging
import ssl
import sys
from contextlib import AsyncExitStack
from typing import Any, Final

from aiohttp import web

from mesyx.errors import PermissionDenied
from mesyx.log import get_logger
from mesyx.netaddr import is_loopback

__all__ = ["is_loopback", "serve_app", "tls_for"]

_log = get_logger("http")

#: Seconds requests in flight get to finish when the daemon stops.
SHUTDOWN_GRACE: Final = 5.0


class _ProtocolLog(logging.Logger):
    """aiohttp's connection-level log (requests its parser refused: over-long lines, bad
    framing, TLS spoken to a plain port), as one event line each instead of a traceback
    at error level, so no client can fill the log with stack traces."""

    def __init__(self) -> None:
        super().__init__("mesyx.http.protocol")

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        _log.info("refused", reason=f"{type(error).__name__}: {error}" if error else str(msg))

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        return None


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """``Server: mesyx``: the default names the Python and aiohttp versions to anyone asking."""
    response.headers["Server"] = "mesyx"


def tls_for(host: str, tls: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """Plain on loopback, the node's TLS context anywhere else (DESIGN.md, Ports).

    Raises PermissionDenied when a non-loopback listener has no TLS context: serving
    bearer tokens and passwords in clear over a network is never an option.
    """
    if is_loopback(host):
        return None
    if tls is None:
        raise PermissionDenied(f"refusing plain HTTP on {host}: only loopback may go without TLS")
    return tls


async def serve_app(
    app: web.Application, stack: AsyncExitStack, *, name: str, host: str, port: int, tls: ssl.SSLContext | None,
    always_tls: bool = False,
) -> None:
    """Listen with ``app`` on ``host:port`` (TLS unless loopback) until ``stack`` unwinds.

    ``always_tls``: TLS on loopback too, for a service whose clients authenticate by
    their certificates (exchange peers).
    """
    context = tls if always_tls else tls_for(host, tls)
    app.on_response_prepare.append(_server_header)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE, logger=_ProtocolLog()
    )
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, host, port, ssl_context=context, reuse_address=True)
    await site.start()
    _log.info("listening", protocol=name, addr=host, port=port, tls=context is not None)
