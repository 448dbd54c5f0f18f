"""Fixtures: one real node (accept + client) per module, with imaplib clients."""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, wait_for

ADDRESS = "alice@mesyx.test"
PASSPHRASE = DEFAULT_PASSPHRASE


def unverified() -> ssl.SSLContext:
    return ssl._create_unverified_context()  # noqa: S323 - the node's self-signed certificate


@pytest.fixture(scope="module")
def imap_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root: Path = tmp_path_factory.mktemp("imap")
    factory = NodeFactory(root)
    node = factory.create("n", account=ADDRESS, modes=["accept", "client"])
    node.start()
    config = node.config()
    for port in (config.ports.imap, config.ports.imaps):
        wait_for(lambda port=port: is_listening(port), timeout=20, what=f"IMAP port {port}")
    try:
        yield node
    finally:
        factory.close()


def connect(node: Node) -> imaplib.IMAP4:
    return imaplib.IMAP4("127.0.0.1", node.config().ports.imap, timeout=30)


def connect_tls(node: Node) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL("127.0.0.1", node.config().ports.imaps, ssl_context=unverified(), timeout=30)
