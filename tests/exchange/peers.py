"""Helpers of the exchange tests: start nodes until their exchange port listens, pair
them with ``mesyx peer add`` as a person would, and speak raw HTTPS to ``/sync/v1/``
(with a node's own certificate, or none) counting every byte on the wire."""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from tests.helpers.daemon import Node, NodeFactory, is_listening, wait_for

ADDRESS = "alice@mesyx.test"


def exchange_port(node: Node) -> int:
    return int(node.config().ports.exchange)


def url(node: Node) -> str:
    return f"https://127.0.0.1:{exchange_port(node)}"


def node_id(node: Node) -> str:
    return str(node.status()["node_id"])


def start(*nodes: Node) -> None:
    """Start each node and wait until its exchange listener is up."""
    for node in nodes:
        node.start()
    for node in nodes:
        wait_for(lambda n=node: is_listening(exchange_port(n)), what=f"{node.name}'s exchange port")


def peer_add(node: Node, other: Node, *extra: str, accounts: str = ADDRESS) -> None:
    """``mesyx peer add``; with ``node`` running, wait until its daemon has read the peer
    table again (about a second) and trusts the new peer's certificate."""
    other_id = node_id(other)
    node.cli("peer", "add", other_id, url(other), "--accounts", accounts, *extra, check=True)
    if node.running:
        wait_for(lambda: f"peer_started peer={other_id}" in node.log_text(), what=f"{node.name} to take the peer")


def pair(a: Node, b: Node, *, accounts: str = ADDRESS, a_role: str = "relay", b_role: str = "relay") -> None:
    """``peer add`` on both sides; ``a_role`` is the role ``a`` gives ``b``, and the reverse."""
    extra_a = ["--role", a_role, *(["--passphrase-file", str(a.passphrase_file)] if a.passphrase_file else [])]
    extra_b = ["--role", b_role, *(["--passphrase-file", str(b.passphrase_file)] if b.passphrase_file else [])]
    peer_add(a, b, *extra_a, accounts=accounts)
    peer_add(b, a, *extra_b, accounts=accounts)


def client_node(factory: NodeFactory, name: str) -> Node:
    return factory.create(name, modes=["client", "exchange"], account=ADDRESS)


def public_copy(client: Node, factory: NodeFactory, name: str, modes: list[str]) -> Node:
    """A node holding the account's public parts only (account export | account import)."""
    node = factory.create(name, modes=modes)
    export = client.cli("account", "export", ADDRESS, check=True).out
    node.cli("account", "import", "-", input=export, check=True)
    return node


def account_id(node: Node) -> str:
    rows = node.cli_json("account", "list", "--json")
    return str(rows[0]["account_id"])


@dataclass
class Exchange:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int
    received: int

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    target: Node, method: str, path: str, body: bytes = b"", *, as_node: Node | None = None,
    content_type: str = "application/json",
) -> Exchange:
    """One HTTP/1.1 request over TLS to ``target``'s exchange port, presenting ``as_node``'s
    certificate (or none), not verifying the server's (these tests are about the server's
    checks). Counts the bytes of the request and the answer as they cross the socket."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if as_node is not None:
        context.load_cert_chain(as_node.home / "tls" / "cert.pem", as_node.home / "tls" / "key.pem")
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", exchange_port(target)), timeout=20) as raw:
        with context.wrap_socket(raw) as sock:
            sock.sendall(head + body)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    header_block, _, payload = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        payload = _dechunk(payload)
    return Exchange(int(lines[0].split()[1]), headers, payload, len(head) + len(body), len(data))


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def cut_request(target: Node, path: str, body: bytes, keep: int, *, as_node: Node) -> None:
    """A request whose body stops after ``keep`` bytes of ``body`` (the connection closes):
    what a peer killed mid-push leaves behind."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(as_node.home / "tls" / "cert.pem", as_node.home / "tls" / "key.pem")
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-mesyx-sync\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", exchange_port(target)), timeout=20) as raw:
        with context.wrap_socket(raw) as sock:
            sock.sendall(head + body[:keep])


def peer_row(node: Node, other: Node) -> dict[str, Any]:
    rows = node.cli_json("peer", "list", "--json")
    return next(r for r in rows if r["node_id"] == node_id(other))
