"""Pairing and trust (issue 6 point 1; DESIGN.md, Keys): no CA, no trust on first use.

``peer add`` takes a descriptor only when it verifies, names the node id typed and pins
the certificate the TLS connection presented; the exchange listener admits only pinned
peers and refuses everyone else with 403 problem details (or at the TLS handshake, for a
certificate it was never given).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from mesyx.crypto.tls import generate_certificate
from tests.exchange.peers import (
    ADDRESS,
    account_id,
    client_node,
    node_id,
    pair,
    peer_add,
    peer_row,
    public_copy,
    request,
    start,
    url,
)
from tests.helpers.daemon import NodeFactory, assert_one_line_error, wait_for

pytestmark = pytest.mark.slow

HEADS = json.dumps({"vectors": {}}).encode()


def test_pair_both_ways_and_list(node_factory: NodeFactory) -> None:
    c = client_node(node_factory, "c")
    a = public_copy(c, node_factory, "a", ["accept", "exchange"])
    start(c, a)
    pair(c, a, a_role="accept")
    row = peer_row(c, a)
    assert row["address"] == url(a) and row["role"] == "accept" and row["accounts"] == [ADDRESS]
    assert peer_row(a, c)["role"] == "relay"
    # --role accept on the client signed A into the account's device list.
    wait_for(lambda: peer_row(c, a)["last_contact"] and peer_row(a, c)["last_contact"], what="first contact")
    status = c.status()
    (shown,) = status["peers"]
    assert shown["node_id"] == node_id(a) and shown["they_lack"] == 0 and shown["we_lack"] == 0, shown
    # The paired peer's own certificate is admitted: heads answers (with its shared account).
    answer = request(a, "POST", "/sync/v1/heads", HEADS, as_node=c)
    assert answer.status == 200, answer
    c.cli("peer", "remove", node_id(a), check=True)
    assert c.cli_json("peer", "list", "--json") == []
    assert_one_line_error(c.cli("peer", "remove", node_id(a)), "no peer")


def test_unpaired_and_removed_nodes_are_refused(node_factory: NodeFactory) -> None:
    c = client_node(node_factory, "c")
    b = public_copy(c, node_factory, "b", ["exchange"])
    stranger = node_factory.create("u", modes=["exchange"])
    start(c, b, stranger)
    # No client certificate at all: the descriptor is public, nothing else is.
    assert request(b, "GET", "/sync/v1/descriptor").status == 200
    for path in ("heads", "pull", "push", "wait"):
        answer = request(b, "POST", f"/sync/v1/{path}", HEADS)
        assert answer.status == 403, answer
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["status"] == 403
    # A node B never added: its certificate is no trust anchor of B's listener.
    with pytest.raises((ssl.SSLError, ConnectionError, ValueError, IndexError)):
        request(b, "POST", "/sync/v1/heads", HEADS, as_node=stranger)
    # One-sided pairing (the stranger adds B, B does not add it): its task gets nowhere
    # and records why; B holds nothing new.
    peer_add(stranger, b, accounts=account_id(c))
    wait_for(lambda: peer_row(stranger, b)["errors"] >= 1, what="the stranger's failed attempt")
    # A peer removed while the daemon runs: refused at its next request, by its certificate.
    pair(c, b)
    wait_for(lambda: peer_row(b, c)["last_contact"], what="c and b in contact")
    b.cli("peer", "remove", node_id(c), check=True)
    answer = request(b, "POST", "/sync/v1/heads", HEADS, as_node=c)
    assert answer.status == 403 and "not one of this node's peers" in answer.json()["detail"], answer


def test_peer_add_checks_the_node_id(node_factory: NodeFactory) -> None:
    c = client_node(node_factory, "c")
    b = node_factory.create("b", modes=["exchange"])
    start(b)
    other = node_id(c)  # a valid node id, but not B's
    result = c.cli("peer", "add", other, url(b), "--accounts", ADDRESS)
    assert_one_line_error(result, "not", other)
    assert c.cli_json("peer", "list", "--json") == []
    assert_one_line_error(c.cli("peer", "add", node_id(b), "http://127.0.0.1:1", "--accounts", ADDRESS),
                          "https://HOST:PORT")


class _Impostor(BaseHTTPRequestHandler):
    answer = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def impostor(tmp_path: Path) -> Iterator[tuple[HTTPServer, Path]]:
    """An HTTPS server with a certificate of its own, serving whatever ``answer`` says."""
    cert, key = tmp_path / "imp-cert.pem", tmp_path / "imp-key.pem"
    generate_certificate(cert, key, common_name="localhost")
    server = HTTPServer(("127.0.0.1", 0), _Impostor)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, cert
    finally:
        server.shutdown()
        server.server_close()


def test_a_certificate_other_than_the_pinned_one_is_refused(
    node_factory: NodeFactory, impostor: tuple[HTTPServer, Path]
) -> None:
    server, own_cert = impostor
    c = client_node(node_factory, "c")
    b = node_factory.create("b", modes=["exchange"])
    start(b)
    genuine = request(b, "GET", "/sync/v1/descriptor").json()
    address = f"https://127.0.0.1:{server.server_address[1]}"
    # B's signed descriptor and B's certificate, served over a TLS connection with another
    # key (a man in the middle holding only B's public files).
    _Impostor.answer = json.dumps(genuine).encode()
    assert_one_line_error(c.cli("peer", "add", node_id(b), address, "--accounts", ADDRESS),
                          "presented another TLS certificate")
    # B's descriptor with the impostor's own certificate: not the one the signature pins.
    _Impostor.answer = json.dumps({**genuine, "certificate": own_cert.read_text()}).encode()
    assert_one_line_error(c.cli("peer", "add", node_id(b), address, "--accounts", ADDRESS),
                          "not the one its signed descriptor pins")
    # A descriptor edited after signing (its pin swapped): the signature fails.
    forged = dict(genuine["descriptor"], tls_spki_sha256="00" * 32)
    _Impostor.answer = json.dumps({"descriptor": forged, "certificate": genuine["certificate"]}).encode()
    assert_one_line_error(c.cli("peer", "add", node_id(b), address, "--accounts", ADDRESS), "signature")
    assert c.cli_json("peer", "list", "--json") == []  # nothing was stored by any attempt


def test_sneakernet_peer_from_a_descriptor_file(node_factory: NodeFactory) -> None:
    c = client_node(node_factory, "c")
    b = node_factory.create("b", modes=["exchange"])
    c.cli("peer", "add", node_id(b), "--descriptor", b.home / "descriptor.json", "--accounts", ADDRESS, check=True)
    row = peer_row(c, b)
    assert row["address"] is None and row["accounts"] == [ADDRESS]
    assert_one_line_error(c.cli("peer", "add", node_id(c), "--descriptor", b.home / "descriptor.json",
                                "--accounts", ADDRESS), "not")


def test_a_peer_presenting_another_certificate_later_is_refused(node_factory: NodeFactory) -> None:
    """B changes its TLS key after pairing (a thief with B's address but not its key looks
    the same): C's pin no longer matches, in either direction."""
    c = client_node(node_factory, "c")
    b = public_copy(c, node_factory, "b", ["exchange"])
    start(c, b)
    pair(c, b)
    wait_for(lambda: peer_row(c, b)["last_contact"] and peer_row(b, c)["last_contact"], what="first contact")
    b.stop()
    for name in ("cert.pem", "key.pem"):
        (b.home / "tls" / name).unlink()
    generate_certificate(b.home / "tls" / "cert.pem", b.home / "tls" / "key.pem", common_name="localhost")
    start(b)
    errors = peer_row(c, b)["errors"]
    wait_for(lambda: peer_row(c, b)["errors"] > errors and "SSL" in (peer_row(c, b)["last_error"] or "").upper(),
             timeout=20, what="c refusing b's new certificate")
    with pytest.raises((ssl.SSLError, ConnectionError, ValueError, IndexError)):
        request(c, "POST", "/sync/v1/heads", HEADS, as_node=b)
