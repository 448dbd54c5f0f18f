"""IDLE against a real daemon: an SMTP delivery is announced as soon as it is committed
(the index feed wakes the session; issue 3 asks for about 100 ms), and a QRESYNC client
resynchronises over the wire."""

from __future__ import annotations

import time

import pytest

from tests.client_imap.conftest import ADDRESS, PASSPHRASE
from tests.helpers.daemon import Node, make_message
from tests.helpers.imap_raw import RawImap

pytestmark = pytest.mark.slow


def test_idle_hears_a_delivery_within_a_fraction_of_a_second(imap_node: Node) -> None:
    client = RawImap(imap_node.config().ports.imap)
    exists = client.login_select(ADDRESS, PASSPHRASE)
    delays = []
    for i in range(3):
        client.sock.sendall(f"i{i} IDLE\r\n".encode())
        client.until(b"+ idling\r\n")
        message = make_message(subject=f"idle {i}", body="hello\n")
        assert imap_node.send("bob@ext.test", ADDRESS, message).ok  # returns once the 250 is in: committed
        committed = time.monotonic()
        line = client.until(b" EXISTS\r\n")
        delays.append(time.monotonic() - committed)
        exists += 1
        assert line.endswith(f"* {exists} EXISTS\r\n".encode()), line
        client.sock.sendall(b"DONE\r\n")
        client.until(f"i{i} OK".encode())
        client.until(b"\r\n")
    assert min(delays) < 0.1 and max(delays) < 1.0, delays
