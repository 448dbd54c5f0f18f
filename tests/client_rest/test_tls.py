"""Plain HTTP only on loopback; TLS with the node's context anywhere else (DESIGN.md, Ports)."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import subprocess
import threading
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from aiohttp import web

from mesyx.crypto.tls import generate_certificate, server_context
from mesyx.errors import PermissionDenied
from mesyx.http.server import is_loopback, serve_app, tls_for
from tests.client_rest.conftest import Accounts, curl, login, running_service
from tests.helpers.daemon import pick_port_base


def test_the_rule() -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("localhost")
    assert tls_for("127.0.0.1", context) is None
    assert tls_for("0.0.0.0", context) is context
    with pytest.raises(PermissionDenied):
        tls_for("0.0.0.0", None)


def test_non_loopback_listener_speaks_tls(accounts: Accounts, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    generate_certificate(cert, key, common_name="mail.mesyx.test")
    with running_service(accounts.store, listen="0.0.0.0", tls=server_context(cert, key)) as rest:
        assert rest.url.startswith("https://")
        reply = login(rest.url)
        assert reply.status == 200
        assert curl(f"{rest.url}/v1/account", token=reply.json()["token"]).status == 200
        plain = rest.url.replace("https://", "http://")
        with pytest.raises(subprocess.CalledProcessError):  # no answer in clear
            curl(f"{plain}/docs")


def test_the_stack_exposes_the_peer_certificate(tmp_path: Path) -> None:
    """The selection criterion of docs/http.md: a TLS client certificate reaches the handler
    (the exchange mode pins peers by it); checked with curl presenting one."""
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    generate_certificate(cert, key, common_name="node-a")
    peer_cert, peer_key = tmp_path / "peer.pem", tmp_path / "peer.key"
    generate_certificate(peer_cert, peer_key, common_name="node-b")
    context = server_context(cert, key)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(peer_cert)  # pinned: the peer's self-signed certificate

    async def whoami(request: web.Request) -> web.Response:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return web.Response(text=hashlib.sha256(der).hexdigest() if der else "none")

    app = web.Application()
    app.router.add_get("/whoami", whoami)
    port = pick_port_base() + 443
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()

    async def main() -> None:
        async with AsyncExitStack() as stack:
            await serve_app(app, stack, name="test", host="0.0.0.0", port=port, tls=context)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(20)
        url = f"https://127.0.0.1:{port}/whoami"
        with_cert = curl(url, "--cert", str(peer_cert), "--key", str(peer_key))
        expected = hashlib.sha256(ssl.PEM_cert_to_DER_cert(peer_cert.read_text())).hexdigest()
        assert with_cert.body.decode() == expected
        assert curl(url).body == b"none"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()
